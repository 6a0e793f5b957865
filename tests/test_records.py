"""_records: the generated builders make exactly what the records' own constructors make."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from ptc_observe import events
from ptc_observe._records import builder, evolve, positional, slot_setters
from ptc_observe.events import Exchange, Outcome, RequestFacts, Timings

RECORDS = [
    cls
    for cls in vars(events).values()
    if isinstance(cls, type)
    and dataclasses.is_dataclass(cls)
    and cls.__module__ == events.__name__
]


def sample(cls: type) -> dict[str, Any]:
    """A distinct value for every field (identity objects, so mix-ups show)."""
    return {f.name: object() for f in dataclasses.fields(cls)}


def as_dict(record: Any) -> dict[str, Any]:
    return {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}


def test_every_record_is_covered() -> None:
    """The records of events.py are the frozen slotted dataclasses these builders need."""
    assert {c.__name__ for c in RECORDS} >= {
        "Exchange",
        "RequestFacts",
        "Timings",
        "RateLimit",
        "ContainerSighting",
        "ToolTurnaround",
        "ToolUse",
    }


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_builders_equal_the_constructor(cls: type) -> None:
    """Keyword and positional builders set every field as ``cls(...)`` does."""
    values = sample(cls)
    reference = cls(**values)
    built: Any = builder(cls)(**values)
    placed: Any = positional(cls)(*values.values())
    for record in (built, placed):
        assert type(record) is cls
        assert as_dict(record) == as_dict(reference)
        with pytest.raises(dataclasses.FrozenInstanceError):
            record.__setattr__(next(iter(values)), 1)


def test_builder_defaults_are_the_records_defaults() -> None:
    """Omitted fields take the dataclass defaults."""
    request = RequestFacts("POST", "/v1/messages", "api.anthropic.com", 443)
    timings = Timings(0.0, 1.0, 5)
    args = dict(
        id=1,
        request=request,
        timings=timings,
        outcome=Outcome.OK,
        streamed=False,
        complete=True,
    )
    assert builder(Exchange)(**args) == Exchange(**args)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        builder(Exchange)(id=1)  # required fields stay required
    with pytest.raises(TypeError):
        builder(Exchange)(**args, nope=1)


def test_evolve_equals_replace() -> None:
    """evolve() is dataclasses.replace for Exchange, and refuses unknown names."""
    ex = Exchange(
        id=1,
        request=RequestFacts("POST", "/v1/messages", "h", None),
        timings=Timings(0.0, 1.0, 5),
        outcome=Outcome.OK,
        streamed=False,
        complete=True,
    )
    assert evolve(ex, answers=(3,), span_id=9) == dataclasses.replace(
        ex, answers=(3,), span_id=9
    )
    with pytest.raises(KeyError):
        evolve(ex, nope=1)


def test_records_the_builders_cannot_make_are_refused() -> None:
    """Unslotted, __post_init__, _-prefixed fields, default factories: TypeError at once."""

    @dataclasses.dataclass(frozen=True)
    class Unslotted:
        a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Checked:
        a: int

        def __post_init__(self) -> None:
            pass

    @dataclasses.dataclass(frozen=True, slots=True)
    class Hidden:
        _a: int

    @dataclasses.dataclass(frozen=True, slots=True)
    class Factory:
        a: tuple[int, ...] = dataclasses.field(default_factory=tuple)

    for cls in (Unslotted, Checked):
        with pytest.raises(TypeError):
            slot_setters(cls)
    with pytest.raises(TypeError):
        positional(Hidden)
    with pytest.raises(TypeError):
        builder(Factory)
