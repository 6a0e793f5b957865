"""Old module paths kept working after the regroup into the observer and client wings.

``ptc_observe.transport`` and its siblings moved into :mod:`ptc_observe.observer` and
:mod:`ptc_observe.client`. Importing an old path still works, gives the very same module
object as the new path (so patching either patches both), and warns once with a
:class:`DeprecationWarning` that names the new path. The old paths will be removed in a
future minor release, announced in the CHANGELOG.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from types import ModuleType

__all__ = ["MOVED", "moved"]

#: old module path -> new module path
MOVED: dict[str, str] = {
    "ptc_observe.transport": "ptc_observe.observer.transport",
    "ptc_observe.recorder": "ptc_observe.observer.recorder",
    "ptc_observe.containers": "ptc_observe.observer.correlator",
    "ptc_observe.exposition": "ptc_observe.observer.exposition",
    "ptc_observe.sinks": "ptc_observe.observer.sinks",
    "ptc_observe.sinks.prometheus": "ptc_observe.observer.sinks.prometheus",
    "ptc_observe.sinks.otel": "ptc_observe.observer.sinks.otel",
    "ptc_observe.tools": "ptc_observe.client.tools",
    "ptc_observe.errors": "ptc_observe.client.errors",
}


def moved(old: str, *, alias: bool = True) -> ModuleType:
    """Warn that ``old`` moved and return the new module.

    With ``alias`` (modules), the new module also takes the old one's place in
    ``sys.modules``; a package whose submodules moved too keeps its own entry.
    """
    new = MOVED[old]
    warnings.warn(
        f"{old} moved to {new}; import from there or from ptc_observe. "
        "The old path will be removed in a future release.",
        DeprecationWarning,
        stacklevel=3,
    )
    module = importlib.import_module(new)
    if alias:
        sys.modules[old] = module
    return module
