"""Every test a document cites as proof (``tests/….py::test_name``) exists: a claim in
docs/security.md, docs/testing.md or the README never points at a test that was renamed away."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITED = re.compile(r"(tests/[\w/]+\.py)::(test_\w+)")


def cited() -> list[tuple[str, str, str]]:
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    return [
        (document.name, path, name)
        for document in documents
        for path, name in CITED.findall(document.read_text())
    ]


def test_every_cited_test_exists() -> None:
    citations = cited()
    missing = [
        f"{document}: {path}::{name}"
        for document, path, name in citations
        if not (ROOT / path).is_file()
        or not re.search(rf"^def {name}\(", (ROOT / path).read_text(), re.MULTILINE)
    ]
    assert len(citations) >= 39
    assert missing == []
