"""scripts/setup: installs prometheus/promtool once, and is a quick no-op afterwards."""

from __future__ import annotations

import pytest

from .helpers import run


@pytest.mark.prometheus
def test_setup_is_a_no_op_when_installed(promtool: object) -> None:
    """With promtool present, scripts/setup exits 0 without touching apt (no update, no install)."""
    result = run("bash", "scripts/setup", timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "already installed" in result.stdout
    assert "apt-get" not in result.stdout + result.stderr
