"""Where the real recorded Messages API traffic is: ``../shared/fixtures/real`` beside the repo."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

_ROOT = Path(__file__).resolve().parents[2]
_CANDIDATES = (
    _ROOT.parent / "shared" / "fixtures" / "real",
    Path("/work/shared/fixtures/real"),
)


def real_dir() -> Path:
    """The folder of real recorded bodies (it must exist: the tests replay it)."""
    for candidate in _CANDIDATES:
        if (candidate / "PROVENANCE.md").is_file():
            return candidate
    raise FileNotFoundError(f"real fixtures not found in any of {_CANDIDATES}")


def real_messages() -> list[tuple[str, dict[str, Any]]]:
    """(name, body) of every recorded JSON response that is a message with usage."""
    out = []
    for path in sorted(real_dir().glob("*.json")):
        if path.name.endswith(".request.json"):
            continue
        body = json.loads(path.read_bytes())
        if body.get("type") == "message" and body.get("usage") is not None:
            out.append((path.name, body))
    return out
