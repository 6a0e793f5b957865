"""``ptc-observe report`` on the command line: output, HTML file, errors and exit statuses."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from ptc_observe.cli import main


def test_prints_the_report(
    snapshot_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--metrics FILE`` prints the text report and exits 0."""
    assert main(["report", "--metrics", str(snapshot_file)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ptc-observe report: spend and PTC savings")
    assert "claude-sonnet-4-5" in out


def test_writes_html(
    snapshot_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--html FILE`` writes the page and says where."""
    page = tmp_path / "report.html"
    assert main(["report", "--metrics", str(snapshot_file), "--html", str(page)]) == 0
    assert page.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert f"HTML report written to {page}" in capsys.readouterr().out


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "status", "message"),
    [
        (
            ["--prometheus", "http://127.0.0.1:{port}"],
            1,
            "cannot reach Prometheus at http://127.0.0.1:",
        ),
        (["--prometheus", "localhost:9090"], 1, "give an http:// or https:// URL"),
        (["--metrics", "{tmp}/missing.prom"], 1, "cannot read"),
        (["--metrics", "{tmp}/foreign.prom"], 3, "no ptc_observe cost or run metrics"),
        (
            ["--metrics", "{snap}", "--range", "1h"],
            2,
            "--range: only with --prometheus",
        ),
        (
            ["--metrics", "{snap}", "--selector", 'job="x"'],
            2,
            "--selector: only with --prometheus",
        ),
        (
            [
                "--prometheus",
                "http://127.0.0.1:{port}",
                "--since",
                "2h",
                "--until",
                "3h",
            ],
            2,
            "empty or reversed",
        ),
        (
            ["--prometheus", "http://127.0.0.1:{port}", "--range", "a day"],
            2,
            "not a duration",
        ),
        (["--metrics", "{snap}", "--timeout", "0"], 2, "--timeout must be positive"),
        (
            ["--metrics", "{snap}", "--html", "{tmp}/no/such/dir/r.html"],
            1,
            "cannot write",
        ),
    ],
)
def test_errors_are_clear_and_non_zero(
    args: list[str],
    status: int,
    message: str,
    snapshot_file: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Each failure prints one error line on stderr and exits with its own status."""
    (tmp_path / "foreign.prom").write_text("up 1\n")
    values = {"port": _closed_port(), "tmp": tmp_path, "snap": snapshot_file}
    assert main(["report", *(a.format(**values) for a in args)]) == status
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("ptc-observe report: error: ")
    assert message in captured.err
    assert "Traceback" not in captured.err


def test_needs_a_source(capsys: pytest.CaptureFixture[str]) -> None:
    """Neither --prometheus nor --metrics: argparse's usage error, status 2."""
    with pytest.raises(SystemExit) as exit_info:
        main(["report"])
    assert exit_info.value.code == 2
    assert (
        "one of the arguments --prometheus --metrics is required"
        in capsys.readouterr().err
    )


def test_console_script_runs_it(snapshot_file: Path) -> None:
    """``python -m ptc_observe report`` runs in a fresh interpreter."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "ptc_observe",
            "report",
            "--metrics",
            str(snapshot_file),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "PROGRAMMATIC VS DIRECT" in done.stdout
