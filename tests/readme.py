"""The README's generated sections: a table rendered from a test's own data, kept in sync."""

from __future__ import annotations

import os
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def sync_section(start: str, end: str, body: str) -> None:
    """Fail unless the README holds `body` between the markers; VERIFY_UPDATE_README=1 writes it."""
    text = README.read_text()
    assert start in text and end in text, f"README.md needs the markers {start} and {end}"
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    want = f"{head}{start}\n{body}\n{end}{tail}"
    if os.environ.get("VERIFY_UPDATE_README"):
        README.write_text(want)
        text = want
    assert text == want, f"README's section {start} is out of date: VERIFY_UPDATE_README=1 pytest -k readme"
