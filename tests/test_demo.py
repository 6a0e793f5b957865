"""``ptc-observe demo``: the README's first command, run to its summary."""

from __future__ import annotations

import math
import re
import shutil
import subprocess
import sys

import pytest

from ptc_observe.cli import main as cli_main
from ptc_observe.demo import main
from ptc_observe.demo.summary import histogram_quantile


class TestDemo:
    def test_runs_to_a_summary_that_matches_the_emulator(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A short run prints the emulated banner, progress-free output and a summary whose tool
        calls equal what the emulator says it sent."""
        assert (
            main(
                [
                    "--duration",
                    "4",
                    "--rate",
                    "6",
                    "--port",
                    "0",
                    "--quiet",
                    "--seed",
                    "3",
                ]
            )
            == 0
        )
        out = capsys.readouterr().out
        assert out.startswith("Traffic is EMULATED")
        assert re.search(r"^metrics\s+http://127\.0\.0\.1:\d+/metrics$", out, re.M)
        match = re.search(
            r"tool calls\s+(\d+)\s+\(programmatic (\d+), direct (\d+)", out
        )
        assert match is not None
        total, programmatic, direct = map(int, match.groups())
        assert total == programmatic + direct > 0
        assert "matches the metrics" in out
        assert re.search(r"^exchanges\s+\d+\s+\(ok \d+", out, re.M)
        assert re.search(r"^latency\s+p50 \d+ ms", out, re.M)

    def test_rejects_a_bad_rate(self, capsys: pytest.CaptureFixture[str]) -> None:
        """A non-positive rate is a usage error with a message, not a crash."""
        assert main(["--rate", "0"]) == 2
        assert "--rate" in capsys.readouterr().err

    def test_port_in_use_is_a_clear_error(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A taken /metrics port is reported with the address, exit code 2."""
        import socket

        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            assert main(["--duration", "0", "--port", str(port)]) == 2
        assert f"127.0.0.1:{port}" in capsys.readouterr().err

    def test_cli_dispatches_to_the_demo(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`ptc-observe demo --help` reaches the demo's own options."""
        with pytest.raises(SystemExit) as exit_info:
            cli_main(["demo", "--help"])
        assert exit_info.value.code == 0
        out = capsys.readouterr().out
        for option in ("--duration", "--rate", "--seed", "--port", "--forever"):
            assert option in out

    def test_console_script_runs(self) -> None:
        """The installed `ptc-observe` console script runs the demo to its summary."""
        script = shutil.which("ptc-observe")
        command = [script] if script else [sys.executable, "-m", "ptc_observe"]
        done = subprocess.run(
            [*command, "demo", "--duration", "2", "--port", "0", "--quiet"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "summary after" in done.stdout


class TestHistogramQuantile:
    def test_interpolates_inside_the_bucket(self) -> None:
        """Rank 50 of 100 in bucket (0.1, 0.2] holding 40..80 lands a quarter of the way in."""
        buckets = {0.1: 40.0, 0.2: 80.0, math.inf: 100.0}
        assert histogram_quantile(0.5, buckets) == pytest.approx(0.125)

    def test_top_bucket_answers_the_highest_finite_bound(self) -> None:
        """A rank in the +Inf bucket gives the highest finite bound, as PromQL does."""
        assert histogram_quantile(0.99, {0.1: 10.0, math.inf: 100.0}) == 0.1

    def test_empty_histogram_has_no_quantile(self) -> None:
        """No observations: no estimate."""
        assert histogram_quantile(0.5, {0.1: 0.0, math.inf: 0.0}) is None
