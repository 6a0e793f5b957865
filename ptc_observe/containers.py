"""Deprecated path: this module moved to :mod:`ptc_observe.observer.correlator`."""

from __future__ import annotations

from ._moved import moved

moved(__name__)
