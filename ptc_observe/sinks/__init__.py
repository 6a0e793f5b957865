"""Deprecated path: the sinks moved to :mod:`ptc_observe.observer.sinks`.

``ptc_observe.sinks``, ``ptc_observe.sinks.prometheus`` and ``ptc_observe.sinks.otel`` still
import (with a :class:`DeprecationWarning`) and give the very same objects. This package
stays a package of its own (rather than an alias) so that its two submodules resolve to
the new modules instead of being loaded a second time.
"""

from __future__ import annotations

from typing import Any

from .._moved import moved

_new = moved(__name__, alias=False)
__all__ = list(_new.__all__)


def __getattr__(name: str) -> Any:
    return getattr(_new, name)
