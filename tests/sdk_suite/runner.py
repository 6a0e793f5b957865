"""Run the official SDK's own tests plainly and through ptc_observe's transport, and compare.

The tests come from the installed ``anthropic`` version's source distribution on PyPI
(``pip download --no-deps --no-binary :all: anthropic==<version>``), unpacked once into a
cache directory (``$PTC_SDK_SUITE_CACHE``, default ``~/.cache/ptc_observe/sdk-suite``);
nothing of the SDK is kept in this repository. Their own test dependencies (respx,
pytest-asyncio, time-machine, http-snapshot, pytest-xdist) come with our ``dev`` extra.

Each run is a pytest subprocess in the unpacked distribution, with the SDK's own options
(``-p tests._alias_httpx``, its asyncio mode) and our plugin
(:mod:`ptc_sdk_suite_plugin`), which records every test's outcome and, in the observed
run, wraps every httpx2 client's transport.

    python -m tests.sdk_suite.runner              # the representative part (as the test)
    python -m tests.sdk_suite.runner --all -n 4   # the whole suite, 4 xdist workers

``scripts/sdk-suite`` runs the second form. Exit status 1 when a test changed outcome,
the observer counted an error, or the metrics missed an exchange.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CACHE_ENV = "PTC_SDK_SUITE_CACHE"

# The SDK's tests that assert that nothing in the process calls an OpenTelemetry trace
# function (they make each one raise): an observer that traces calls them by design, so
# these run with an observer that has the Prometheus sink only.
TRIPWIRES = "disabled_spans_call_nothing"

# The representative part: the SDK's streaming, client (retries, timeouts, transports),
# tracing and OpenTelemetry tests and its stream helpers' tests, cut to what runs in
# about a minute: the files, and a -k expression over them (module names are keywords).
REPRESENTATIVE_FILES = (
    "tests/test_streaming.py",
    "tests/test_tracing.py",
    "tests/test_client.py",
    "tests/test_open_telemetry.py",
    "tests/lib/streaming/test_messages.py",
)
REPRESENTATIVE_K = (
    f"not {TRIPWIRES} and (test_streaming or test_tracing or test_messages"
    " or (test_client and (retr or timeout or stream or transport))"
    " or (test_open_telemetry and (streaming_response or raw_response"
    " or stream_closed or retried or connection_error or failure_to_record"
    " or TracingFailures)))"
)


class SdkUnavailable(Exception):
    """The SDK's source distribution could not be had (no registry)."""


def cache_dir() -> Path:
    """Where unpacked distributions are kept."""
    default = Path.home() / ".cache" / "ptc_observe" / "sdk-suite"
    return Path(os.environ.get(CACHE_ENV, default))


def sdk_source(sdk_version: str | None = None) -> Path:
    """The unpacked source distribution of ``anthropic`` (the installed version by default).

    Raises:
        SdkUnavailable: pip could not download it.
        RuntimeError: the distribution has no ``tests/`` directory.
    """
    sdk_version = sdk_version or version("anthropic")
    root = cache_dir() / f"anthropic-{sdk_version}"
    if not (root / "tests" / "conftest.py").is_file():
        root.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=root.parent) as tmp:
            done = subprocess.run(
                [
                    sys.executable, "-m", "pip", "download", "--no-deps",
                    "--no-binary", ":all:", "--disable-pip-version-check",
                    "-d", tmp, f"anthropic=={sdk_version}",
                ],
                capture_output=True, text=True, timeout=600,
            )  # fmt: skip
            if done.returncode != 0:
                raise SdkUnavailable(done.stderr.strip()[-2000:])
            (archive,) = Path(tmp).glob("anthropic-*.tar.gz")
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
            unpacked = Path(tmp) / f"anthropic-{sdk_version}"
            if not (unpacked / "tests" / "conftest.py").is_file():
                raise RuntimeError(f"{archive.name} has no tests/ directory")
            unpacked.rename(root)
    return root


@dataclass
class Run:
    """The outcome of every test of one run, and what the observer saw (observed runs)."""

    outcomes: dict[str, str]
    observer: dict[str, Any] = field(default_factory=dict)
    returncode: int = 0
    output: str = ""


