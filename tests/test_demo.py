"""``ptc-observe demo``: the README's first command, run to its summary."""

from __future__ import annotations

import itertools
import math
import re
import shutil
import subprocess
import sys

import pytest

from ptc_observe.cli import main as cli_main
from ptc_observe.demo import injected, main
from ptc_observe.demo.schedule import schedule
from ptc_observe.demo.summary import (
    Labels,
    Snapshot,
    histogram_quantile,
    progress_line,
    render,
)
from ptc_observe.demo.workload import FAULTS, Job, JobResult
from ptc_observe.emulator import EmulatorServer, builtin_scenarios


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
        # Spend and runs by mode, read back from /metrics and checked against the ledger.
        assert re.search(r"^spend\s+\$\d+\.\d{4}: input \$", out, re.M)
        assert re.search(r"^price data\s+.*genai-prices", out, re.M)
        assert re.search(r"^  programmatic\s+[1-9]\d*\s", out, re.M)
        assert "EMULATED traffic" in out and "seed's claims" in out
        assert re.search(r"^saved \(ESTIMATE\)", out, re.M)
        assert re.search(r"token spend .* at the same prices: matches$", out, re.M)
        assert re.search(r"the ledger counted .*: matches the metrics$", out, re.M)

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


def _short_run(capsys: pytest.CaptureFixture[str], *extra: str) -> str:
    assert (
        main(["--duration", "2", "--rate", "8", "--port", "0", "--quiet", *extra]) == 0
    )
    return capsys.readouterr().out


def _line(out: str, head: str) -> str:
    match = re.search(rf"^{head}\s.*$", out, re.M)
    assert match is not None, out
    return match.group(0)


class TestSeed:
    def test_same_seed_same_plan(self) -> None:
        """The plan (scenario, caller, client, stream, fault, arrival, reuse, dice) is a
        function of the seed and the rate alone; another seed gives another plan."""
        scenarios = [s for s in builtin_scenarios() if s.prompt]

        def first(seed: int) -> list[tuple[object, ...]]:
            plan = schedule(scenarios, seed, 4.0)
            return [
                (p.job.label, p.at, p.reuse_of, p.seed)
                for p in itertools.islice(plan, 200)
            ]

        assert first(7) == first(7)
        assert first(7) != first(8)

    def test_two_runs_with_one_seed_count_the_same(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """Two runs with the same seed start the same tasks and count the same exchanges,
        tool calls (by caller and by tool), code executions and containers. (Tokens are left
        out: which of two concurrent tasks writes the prompt cache is timing.)"""
        runs = [_short_run(capsys, "--seed", "5") for _ in range(2)]
        for head in (
            "tasks",
            "exchanges",
            "tool calls",
            "by tool",
            "code executions",
            "  by variant",
            "server tools",
            "containers",
        ):
            assert _line(runs[0], head) == _line(runs[1], head), head

    def test_help_says_what_a_seed_cannot_fix(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`--help` says what the seed fixes and what it cannot (timing)."""
        with pytest.raises(SystemExit):
            main(["--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "cannot fix timing" in out
        assert "same tasks" in out


class TestRemoteEmulator:
    def test_ground_truth_from_a_running_emulator(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """With --emulator-url the ground-truth line reads that emulator's ledger (before and
        after the run) and matches the metrics, though the emulator served traffic before."""
        with EmulatorServer(seed=1) as server:
            first = _short_run(capsys, "--emulator-url", server.url, "--seed", "2")
            assert "matches the metrics" in _line(first, "ground truth")
            assert (
                "code-execution results by variant and outcome: match the metrics"
                in first
            )
            again = _short_run(capsys, "--emulator-url", server.url, "--seed", "3")
        line = _line(again, "ground truth")
        assert "matches the metrics" in line
        assert f"ledger of the emulator at {server.url}" in again

    def test_a_server_without_a_ledger_is_said(
        self, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A URL that answers but has no /_emulator/stats: the line says why it is not checked
        (and the tasks, which fail against it, make the exit code 1)."""
        import http.server
        import threading

        class NotFound(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_error(404)

            def do_POST(self) -> None:
                self.send_error(404)

            def log_message(self, format: str, *args: object) -> None:
                pass

        with http.server.ThreadingHTTPServer(("127.0.0.1", 0), NotFound) as httpd:
            thread = threading.Thread(target=httpd.serve_forever, daemon=True)
            thread.start()
            url = f"http://127.0.0.1:{httpd.server_address[1]}"
            code = main(
                ["--emulator-url", url, "--duration", "0.5", "--port", "0", "--quiet"]
            )
            httpd.shutdown()
        out = capsys.readouterr().out
        assert "ground truth     not checked:" in out
        assert "no ledger at /_emulator/stats" in out
        assert code == 1
        assert "failed WITHOUT an injected fault" in out


class TestFailureWording:
    def _result(self, fault: str | None, error: str) -> JobResult:
        scenario = next(s for s in builtin_scenarios() if s.prompt)
        job = Job(scenario=scenario, programmatic=True, use_async=False, fault=fault)
        return JobResult(job=job, ok=False, error=error)

    def test_only_injected_faults_are_as_injected(self) -> None:
        """A failure counts as injected only for a fault that fails tasks, with its error."""
        assert injected(self._result("stream_cut", "RemoteProtocolError"))
        assert injected(self._result("stream_error", "APIStatusError"))
        assert not injected(self._result(None, "APIConnectionError"))
        assert not injected(self._result("rate_limit", "RateLimitError"))
        assert not injected(self._result("stream_error", "AuthenticationError"))
        assert set(FAULTS) >= {"stream_cut", "stream_error"}


class TestSummaryWording:
    def test_one_task_running_is_singular(self) -> None:
        """The progress line says "1 task running", "2 tasks running"."""
        assert progress_line(1.0, Snapshot(), 1).endswith(" 1 task running")
        assert progress_line(1.0, Snapshot(), 2).endswith(" 2 tasks running")

    def test_errors_are_grouped_and_code_errors_explained(self) -> None:
        """API error types, HTTP statuses of retried attempts and connection errors are on
        separate lines; code-execution errors say they are not failed tasks."""
        errors: dict[Labels, float] = {
            (("error_type", "rate_limit_error"),): 2.0,
            (("error_type", "429"),): 3.0,
            (("error_type", "RemoteProtocolError"),): 1.0,
        }
        code: dict[Labels, float] = {
            (("outcome", "error"),): 1.0,
            (("outcome", "success"),): 4.0,
        }
        snap = Snapshot({"ptc_errors_total": errors, "ptc_code_executions_total": code})
        lines = render(snap)
        text = "\n".join(lines)
        assert "errors           API error types: rate_limit_error 2" in text
        assert "HTTP status of retried attempts (body not read): 429 3" in text
        assert "connection or stream: RemoteProtocolError 1" in text
        code_line = next(line for line in lines if line.startswith("code executions"))
        assert "not a failed task" in code_line
