"""Headless Chromium for the report tests: dump a page's DOM after load, or screenshot it.

Debian's ``chromium`` (installed by scripts/setup) runs with a throw-away profile, no sandbox
(tests run as root), and none of the background services that would reach the network.
``measure`` loads a copy of a page with a probe script appended (the page itself has none)
that counts, per chart, the marks the browser laid out with a non-zero size.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
)


def chromium_binary() -> Path:
    """The chromium on PATH, or the test fails: a missing browser is a broken machine."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return Path(found)
    pytest.fail("`chromium` is not on PATH: run scripts/setup", pytrace=False)


class Chromium:
    """Runs one headless Chromium per call, with its profile under ``workdir``."""

    def __init__(self, binary: Path, workdir: Path) -> None:
        self.binary = binary
        self.workdir = workdir

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        profile = self.workdir / "profile"
        profile.mkdir(exist_ok=True)
        done = subprocess.run(
            [str(self.binary), *FLAGS, f"--user-data-dir={profile}", *args],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, (
            f"chromium failed ({done.returncode}):\n{done.stderr[-3000:]}"
        )
        return done

    def dump_dom(self, page: Path) -> str:
        """The DOM after the page loaded and its scripts ran, serialized."""
        return self._run(
            "--virtual-time-budget=5000", "--dump-dom", page.as_uri()
        ).stdout

    def screenshot(
        self, page: Path, out: Path, size: tuple[int, int] = (1000, 3000)
    ) -> Path:
        """A PNG of the page drawn in a ``size`` window."""
        self._run(
            f"--window-size={size[0]},{size[1]}", f"--screenshot={out}", page.as_uri()
        )
        assert out.is_file(), "chromium wrote no screenshot"
        return out


_PROBE = """<script>
const out = {};
for (const fig of document.querySelectorAll("figure.chart")) {
  const marks = [...fig.querySelectorAll(".mark")];
  const laidOut = marks.filter((m) => {
    const r = m.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && r.right <= document.documentElement.scrollWidth;
  });
  out[fig.dataset.chart] = {declared: Number(fig.dataset.marks), drawn: laidOut.length,
    caption: fig.querySelector("figcaption").textContent};
}
const pre = document.createElement("pre");
pre.id = "probe";
pre.textContent = JSON.stringify(out);
document.body.appendChild(pre);
</script>"""


def measure(chromium: Chromium, page: Path) -> dict[str, dict[str, object]]:
    """Per chart: marks declared by the page, marks the browser laid out with a size."""
    probed = page.with_name("probed.html")
    probed.write_text(
        page.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>")
    )
    dom = chromium.dump_dom(probed)
    found = re.search(r'<pre id="probe">(.*?)</pre>', dom, re.S)
    assert found, f"the probe did not run; DOM starts:\n{dom[:500]}"
    result: dict[str, dict[str, object]] = json.loads(found.group(1))
    return result
