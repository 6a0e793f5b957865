"""Fixtures of the report tests: the hand-written snapshot with the contract's cost families."""

from __future__ import annotations

import os
import shutil
from datetime import datetime, timezone
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SNAPSHOT = DATA / "cost_metrics.prom"
# process_start_time_seconds of the snapshot, and one day later: its modification time.
STARTED = 1.77e9
TAKEN = STARTED + 86400


@pytest.fixture
def snapshot_file(tmp_path: Path) -> Path:
    """A copy of the snapshot whose modification time is one day after its process started."""
    path = tmp_path / "metrics.prom"
    shutil.copyfile(SNAPSHOT, path)
    os.utime(path, (TAKEN, TAKEN))
    return path


@pytest.fixture
def now() -> datetime:
    """A fixed 'now', after the snapshot was taken."""
    return datetime.fromtimestamp(TAKEN + 3600, tz=timezone.utc)
