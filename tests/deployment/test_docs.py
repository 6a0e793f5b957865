"""The deployment docs point at files and sections that exist, and name the real generator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .files import DEPLOY_DIR, REPO_ROOT

DOCS = [REPO_ROOT / "docs" / "deploy.md", DEPLOY_DIR / "README.md"]
_LINK = re.compile(r"\]\(([^)#\s]*)(?:#([^)\s]+))?\)")


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors = set()
    for heading in re.findall(r"^#+\s+(.+?)\s*$", markdown, flags=re.M):
        text = re.sub(r"[^\w\- ]", "", heading.lower())
        anchors.add(text.replace(" ", "-"))
    return anchors


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO_ROOT)))
def test_relative_links_and_anchors_resolve(doc: Path) -> None:
    """Every relative link names an existing file and, with a #fragment, an existing heading."""
    text = doc.read_text(encoding="utf-8")
    for target, fragment in _LINK.findall(text):
        if re.match(r"[a-z]+:", target):
            continue
        path = (doc.parent / target).resolve() if target else doc
        assert path.exists(), f"{doc.name}: link to missing {target}"
        if fragment and path.suffix == ".md":
            assert fragment in _anchors(path.read_text(encoding="utf-8")), (
                f"{doc.name}: no heading #{fragment} in {target or doc.name}"
            )


def test_deploy_paths_named_in_the_docs_exist() -> None:
    """Each `deploy/...` path that docs/deploy.md names is a file or directory in the repository."""
    text = (REPO_ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(deploy/[\w./-]+?)(?:\*\.json)?`", text))
    assert named
    for path in named:
        assert (REPO_ROOT / path).exists(), path
