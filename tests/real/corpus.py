"""Where the real recorded Messages API traffic is, and how each body was served.

The bodies are read from every folder that holds some (deduplicated by content):
``tests/data/real`` (copies kept in the repository), the shared set beside the repository
(``../shared/fixtures/real``, see its PROVENANCE.md) and any folders named in the
``PTC_REAL_FIXTURES`` environment variable (``os.pathsep``-separated), so more recordings of
the same kinds replay without a code change. ``NAME.json`` is served as
``application/json``, ``NAME.sse`` as ``text/event-stream``; ``NAME.request.json`` is the
request body the recording kept.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
_FOLDERS = (
    _ROOT / "tests" / "data" / "real",
    _ROOT.parent / "shared" / "fixtures" / "real",
    Path("/work/shared/fixtures/real"),
)
# The HTTP status an error body was served with: from the file name (error_429_...),
# else from the API's error type (https://docs.anthropic.com/en/api/errors).
_STATUS_IN_NAME = re.compile(r"(?:^|_)([45]\d\d)(?:_|$)")
_STATUS_OF_TYPE = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


@dataclass(frozen=True)
class Recording:
    """One recorded response body, with the request body when it was kept."""

    name: str
    body: bytes
    stream: bool
    request: bytes | None

    @property
    def status(self) -> int:
        """The HTTP status it was served with (200 unless it is an error body)."""
        if self.stream:
            return 200
        obj = json.loads(self.body)
        if not isinstance(obj, dict) or obj.get("type") != "error":
            return 200
        found = _STATUS_IN_NAME.search(self.name)
        if found:
            return int(found.group(1))
        error = obj.get("error")
        kind = error.get("type") if isinstance(error, dict) else None
        return _STATUS_OF_TYPE.get(kind, 500) if isinstance(kind, str) else 500

    @property
    def content_type(self) -> str:
        return "text/event-stream" if self.stream else "application/json"


def folders() -> list[Path]:
    extra = os.environ.get("PTC_REAL_FIXTURES", "")
    found = [Path(p) for p in extra.split(os.pathsep) if p]
    found += [f for f in _FOLDERS if f.is_dir()]
    return found


SYNTHETIC = _ROOT / "tests" / "data" / "wire2026"
"""Handwritten bodies of the 2026 shapes the recordings lack (see its README.md)."""


def recordings(where: list[Path] | None = None) -> list[Recording]:
    """Every response body of ``where`` (default: the recorded ones), once each, by name."""
    seen: set[str] = set()
    out: list[Recording] = []
    for folder in folders() if where is None else where:
        for path in sorted(folder.iterdir()):
            name = path.name
            if name.endswith(".request.json") or path.suffix not in (".json", ".sse"):
                continue
            body = path.read_bytes()
            digest = hashlib.sha256(body).hexdigest()
            if digest in seen:
                continue
            seen.add(digest)
            stem = name.rsplit(".", 1)[0]
            request_path = path.with_name(stem + ".request.json")
            out.append(
                Recording(
                    name=name,
                    body=body,
                    stream=path.suffix == ".sse",
                    request=request_path.read_bytes()
                    if request_path.is_file()
                    else None,
                )
            )
    out.sort(key=lambda r: r.name)
    return out
