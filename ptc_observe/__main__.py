"""``python -m ptc_observe`` is ``ptc-observe``."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
