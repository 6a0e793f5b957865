"""Code-execution containers: ids, rolling expiry, paused code.

What the real API does (``ptc-wire-format.md`` §3.3, §6): a container lives at
most 30 days from creation; it goes idle about five minutes after its last use,
and every request that uses it pushes ``expires_at`` forward (a *rolling*
deadline). The emulator keeps, per container, the code executions started in it
and when each one last paused for a tool result, so it can enforce the resume
rules and the ~270 s pending-call timeout.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from .clock import Clock, rfc3339_micro
from .ids import IdFactory

DEFAULT_TTL = 300.0
"""Idle lifetime in seconds (current docs: idle about 5 minutes; older docs: 4.5)."""

DEFAULT_MAX_AGE = 30 * 24 * 3600.0
"""Hard limit in seconds from creation (30 days)."""

MAX_REMEMBERED = 100_000
"""Containers kept before expired ones are forgotten."""

DEFAULT_TOOL_RESULT_TIMEOUT = 270.0
"""Seconds a paused programmatic call waits before the code sees ``TimeoutError``."""


@dataclass
class Container:
    """One emulated container.

    Attributes:
        id: ``container_011C…``.
        created_at: creation time (epoch seconds).
        last_used: time of the last request that used it.
        ttl: idle lifetime in seconds.
        max_age: hard lifetime in seconds.
        code_runs: ``srvtoolu_…`` ids of code executions started here.
        paused_at: ``srvtoolu_…`` -> time its code last paused on tool calls.
        pending: ``toolu_…`` -> ``srvtoolu_…`` of the calls issued last.
    """

    id: str
    created_at: float
    last_used: float
    ttl: float
    max_age: float
    code_runs: set[str] = field(default_factory=set)
    paused_at: dict[str, float] = field(default_factory=dict)
    pending: dict[str, str] = field(default_factory=dict)

    @property
    def expires_at(self) -> float:
        """The rolling deadline, capped by the hard limit (epoch seconds)."""
        return min(self.last_used + self.ttl, self.created_at + self.max_age)

    def is_expired(self, now: float) -> bool:
        """Whether the container can no longer be used at ``now``."""
        return now >= self.expires_at

    def to_json(self) -> dict[str, Any]:
        """The ``container`` object of a response."""
        return {"id": self.id, "expires_at": rfc3339_micro(self.expires_at)}


class ContainerLookupError(Exception):
    """A named container cannot be used.

    Attributes:
        kind: ``"not_found"`` or ``"expired"``.
        container_id: the id the request named.
    """

    def __init__(self, kind: str, container_id: str) -> None:
        super().__init__(f"container {container_id} {kind}")
        self.kind = kind
        self.container_id = container_id


class ContainerStore:
    """All containers of one emulator; thread-safe.

    Args:
        ids: where new container ids come from.
        clock: the injected clock.
        ttl: idle lifetime in seconds.
        max_age: hard lifetime in seconds.
    """

    def __init__(
        self,
        ids: IdFactory,
        clock: Clock,
        *,
        ttl: float = DEFAULT_TTL,
        max_age: float = DEFAULT_MAX_AGE,
    ) -> None:
        if ttl <= 0 or max_age <= 0:
            raise ValueError("container ttl and max_age must be positive")
        self._ids = ids
        self._clock = clock
        self.ttl = ttl
        self.max_age = max_age
        self._containers: dict[str, Container] = {}
        self._lock = threading.Lock()

    def new(self) -> Container:
        """Make a container that is not stored yet (see :meth:`add`)."""
        now = self._clock()
        return Container(
            id=self._ids.container(),
            created_at=now,
            last_used=now,
            ttl=self.ttl,
            max_age=self.max_age,
        )

    def add(self, container: Container) -> None:
        """Store a container made by :meth:`new`.

        Expired containers are remembered (a request naming one gets the expiry
        error, not 404) until more than :data:`MAX_REMEMBERED` are stored; then
        the expired ones are forgotten, so long benchmark runs stay bounded.
        """
        with self._lock:
            self._containers[container.id] = container
            if len(self._containers) > MAX_REMEMBERED:
                now = self._clock()
                self._containers = {
                    k: c for k, c in self._containers.items() if not c.is_expired(now)
                }

    def lookup(self, container_id: str) -> Container:
        """Return the live container ``container_id``.

        Raises:
            ContainerLookupError: ``not_found`` if it never existed here,
                ``expired`` if its deadline has passed.
        """
        with self._lock:
            container = self._containers.get(container_id)
        if container is None:
            raise ContainerLookupError("not_found", container_id)
        if container.is_expired(self._clock()):
            raise ContainerLookupError("expired", container_id)
        return container

    def touch(self, container: Container) -> None:
        """Record a use now, which pushes the rolling deadline forward."""
        with self._lock:
            container.last_used = max(container.last_used, self._clock())

    def get(self, container_id: str) -> Container | None:
        """The container ``container_id`` whether expired or not, or ``None``."""
        with self._lock:
            return self._containers.get(container_id)

    def live(self) -> list[Container]:
        """Containers not expired at the current time."""
        now = self._clock()
        with self._lock:
            return [c for c in self._containers.values() if not c.is_expired(now)]

    def __len__(self) -> int:
        with self._lock:
            return len(self._containers)
