"""Checksum pushdown: ask both databases for a summary of a key range instead of its rows.

A summary is the row count, the number of distinct keys and an order-independent checksum:
the sum of a 60-bit prefix of each row's MD5 over a text rendering of the row's canonical
values, written in each dialect's SQL so that equal values render to equal bytes on MySQL /
MariaDB and PostgreSQL. The rendering loses nothing that canonicalization keeps (decimals at
30 places, timestamps to the microsecond), so equal summaries mean equal rows, and unequal
ones are only ever a reason to look closer: a bucket whose summaries differ is summarized
again in narrower buckets, and what still differs is read as rows and diffed as usual
(engine/strategy.py). The result is therefore exactly the row algorithm's.

A column takes part only when both sides can render it this way: a plain column (no
expression, value map, normalization or tolerance) whose dialect renders its canonical type
(see each dialect's `render`), timestamps stored in UTC. One column that cannot makes the
entity use the row algorithm; `verify check` and the run's notes say which and why, so a
checksum run never fails on a type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from verify.engine.normalize import IDENTIFIER, SideRecipe
from verify.sources.columns import SourceColumn
from verify.sources.dialects import Dialect

LEAF_ROWS = 200  # segments are summarized first in buckets of about this many rows


@dataclass(frozen=True)
class ChecksumSQL:
    """The SQL of one side's row and key renderings (one text value each, per row)."""

    row: str
    key: str


@dataclass(frozen=True)
class Summary:
    rows: int
    keys: int
    checksum: str
    lo: Any
    hi: Any

    def same_as(self, other: Summary) -> bool:
        """Equal rows on both sides, and no duplicate key on either (those the row algorithm
        reports; a key rendering that repeats shows as fewer keys than rows)."""
        return (self.rows, self.checksum) == (
            other.rows,
            other.checksum,
        ) and self.rows == self.keys == other.keys


class _NotRenderable(Exception):
    """Why a column has no exact SQL rendering on some side."""


def checksum_sql(
    recipe: SideRecipe,
    key_count: int,
    columns: dict[str, SourceColumn],
    dialect: Dialect,
    tolerant: set[str],
) -> tuple[ChecksumSQL | None, list[str]]:
    """The side's renderings, or None and why the entity must be read as rows."""
    if not dialect.checksums:
        return None, [f"{recipe.side} side: {dialect.family} has no hash function in its SQL for checksums"]
    rendered, why = [], []
    for col in recipe.columns:
        try:
            rendered.append(_render(col, recipe, columns, dialect, tolerant))
        except _NotRenderable as exc:
            why.append(f"column '{col.name}' ({recipe.side} side): {exc}")
    if why:
        return None, why
    key = recipe.columns[0]
    if key_count == 1 and key.type.kind in ("int", "uint") and columns[key.expr].kind in ("int", "uint64"):
        # One integer key: count it distinct as it is (NULLs are not counted, so a NULL key
        # shows as a duplicate and its range is read as rows: safe, and rare).
        return ChecksumSQL(_concat(rendered, dialect), dialect.quote(key.expr)), []
    return ChecksumSQL(_concat(rendered, dialect), _concat(rendered[:key_count], dialect)), []


def _render(
    col: Any, recipe: SideRecipe, columns: dict[str, SourceColumn], dialect: Dialect, tolerant: set[str]
) -> str:
    """The column's canonical value as text in SQL, identical for equal values on both sides."""
    if not IDENTIFIER.match(col.expr) or col.expr not in columns:
        raise _NotRenderable("an expression, not a plain column")
    if col.value_map or col.normalize:
        raise _NotRenderable("a value map or normalization, which SQL cannot repeat exactly")
    if col.name in tolerant:
        raise _NotRenderable("compared within a tolerance")
    source = columns[col.expr]
    if col.type.kind == "timestamp" and source.kind == "timestamp":
        zone = col.timezone or recipe.timezone or "UTC"
        if zone not in ("UTC", "Etc/UTC") or recipe.timezone_column:
            where = recipe.timezone_column or zone
            raise _NotRenderable(f"local times in {where}, which SQL cannot turn into UTC portably")
    sql = dialect.render(source, col.type)
    if sql is None:
        raise _NotRenderable(
            f"{col.type} from {source.db_type}, which {dialect.family} cannot render as text exactly "
            "as the other side does"
        )
    return sql


def _concat(parts: list[str], dialect: Dialect) -> str:
    """The values joined by '|', NULL as '-': no two rows render alike by accident.

    Only strings can hold '|' or be '-', and they come length-prefixed ("5:a|b|c"), so the
    rendering decodes one way. Each value is rendered once: the databases spend most of a
    summary's time rendering, not hashing.
    """
    fields = [f"COALESCE({p}, '-')" for p in parts]
    return dialect.concat([x for f in fields for x in (f, "'|'")][:-1])


def summary_columns(rendering: ChecksumSQL, partition_sql: str, dialect: Dialect) -> list[str]:
    """Per row of the range: the row's hash, the key's rendering and the partition value."""
    return [f"{dialect.md5(rendering.row)} AS h", f"{rendering.key} AS kh", f"{partition_sql} AS p"]


def summary_sql(rows_sql: str, dialect: Dialect, width: int | None = None) -> str:
    """Count, distinct keys and checksum of the rows `rows_sql` selects, with the partition
    bounds; or, given a bucket `width`, the same per bucket FLOOR(p / width) of the partition."""
    counts = f"COUNT(*) AS n, COUNT(DISTINCT kh) AS nk, {dialect.hash_total('h')} AS s"
    if width is None:
        ends = f"{dialect.as_text('MIN(p)')} AS lo, {dialect.as_text('MAX(p)')} AS hi"
        return f"SELECT {counts}, {ends} FROM ({rows_sql}) verify_sum"
    bucket = dialect.bucket("p", width)
    return f"SELECT {dialect.as_text(bucket)} AS b, {counts} FROM ({rows_sql}) verify_sum GROUP BY {bucket}"


def bucket_width(lo: int, hi: int, rows: int) -> int:
    """The partition width of buckets holding about LEAF_ROWS rows of [lo, hi]."""
    return max(1, -(-(hi - lo + 1) * LEAF_ROWS // max(rows, 1)))


def differing_ranges(
    old: dict[int | None, Summary], new: dict[int | None, Summary], width: int, lo: Any, hi: Any
) -> tuple[list[tuple[int, int]] | None, int, list[int]]:
    """The [a, b) ranges of the buckets whose summaries differ, merged, within [lo, hi); the
    rows of the buckets that are equal; and the rows of each differing bucket (the larger
    side's). None for the ranges when the NULL bucket differs (read it all)."""
    equal, ranges, left = 0, list[tuple[int, int]](), list[int]()
    for b in sorted(old.keys() | new.keys(), key=lambda v: (v is not None, v or 0)):
        o, n = old.get(b), new.get(b)
        if o is not None and n is not None and o.same_as(n):
            equal += o.rows
            continue
        if b is None:
            return None, 0, []
        left.append(max(o.rows if o else 0, n.rows if n else 0))
        a, z = b * width, (b + 1) * width
        a, z = max(a, lo) if lo is not None else a, min(z, hi) if hi is not None else z
        if ranges and ranges[-1][1] == a:
            ranges[-1] = (ranges[-1][0], z)
        else:
            ranges.append((a, z))
    return ranges, equal, left
