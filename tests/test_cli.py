"""The ``ptc-observe`` command as a new user meets it: run as a subprocess, judged on its exit
codes and messages (a bad option, an impossible port, an unreachable emulator, Ctrl-C, a
reader that stops reading)."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]


def command(*args: str) -> list[str]:
    """``ptc-observe ARGS`` as installed, or through ``python -m`` when the script is missing."""
    script = shutil.which("ptc-observe")
    return [*([script] if script else [sys.executable, "-m", "ptc_observe"]), *args]


def run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        command(*args),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO,
    )


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TestUsageErrors:
    def test_unknown_option_is_named(self) -> None:
        """`ptc-observe --bogus` names the option, not "arguments are required: command"."""
        done = run("--bogus")
        assert done.returncode == 2
        assert "unknown option --bogus" in done.stderr
        assert "required" not in done.stderr
        assert "Traceback" not in done.stderr

    def test_unknown_command_lists_the_choices(self) -> None:
        """A misspelt command is refused with the list of commands."""
        done = run("dmeo")
        assert done.returncode == 2
        assert "invalid choice: 'dmeo'" in done.stderr
        assert "demo" in done.stderr

    @pytest.mark.parametrize("cmd", ["demo", "emulator"])
    @pytest.mark.parametrize("value", ["99999", "-1", "http"])
    def test_impossible_port_is_a_usage_error(self, cmd: str, value: str) -> None:
        """`--port 99999` is refused by the option parser with the valid range, exit 2."""
        done = run(cmd, "--port", value)
        assert done.returncode == 2
        assert "0-65535" in done.stderr
        assert "Traceback" not in done.stderr

    def test_busy_port_suggests_port_0(self) -> None:
        """A taken /metrics port names the address and suggests --port 0, exit 2."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            done = run("demo", "--duration", "0", "--port", str(port))
        assert done.returncode == 2
        assert f"127.0.0.1:{port}" in done.stderr
        assert "--port 0 picks a free one" in done.stderr
        assert "Traceback" not in done.stderr

    def test_emulator_busy_port_suggests_port_0(self) -> None:
        """The emulator's busy port gets the same message and exit code."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            done = run("emulator", "--port", str(port), timeout=60)
        assert done.returncode == 2
        assert "--port 0 picks a free one" in done.stderr


class TestUnreachableEmulator:
    def test_is_an_error_not_an_injected_fault(self) -> None:
        """Nothing listening at --emulator-url: one clear line, exit 1, no task "as injected"."""
        url = f"http://127.0.0.1:{closed_port()}"
        done = run("demo", "--emulator-url", url, "--duration", "3", "--port", "0")
        assert done.returncode == 1
        assert f"cannot reach the emulator at {url}" in done.stderr
        assert "ptc-observe emulator" in done.stderr  # says how to start one
        assert "as injected" not in done.stdout
        assert "Traceback" not in done.stderr


def _as_in_a_terminal() -> None:
    # A command started from a terminal gets Ctrl-C. A test run started in the background
    # (CI runners, `cmd &`) may pass SIGINT down ignored, and Python leaves it ignored.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command(*args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        preexec_fn=_as_in_a_terminal,  # only resets a signal, then execs
    )


class TestInterrupt:
    def test_the_command_starts_before_the_heavy_imports(self) -> None:
        """Loading the `ptc-observe` command loads neither pydantic nor OpenTelemetry (nor the
        observer): Ctrl-C is in the command's hands from its first moments."""
        code = (
            "import sys, ptc_observe.cli; print(sorted(m for m in ('pydantic',"
            " 'opentelemetry', 'ptc_observe.observer', 'ptc_observe.models') if m in sys.modules))"
        )
        done = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
            cwd=REPO,
        )
        assert done.stdout.strip() == "[]"

    def test_ctrl_c_while_starting_exits_130_without_a_traceback(self) -> None:
        """Ctrl-C in the first second (imports, emulator start): one line, exit 130."""
        with _start("demo", "--duration", "30", "--port", "0") as process:
            time.sleep(1.0)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=60)
        assert process.returncode == 130, err
        assert "Traceback" not in err
        assert "KeyboardInterrupt" not in err

    def test_interrupted_run_says_so_and_exits_130(self) -> None:
        """Ctrl-C during the workload: the summary says interrupted, the exit code is 130."""
        with _start(
            "demo", "--duration", "60", "--rate", "6", "--port", "0"
        ) as process:
            assert process.stdout is not None
            lines = []
            for line in process.stdout:
                lines.append(line)
                if line.startswith("workload"):
                    break
            time.sleep(1.5)
            process.send_signal(signal.SIGINT)
            out, err = process.communicate(timeout=90)
        out = "".join(lines) + out
        assert process.returncode == 130, err
        assert "interrupted by SIGINT" in out
        assert "SIGINT: starting no more tasks" in out
        assert "Traceback" not in err

    def test_sigterm_ends_a_forever_run_with_0(self) -> None:
        """--forever runs until interrupted: SIGTERM (docker compose stop) is its normal end."""
        with _start("demo", "--forever", "--port", "0", "--quiet") as process:
            assert process.stdout is not None
            for line in process.stdout:
                if line.startswith("workload"):
                    break
            time.sleep(1.0)
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=90)
        assert process.returncode == 0, err
        assert "interrupted by SIGTERM" in out


