"""ptc_observe benchmark suite: run it with ``scripts/bench`` (or ``python -m bench``)."""

from __future__ import annotations
