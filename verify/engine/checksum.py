"""Checksum pushdown: ask both databases for a summary of a key range instead of its rows.

A summary is the row count, the number of distinct keys and an order-independent checksum:
the sum of a 60-bit prefix of each row's MD5 over a text rendering of the row's canonical
values, written in each dialect's SQL so that equal values render to equal bytes on MySQL /
MariaDB and PostgreSQL. The rendering loses nothing that canonicalization keeps (decimals at
30 places, timestamps to the microsecond), so equal summaries mean equal rows, and unequal
ones are only ever a reason to look closer: a range whose summaries differ is split and
summarized again, down to a threshold, and then read as rows and diffed as usual. The result
is therefore exactly the row algorithm's.

A column takes part only when both sides can render it this way: a plain column (no
expression, value map, normalization or tolerance) of an integer, decimal, string, boolean,
date or timestamp type, timestamps stored in UTC. One column that cannot makes the entity
use the row algorithm; `verify check` and the run's notes say which and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from verify.engine.normalize import IDENTIFIER, SideRecipe
from verify.sources.dialect import Dialect

LEAF_ROWS = 200  # segments are summarized in buckets of about this many rows; differing ones are read


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
    raw: pl.Schema,
    dialect: Dialect,
    tolerant: set[str],
) -> tuple[ChecksumSQL | None, list[str]]:
    """The side's renderings, or None and why the entity must be read as rows."""
    if dialect.family not in ("mysql", "postgres"):
        return None, [f"{recipe.side} side: checksums are computed on MySQL/MariaDB and PostgreSQL only"]
    rendered, why = [], []
    for col in recipe.columns:
        try:
            rendered.append(_render(col, recipe, raw, dialect, tolerant))
        except _NotRenderable as exc:
            why.append(f"column '{col.name}' ({recipe.side} side): {exc}")
    if why:
        return None, why
    key = recipe.columns[0]
    if key_count == 1 and key.type.kind in ("int", "uint") and raw[key.expr].is_integer():
        # One integer key: count it distinct as it is (NULLs are not counted, so a NULL key
        # shows as a duplicate and its range is read as rows: safe, and rare).
        return ChecksumSQL(_concat(rendered, dialect), dialect.quote(key.expr)), []
    return ChecksumSQL(_concat(rendered, dialect), _concat(rendered[:key_count], dialect)), []


def _render(col: Any, recipe: SideRecipe, raw: pl.Schema, dialect: Dialect, tolerant: set[str]) -> str:
    """The column's canonical value as text in SQL, identical for equal values on both sides."""
    if not IDENTIFIER.match(col.expr) or col.expr not in raw:
        raise _NotRenderable("an expression, not a plain column")
    if col.value_map or col.normalize:
        raise _NotRenderable("a value map or normalization, which SQL cannot repeat exactly")
    if col.name in tolerant:
        raise _NotRenderable("compared within a tolerance")
    mysql = dialect.family == "mysql"
    src, kind, x = raw[col.expr], col.type.kind, dialect.quote(col.expr)
    if kind in ("int", "uint") and src.is_integer():
        return f"CAST({x} AS {'CHAR' if mysql else 'TEXT'})"
    if kind == "decimal" and (src.is_integer() or isinstance(src, pl.Decimal)):
        wide = "DECIMAL(65,30)" if mysql else "NUMERIC(1000,30)"
        return f"CAST(CAST({x} AS {wide}) AS {'CHAR' if mysql else 'TEXT'})"
    if kind == "string" and src == pl.String:  # any bytes: its length says where it ends
        return f"CONCAT(OCTET_LENGTH({x}), ':', {x})" if mysql else f"OCTET_LENGTH({x}) || ':' || {x}"
    if kind == "bool" and (src == pl.Boolean or src.is_integer()):
        true = f"{x} <> 0" if src.is_integer() else x
        return f"CASE WHEN {true} THEN '1' WHEN NOT ({true}) THEN '0' END"
    if kind == "date" and src == pl.Date:
        if mysql:
            return f"DATE_FORMAT({dialect.guard_temporal(x)}, '%Y-%m-%d')"
        return f"TO_CHAR({x}, 'YYYY-MM-DD')"
    if kind == "timestamp" and isinstance(src, pl.Datetime):
        zone = col.timezone or recipe.timezone or "UTC"
        if src.time_zone is None and (zone not in ("UTC", "Etc/UTC") or recipe.timezone_column):
            where = recipe.timezone_column or zone
            raise _NotRenderable(f"local times in {where}, which SQL cannot turn into UTC portably")
        if mysql:
            return f"DATE_FORMAT({dialect.guard_temporal(x)}, '%Y-%m-%d %H:%i:%s.%f')"
        utc = f"{x} AT TIME ZONE 'UTC'" if src.time_zone else x
        return f"TO_CHAR({utc}, 'YYYY-MM-DD HH24:MI:SS.US')"
    raise _NotRenderable(f"{kind} from {src}, which has no exact text rendering in both dialects")