def run(
    source: Path,
    targets: list[str],
    *,
    observe: bool,
    sinks: str = "all",
    workers: int = 0,
    timeout: float = 3600,
) -> Run:
    """Run ``targets`` (pytest arguments) of the SDK's tests in a subprocess."""
    with tempfile.TemporaryDirectory() as tmp:
        results = Path(tmp) / "results.json"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(HERE), str(ROOT)]),
            "PTC_SDK_SUITE_RESULTS": str(results),
            "PTC_SDK_SUITE_OBSERVE": "1" if observe else "0",
            "PTC_SDK_SUITE_SINKS": sinks,
        }
        for name in ("PROMETHEUS_MULTIPROC_DIR", "PTC_OBSERVE_DISABLED"):
            env.pop(name, None)
        command = [
            sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
            # The SDK's own options, without its -n auto.
            "-o", "addopts=", "-p", "tests._alias_httpx", "-p", "ptc_sdk_suite_plugin",
            # Not the SDK's: pytest-benchmark warns under xdist (an error there).
            "-p", "no:benchmark",
            "--tb=line", "-W", "ignore::pytest.PytestUnraisableExceptionWarning",
        ]  # fmt: skip
        if workers:
            command += ["-n", str(workers)]
        done = subprocess.run(
            [*command, *targets],
            cwd=source, env=env, capture_output=True, text=True, timeout=timeout,
        )  # fmt: skip
        if not results.is_file():
            raise RuntimeError(f"the SDK's tests did not run:\n{done.stdout[-3000:]}")
        data = json.loads(results.read_text())
        observer: dict[str, Any] = data.get("observer", {})
        for part in Path(tmp).glob("results.json.*"):  # xdist workers
            worker = json.loads(part.read_text()).get("observer", {})
            for key in ("clients", "exchanges", "counted", "spans"):
                observer[key] = observer.get(key, 0) + worker.get(key, 0)
            errors = observer.setdefault("telemetry_errors", {})
            for stage, n in worker.get("telemetry_errors", {}).items():
                errors[stage] = errors.get(stage, 0) + n
            observer.setdefault("errors_by_test", {}).update(
                worker.get("errors_by_test", {})
            )
        return Run(data["outcomes"], observer, done.returncode, done.stdout)


def representative_targets() -> list[tuple[list[str], str]]:
    """(pytest arguments, sinks) of the representative part."""
    return [
        ([*REPRESENTATIVE_FILES, "-k", REPRESENTATIVE_K], "all"),
        (["tests/test_open_telemetry.py", "-k", TRIPWIRES], "prometheus"),
    ]


def whole_suite_targets() -> list[tuple[list[str], str]]:
    """(pytest arguments, sinks) of the whole suite: the tripwires apart."""
    return [
        (["tests", "-k", f"not {TRIPWIRES}"], "all"),
        (["tests", "-k", TRIPWIRES], "prometheus"),
    ]


def run_both(
    source: Path, groups: list[tuple[list[str], str]], workers: int = 0
) -> tuple[Run, Run]:
    """Each group plainly and observed; the outcomes and observer facts merged."""
    plain, observed = Run({}), Run({})
    for targets, sinks in groups:
        for mode, into in ((False, plain), (True, observed)):
            result = run(source, targets, observe=mode, sinks=sinks, workers=workers)
            into.outcomes.update(result.outcomes)
            for key, value in result.observer.items():
                if isinstance(value, dict):
                    merged = into.observer.setdefault(key, {})
                    for k, v in value.items():
                        merged[k] = merged.get(k, 0) + v if isinstance(v, int) else v
                else:
                    into.observer[key] = into.observer.get(key, 0) + value
    return plain, observed


def compare(plain: Run, observed: Run) -> list[str]:
    """Every difference: tests whose outcome changed, errors, uncounted exchanges."""
    problems = [
        f"{node}: {plain.outcomes.get(node)} plainly, {observed.outcomes.get(node)} observed"
        for node in sorted(set(plain.outcomes) | set(observed.outcomes))
        if plain.outcomes.get(node) != observed.outcomes.get(node)
    ]
    seen = observed.observer
    if seen.get("telemetry_errors"):
        problems.append(f"telemetry errors: {seen['telemetry_errors']}")
        for node, errors in sorted(seen.get("errors_by_test", {}).items()):
            problems.append(f"  {node}: {errors}")
    if seen.get("exchanges", 0) != seen.get("counted", 0):
        problems.append(
            f"{seen.get('exchanges')} exchanges finished,"
            f" {seen.get('counted')} in ptc_exchanges_total"
        )
    return problems


def main(argv: list[str] | None = None) -> int:
    """Run plainly and observed, print the differences; 1 when there are any."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--all", action="store_true", help="the whole suite")
    parser.add_argument("-n", type=int, default=0, help="pytest-xdist workers")
    parser.add_argument("--sdk-version", help="default: the installed anthropic")
    args = parser.parse_args(argv)
    source = sdk_source(args.sdk_version)
    groups = whole_suite_targets() if args.all else representative_targets()
    plain, observed = run_both(source, groups, workers=args.n)
    problems = compare(plain, observed)
    counts: dict[str, int] = {}
    for outcome in plain.outcomes.values():
        counts[outcome] = counts.get(outcome, 0) + 1
    print(f"anthropic {source.name}: {len(plain.outcomes)} tests {counts}")
    print(f"observed: {observed.observer}")
    for problem in problems:
        print(problem)
    print("no difference" if not problems else f"{len(problems)} difference(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
