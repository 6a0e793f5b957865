"""Bounded label values: every distinct label combination is a new time series.

Model names and tool names come from traffic, so a misbehaving client (or an attacker
choosing model strings) could create unbounded series. :class:`BoundedValues` admits the
first ``max_values`` distinct values and folds every later newcomer into ``_other``.
"""

from __future__ import annotations

import threading

from ._semconv import OTHER_LABEL_VALUE

__all__ = ["BoundedValues"]


class BoundedValues:
    """A set of admitted label values that stops growing at ``max_values``.

    Values already admitted pass unchanged; the empty string (unknown) always passes and
    does not count. Admission is first come, first served and never revoked, so a series
    never changes name halfway.

    Args:
        max_values: how many distinct values to admit before folding into ``other``.
        other: the value newcomers are folded into.
    """

    __slots__ = ("_lock", "_seen", "max_values", "other", "overflowed")

    def __init__(self, max_values: int, other: str = OTHER_LABEL_VALUE) -> None:
        if max_values < 0:
            raise ValueError("max_values must be >= 0")
        self.max_values = max_values
        self.other = other
        self.overflowed = 0
        """How many values were folded into ``other`` (counting repeats)."""
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def __call__(self, value: str | None) -> str:
        """The label value to use for ``value`` (``None`` reads as the empty string)."""
        if not value:
            return ""
        # Fast path without the lock: set membership is atomic in CPython.
        if value in self._seen:
            return value
        with self._lock:
            if value in self._seen:
                return value
            if len(self._seen) < self.max_values:
                self._seen.add(value)
                return value
            self.overflowed += 1
            return self.other

    def __len__(self) -> int:
        """How many distinct values were admitted."""
        return len(self._seen)

    def __contains__(self, value: object) -> bool:
        """Whether ``value`` was admitted."""
        return value in self._seen
