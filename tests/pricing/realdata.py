"""The real recorded responses that carry a message with usage (JSON bodies and streams)."""

from __future__ import annotations

import json
from typing import Any

from real.corpus import Recording, recordings

from ptc_observe.wire.accumulate import accumulate, iter_events


def message_of(recording: Recording) -> dict[str, Any] | None:
    """The response message as JSON (a stream accumulated), or ``None`` for other bodies."""
    if recording.stream:
        message = accumulate(iter_events(recording.body))
        body: Any = message.model_dump(mode="json", exclude_none=True)
    else:
        body = json.loads(recording.body)
    if not isinstance(body, dict) or body.get("type") != "message":
        return None
    if not body.get("model") or body.get("usage") is None:
        return None
    return body


def real_messages() -> list[tuple[Recording, dict[str, Any]]]:
    """(recording, message) of every recorded response that is a message with usage."""
    out = []
    for recording in recordings():
        body = message_of(recording)
        if body is not None:
            out.append((recording, body))
    return out


REAL = real_messages()
IDS = [r.name for r, _ in REAL]
