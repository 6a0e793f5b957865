"""Building the frozen records of :mod:`ptc_observe.events` at a fraction of their cost.

The records are frozen, slotted dataclasses. Their generated ``__init__`` sets each field
with ``object.__setattr__`` (the frozen ``__setattr__`` refuses), which costs about as much
as a Python call per field: ~1 us for a 6-field ContainerSighting, ~10 us for the 25-field
Exchange on the benchmark machine, and the pipeline builds several per exchange. Setting
the slots through their member descriptors, in generated straight-line code, builds the
same object in about half the time. This is what ``dataclasses`` itself does (it generates
``__init__`` with ``exec``); here the generated functions only skip the frozen check.

Valid only for slotted dataclasses without ``__post_init__`` and without field names
starting with ``_`` (checked when a function is generated, so a future field that breaks
the rule fails at import, not silently). Tests compare every builder with the record's own
constructor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, TypeVar

from .events import Exchange

__all__ = ["builder", "evolve", "positional", "slot_setters"]

T = TypeVar("T")


def slot_setters(cls: type) -> dict[str, Callable[[Any, Any], None]]:
    """The ``__set__`` of each field's slot descriptor, in field order.

    Raises:
        TypeError: ``cls`` is not a slotted dataclass without ``__post_init__``.
    """
    if not dataclasses.is_dataclass(cls) or hasattr(cls, "__post_init__"):
        raise TypeError(f"{cls.__name__} cannot be built slot by slot")
    setters = {}
    for f in dataclasses.fields(cls):
        descriptor = cls.__dict__.get(f.name)
        if descriptor is None or not hasattr(descriptor, "__set__"):
            raise TypeError(f"{cls.__name__}.{f.name} is not a slot")
        setters[f.name] = descriptor.__set__
    return setters


def _compile(
    name: str,
    params: str,
    cls: type,
    values: dict[str, str],
    namespace: dict[str, Any] | None = None,
) -> Any:
    """``def name(params)`` returning a new ``cls`` whose field ``f`` is ``values[f]``."""
    setters = slot_setters(cls)
    if any(f.startswith("_") for f in setters):
        raise TypeError(f"{cls.__name__}: a field name could shadow the helpers")
    scope: dict[str, Any] = {"_new": object.__new__, "_cls": cls, **(namespace or {})}
    lines = [f"def {name}({params}):", "    _o = _new(_cls)"]
    for i, (field_name, setter) in enumerate(setters.items()):
        scope[f"_s{i}"] = setter
        lines.append(f"    _s{i}(_o, {values[field_name]})")
    lines.append("    return _o")
    # Only field names from dataclasses.fields() (none starts with "_", unlike every
    # helper name) and our own parameter names reach the source.
    exec("\n".join(lines) + "\n", scope)
    return scope[name]


def positional(cls: type[T]) -> Callable[..., T]:
    """A constructor of ``cls`` taking every field positionally, in field order."""
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    made: Callable[..., T] = _compile(
        "make", ", ".join(names), cls, {n: n for n in names}
    )
    return made


def builder(cls: type[T]) -> Callable[..., T]:
    """A keyword-only constructor of ``cls`` with the same defaults as ``cls(...)``.

    Raises:
        TypeError: a field has a ``default_factory`` (not needed by the records).
    """
    params = []
    defaults: dict[str, Any] = {}
    for i, f in enumerate(dataclasses.fields(cls)):  # type: ignore[arg-type]
        if f.default_factory is not dataclasses.MISSING:
            raise TypeError(f"{f.name}: default factories are not supported")
        if f.default is dataclasses.MISSING:
            params.append(f.name)
        else:
            defaults[f"_d{i}"] = f.default
            params.append(f"{f.name}=_d{i}")
    names = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    made: Callable[..., T] = _compile(
        "make", "*, " + ", ".join(params), cls, {n: n for n in names}, defaults
    )
    return made


_FIELDS = tuple(f.name for f in dataclasses.fields(Exchange))
_FIELD_SET = frozenset(_FIELDS)
# One copier per set of changed fields, generated on first use: it reads the unchanged
# fields straight from the original into the new record's slots.
_COPIERS: dict[tuple[str, ...], Callable[..., Exchange]] = {}


def copier(names: tuple[str, ...]) -> Callable[..., Exchange]:
    """``copy(ex, *values)``: a copy of an Exchange with the fields ``names`` replaced.

    Raises:
        KeyError: a name is not a field of :class:`Exchange`.
    """
    fn = _COPIERS.get(names)
    if fn is not None:
        return fn
    unknown = [n for n in names if n not in _FIELD_SET]
    if unknown:
        raise KeyError(unknown[0])
    args = [f"_v{i}" for i in range(len(names))]
    values = {f: f"ex.{f}" for f in _FIELDS}
    values.update(zip(names, args, strict=True))
    made: Callable[..., Exchange] = _compile(
        "copy", ", ".join(["ex", *args]), Exchange, values
    )
    _COPIERS[names] = made
    return made


def evolve(ex: Exchange, **changes: Any) -> Exchange:
    """A copy of ``ex`` with ``changes``; ``dataclasses.replace`` at a fraction of the cost.

    Raises:
        KeyError: a name in ``changes`` is not a field of :class:`Exchange`.
    """
    copy = _COPIERS.get(tuple(changes))
    if copy is None:
        copy = copier(tuple(changes))
    return copy(ex, *changes.values())
