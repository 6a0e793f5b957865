# shellcheck shell=bash
# Sourced by scripts/demo and scripts/test: make (or reuse) the virtual environment .venv and
# install ptc-observe into it, editable, with one extra. Works on a stock Debian Python (python3
# only, pip refusing system installs with "externally-managed-environment"), where it installs
# python3-venv first if `python3 -m venv` cannot work, and on any other Python >= 3.10.
#
# Environment: PYTHON (default python3) makes the venv; VENV (default .venv) is where it goes.
# The install is skipped when pyproject.toml has not changed since the last one for this extra.

PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"
export PIP_DISABLE_PIP_VERSION_CHECK=1

ensure_venv() {
    local extra="$1" vpy="$VENV/bin/python"
    if ! "$vpy" -c "import sys; assert sys.version_info >= (3, 10)" >/dev/null 2>&1; then
        if ! command -v "$PYTHON" >/dev/null 2>&1; then
            echo "$PYTHON not found: install Python 3.10 or later (Debian: apt-get install python3)" >&2
            return 1
        fi
        echo "== venv: creating $VENV with $("$PYTHON" --version 2>&1)"
        rm -rf "$VENV"
        if ! "$PYTHON" -m venv "$VENV" >/dev/null 2>&1; then
            rm -rf "$VENV"
            echo "== venv: $PYTHON -m venv failed; installing Debian's python3-venv"
            bash "$(dirname "${BASH_SOURCE[0]}")/setup" --venv
            "$PYTHON" -m venv "$VENV"
        fi
    fi
    local stamp="$VENV/.ptc-observe-$extra" want
    want="$(cksum < pyproject.toml)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        echo "== venv: installing ptc-observe[$extra] (editable) into $VENV"
        "$vpy" -m pip install -q -e ".[$extra]"
        printf '%s\n' "$want" > "$stamp"
    fi
    # Everything after this runs the venv's python, pytest, ruff, mypy, ptc-observe.
    VIRTUAL_ENV="$(cd "$VENV" && pwd)"
    export VIRTUAL_ENV
    export PATH="$VIRTUAL_ENV/bin:$PATH"
    hash -r
}
