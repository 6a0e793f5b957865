"""Seeded identifiers shaped like the API's.

Recorded ids (see ``ptc-wire-format.md`` §2.5, §3.1) are a prefix, a version
marker (``01`` or ``011C``) and base62 characters. The emulator draws the
random part from one :class:`random.Random` seeded once, so the same seed and
the same request sequence give the same ids. Nothing else draws from this
generator: chunk sizes and fault dice use their own derived generators, which
keeps ids identical between a streamed and a non-streamed run.
"""

from __future__ import annotations

import random
import string
import threading

BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase


class IdFactory:
    """Make message, request, tool-use, server-tool-use and container ids.

    Args:
        seed: seed of the random generator; equal seeds give equal id sequences.
    """

    def __init__(self, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def _random(self, prefix: str, length: int) -> str:
        with self._lock:
            tail = "".join(self._rng.choices(BASE62, k=length))
        return prefix + tail

    def message(self) -> str:
        """A message id, e.g. ``msg_011CZq7S3aVbN6uPq1WcE8Dk``."""
        return self._random("msg_011C", 20)

    def request(self) -> str:
        """A request id for the ``request-id`` header and error bodies (``req_011C…``)."""
        return self._random("req_011C", 20)

    def tool_use(self) -> str:
        """A ``tool_use`` block id (``toolu_01…``)."""
        return self._random("toolu_01", 22)

    def server_tool_use(self) -> str:
        """A ``server_tool_use`` block id (``srvtoolu_01…``)."""
        return self._random("srvtoolu_01", 22)

    def container(self) -> str:
        """A code-execution container id (``container_011C…``)."""
        return self._random("container_011C", 20)