def _concat(parts: list[str], dialect: Dialect) -> str:
    """The values joined by '|', NULL as '-': no two rows render alike by accident.

    Only strings can hold '|' or be '-', and they come length-prefixed ("5:a|b|c"), so the
    rendering decodes one way. Each value is rendered once: the databases spend most of a
    summary's time rendering, not hashing.
    """
    fields = [f"COALESCE({p}, '-')" for p in parts]
    if dialect.family == "mysql":
        return "CONCAT(" + ", '|', ".join(fields) + ")"
    return " || '|' || ".join(fields)


def summary_columns(rendering: ChecksumSQL, partition_sql: str, dialect: Dialect) -> list[str]:
    """Per row of the range: the row's hash, the key's rendering and the partition value."""
    md5 = "MD5" if dialect.family == "mysql" else "md5"
    return [f"{md5}({rendering.row}) AS h", f"{rendering.key} AS kh", f"{partition_sql} AS p"]


def summary_sql(rows_sql: str, dialect: Dialect, width: int | None = None) -> str:
    """Count, distinct keys and checksum of the rows `rows_sql` selects, with the partition
    bounds; or, given a bucket `width`, the same per bucket FLOOR(p / width) of the partition."""
    if dialect.family == "mysql":
        total = "CAST(COALESCE(SUM(CAST(CONV(LEFT(h, 15), 16, 10) AS UNSIGNED)), 0) AS CHAR)"
    else:
        total = "CAST(COALESCE(SUM(CAST(CAST('x' || LEFT(h, 15) AS BIT(60)) AS BIGINT)), 0) AS TEXT)"
    counts = f"COUNT(*) AS n, COUNT(DISTINCT kh) AS nk, {total} AS s"
    if width is None:
        return f"SELECT {counts}, MIN(p) AS lo, MAX(p) AS hi FROM ({rows_sql}) verify_sum"
    as_text = "CHAR" if dialect.family == "mysql" else "TEXT"
    bucket = f"CAST(FLOOR(p / {width}.0) AS {'SIGNED' if dialect.family == 'mysql' else 'BIGINT'})"
    return f"SELECT CAST({bucket} AS {as_text}) AS b, {counts} FROM ({rows_sql}) verify_sum GROUP BY {bucket}"


def bucket_width(lo: int, hi: int, rows: int) -> int:
    """The partition width of buckets holding about LEAF_ROWS rows of [lo, hi]."""
    return max(1, -(-(hi - lo + 1) * LEAF_ROWS // max(rows, 1)))


def differing_ranges(
    old: dict[int | None, Summary], new: dict[int | None, Summary], width: int, lo: Any, hi: Any
) -> tuple[list[tuple[int, int]] | None, int]:
    """The [a, b) ranges of the buckets whose summaries differ, merged, within [lo, hi); and
    the rows of the buckets that are equal. None when the NULL bucket differs (read it all)."""
    equal, ranges = 0, list[tuple[int, int]]()
    for b in sorted(old.keys() | new.keys(), key=lambda v: (v is not None, v or 0)):
        o, n = old.get(b), new.get(b)
        if o is not None and n is not None and o.same_as(n):
            equal += o.rows
            continue
        if b is None:
            return None, 0
        a, z = b * width, (b + 1) * width
        a, z = max(a, lo) if lo is not None else a, min(z, hi) if hi is not None else z
        if ranges and ranges[-1][1] == a:
            ranges[-1] = (ranges[-1][0], z)
        else:
            ranges.append((a, z))
    return ranges, equal
