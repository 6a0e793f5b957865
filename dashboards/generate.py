"""Generate the ptc_observe Grafana dashboards (dashboards/grafana/*.json).

    python dashboards/generate.py           # rewrite the JSON files
    python dashboards/generate.py --check   # exit 1 and print a diff if they are out of date

The committed JSON is what Grafana loads (docker-compose mounts dashboards/grafana/); this
script is the source of truth and tests/stack checks that the two never drift. Metric names
are the ones ptc_observe exposes (see docs/deploy.md); panels on histograms request exemplars,
which the Prometheus datasource links to the Tempo datasource by trace id.
"""

from __future__ import annotations

import argparse
import difflib
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from containers import containers
from overview import overview

OUTPUT_DIR = Path(__file__).resolve().parent / "grafana"


def render() -> dict[str, str]:
    """Every dashboard file name with its JSON text, exactly as written to disk."""
    boards = {"ptc-overview.json": overview(), "ptc-containers.json": containers()}
    return {
        name: json.dumps(board, indent=2, sort_keys=True) + "\n"
        for name, board in boards.items()
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Write the dashboards, or with ``--check`` compare them with the files on disk."""
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument(
        "--check", action="store_true", help="fail if the files are out of date"
    )
    parser.add_argument(
        "--output", type=Path, default=OUTPUT_DIR, help="target directory"
    )
    args = parser.parse_args(argv)
    stale = 0
    for name, text in render().items():
        path: Path = args.output / name
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current == text:
            continue
        if args.check:
            stale += 1
            sys.stdout.writelines(
                difflib.unified_diff(
                    current.splitlines(keepends=True),
                    text.splitlines(keepends=True),
                    f"{path} (committed)",
                    f"{path} (generated)",
                )
            )
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(
            f"{stale} dashboard file(s) out of date: run python dashboards/generate.py"
        )
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
