"""``python -m ptc_observe.emulator``: serve the emulator over HTTP (see :func:`.server.main`)."""

from __future__ import annotations

import sys

from .server import main

if __name__ == "__main__":
    sys.exit(main())