class TestClosedPipe:
    def test_demo_into_head_ends_quietly(self) -> None:
        """`ptc-observe demo | head -n 3`: no BrokenPipeError traceback; the run stops early
        with 141 (the shell's code for a writer whose reader went away)."""
        with _start("demo", "--duration", "30", "--port", "0") as process:
            assert process.stdout is not None
            for _ in range(3):
                process.stdout.readline()
            process.stdout.close()
            started = time.monotonic()
            err = process.stderr.read() if process.stderr else ""
            process.wait(timeout=90)
        assert "Traceback" not in err
        assert "BrokenPipeError" not in err
        assert process.returncode == 141
        assert time.monotonic() - started < 30  # it stopped, not ran its 30 s out

    def test_shell_pipeline(self) -> None:
        """The same through a real shell pipeline, as a user types it."""
        line = " ".join(
            f"'{part}'" for part in command("demo", "--duration", "20", "--port", "0")
        )
        done = subprocess.run(
            ["bash", "-c", f"set -o pipefail; {line} | head -n 2"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=REPO,
        )
        assert done.stdout.startswith("Traffic is EMULATED")
        assert "Traceback" not in done.stderr
        assert done.returncode == 141


class TestReadmeCommands:
    def _commands(self) -> list[str]:
        text = (REPO / "README.md").read_text(encoding="utf-8")
        block = text.split("```bash\n", 1)[1].split("```", 1)[0]
        return [line.split("#", 1)[0].strip() for line in block.splitlines()]

    def test_readme_commands_and_ci(self) -> None:
        """The README opens with the two commands, and CI runs exactly the test one."""
        assert self._commands() == ["bash scripts/demo", "bash scripts/test"]
        ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
        assert ci.rstrip().splitlines()[-1] == "exec bash scripts/test"

    @pytest.mark.slow
    def test_demo_command_makes_its_own_venv(self, tmp_path: Path) -> None:
        """`bash scripts/demo` on a Python that only has `python3` (Debian's, where pip
        refuses system installs, when the machine has it): it makes a virtual environment,
        installs the demo extra into it and runs the demo from there."""
        debian = Path("/usr/bin/python3")
        python = str(debian) if debian.exists() else sys.executable
        venv = tmp_path / "venv"
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(tmp_path),
            "LANG": "C.UTF-8",
            "PYTHON": python,
            "VENV": str(venv),
        }
        env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})
        done = subprocess.run(
            ["bash", "scripts/demo", "--duration", "1", "--port", "0", "--quiet"],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        assert f"== venv: creating {venv}" in done.stdout
        assert "summary after" in done.stdout
        assert (venv / "bin" / "ptc-observe").exists()
