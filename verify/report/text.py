"""Text helpers shared by the renderers: values a reviewer can tell apart, percentages, labels."""

from __future__ import annotations

import unicodedata

from verify.report.model import Cell, SampleRow

KIND_LABEL = {
    "value": "differing values",
    "missing_in_new": "missing in new",
    "extra_in_new": "extra in new",
    "duplicate_key": "duplicate key",
}
VERDICT_LABEL = {"clean": "clean", "warn": "warnings only", "block": "BLOCKING", "incomplete": "INCOMPLETE"}


def pct(rate: float) -> str:
    """A rate as a percentage with enough digits to tell a small one from zero."""
    if rate and rate < 0.0001:
        return f"{rate * 100:.4f}%"
    return f"{rate * 100:.2f}%"


def _visible_ends(text: str) -> str:
    """Leading and trailing blanks shown as symbols; a trailing space is a difference too."""
    stripped = text.strip(" \t")
    if not stripped:
        return text.replace(" ", "␣").replace("\t", "⇥")
    start = text.index(stripped)
    head, tail = text[:start], text[start + len(stripped) :]
    sym = {" ": "␣", "\t": "⇥"}
    return "".join(sym[c] for c in head) + stripped + "".join(sym[c] for c in tail)


def _escaped(text: str) -> str:
    """The characters that hide or look like others as \\uXXXX: combining marks, zero-width and
    other invisible characters, spaces other than the plain one, and precomposed letters (so
    that "\\u00e9" and "e\\u0301" show apart). Other text, "Søren" or "東京", stays as it is."""
    return "".join(f"\\u{ord(c):04x}" if _hides(c) else c for c in text)


def _hides(c: str) -> bool:
    if ord(c) < 128:
        return False
    category = unicodedata.category(c)
    return category[0] in "MC" or category in ("Zs", "Zl", "Zp") or bool(unicodedata.decomposition(c))


def marked(old: str, new: str) -> tuple[tuple[str, str, str], tuple[str, str, str]]:
    """Each of two shown values as (same start, the part that differs, same end), so that a
    report can highlight the characters that differ inside a cell."""
    start = 0
    while start < min(len(old), len(new)) and old[start] == new[start]:
        start += 1
    end = 0
    while end < min(len(old), len(new)) - start and old[-1 - end] == new[-1 - end]:
        end += 1
    cut = [(t[:start], t[start : len(t) - end], t[len(t) - end :]) for t in (old, new)]
    return cut[0], cut[1]


def show(value: str | None) -> str:
    """One value as shown in a report: NULL, visible blanks at the ends, control characters escaped."""
    if value is None:
        return "NULL"
    text = _visible_ends(value)
    return "".join(c if c.isprintable() or c == " " else _code(c) for c in text)


def _code(c: str) -> str:
    return f"\\x{ord(c):02x}" if ord(c) < 128 else f"\\u{ord(c):04x}"


def show_pair(old: str | None, new: str | None) -> tuple[str, str]:
    """Two differing values as shown side by side; where they would look alike, code points."""
    a, b = show(old), show(new)
    alike = old is not None and new is not None and old != new
    if alike and (
        a == b or unicodedata.normalize("NFC", old or "") == unicodedata.normalize("NFC", new or "")
    ):
        return _escaped(a), _escaped(b)
    return a, b


def row_label(sample: SampleRow) -> str:
    """What a row-level difference means, in words."""
    if sample.kind == "missing_in_new":
        return "row only in the old store"
    if sample.kind == "extra_in_new":
        return "row only in the new store"
    if sample.kind == "duplicate_key":
        cell = sample.cells[0] if sample.cells else Cell(None, None, None)
        return f"key held by {cell.old or 0} row(s) in old, {cell.new or 0} in new"
    return KIND_LABEL.get(sample.kind, sample.kind)


def target(kind: str | None, column: str | None) -> str:
    """What a rule is about: a column, a kind of difference, or both."""
    parts = [p for p in (KIND_LABEL.get(kind or "", kind), column) if p]
    return " / ".join(parts)
