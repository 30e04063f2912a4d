"""Segments: the key ranges an entity is cut into, and the SQL that reads one of them.

An entity whose key has a column that is a number (or a string) on both sides is cut into
ranges of that column ("the partition column") holding about `segment_rows` rows each; every
row falls in exactly one range, NULLs in the first. The ranges are sized from the catalogs'
row estimates and the column's MIN and MAX, not by counting, where the catalogs know.
"""

from __future__ import annotations

import decimal
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from verify.engine import checksum
from verify.sources.base import Reader
from verify.sources.columns import SourceColumn

SIDES = ("old", "new")


@dataclass(frozen=True)
class SideQuery:
    """How to read one side: the select list and source; bounds are added per segment."""

    select: tuple[str, ...]
    table: str | None
    query: str | None
    where: str | None
    partition_sql: str | None  # the partition column as written in bounds
    partition_bytes: bool = False  # string partition: bound by byte order
    columns: tuple[SourceColumn, ...] = ()  # what is read, to decode each into its raw type
    sample: str | None = None  # the key-hashed sample as a condition (see engine/subset.py)


@dataclass(frozen=True)
class Segment:
    """A key range [lo, hi) of one entity's partition column; None is unbounded.

    A re-check (`--only-previous-mismatches`) narrows a segment to the partition `values`
    listed (SQL `IN`) and to exactly the canonical `keys` (a Polars frame) inside it.
    """

    entity: str
    index: int
    lo: Any = None
    hi: Any = None
    values: tuple[Any, ...] | None = None
    ranges: tuple[tuple[int, int], ...] | None = None  # checksums: only these [a, b) within it
    keys: Any = field(default=None, compare=False, repr=False)


def bucket_width(segments: tuple[Segment, ...], segment_rows: int) -> int | None:
    """Integer segments are equally wide: a bucket is the part of one that holds ~LEAF_ROWS rows."""
    bounds = [s.hi for s in segments[:-1]]
    if len(bounds) < 2 or not all(isinstance(b, int) for b in bounds):
        return None
    return max(1, (bounds[1] - bounds[0]) * checksum.LEAF_ROWS // max(segment_rows, 1))


def cut_segments(
    entity: str,
    partition: str | None,
    queries: dict[str, SideQuery],
    readers: dict[str, Reader],
    segment_rows: int,
) -> tuple[Segment, ...]:
    """Cut the partition column's range so each segment holds about `segment_rows` rows."""
    if partition is None:
        return (Segment(entity, 0),)

    with ThreadPoolExecutor(2) as pool:
        estimates = {s: _estimated_rows(queries[s], readers[s]) for s in SIDES}
        known = any(estimates.values())

        def stats(side: str) -> tuple[Any, ...]:
            q, d, n = queries[side], readers[side].dialect, estimates[side]
            assert q.partition_sql
            conds = [q.where] if q.where else []
            # A whole table the catalog has no estimate of yet (PostgreSQL before its first
            # ANALYZE) is sized by the other side's estimate, not by a full scan to count it.
            if n is None and not (known and q.table is not None and not q.where):
                (n,) = readers[side].row(d.select(["COUNT(*)"], q.table, q.query, conds))
                if not n:  # MIN of nothing is NULL, whose type some readers cannot tell
                    return None, None, 0
            # As text: a NUMERIC bound need not fit the readers' decimals (parsed by `whole` below).
            ends = [d.as_text(f"{fn}({q.partition_sql})") for fn in ("MIN", "MAX")]
            lo, hi = readers[side].row(d.select(ends, q.table, q.query, conds))
            return lo, hi, n or 0

        (lo_o, hi_o, n_o), (lo_n, hi_n, n_n) = pool.map(stats, SIDES)
    rows = max(int(n_o or 0), int(n_n or 0))
    count = math.ceil(rows / segment_rows)
    if count <= 1 or not (n_o or n_n):
        return (Segment(entity, 0),)
    if queries["old"].partition_bytes:
        side = "old" if n_o else "new"
        bounds = _sampled_bounds(queries[side], readers[side], count, int(n_o or n_n or 0))
    else:
        lows = [whole(v) for v in (lo_o, lo_n) if v is not None]
        highs = [whole(v) for v in (hi_o, hi_n) if v is not None]
        lo, hi = min(lows), max(highs)
        width = max(1, math.ceil((hi - lo + 1) / count))
        bounds = [lo + i * width for i in range(1, count) if lo + i * width <= hi]
    edges: list[Any] = [None, *bounds, None]
    return tuple(Segment(entity, i, edges[i], edges[i + 1]) for i in range(len(edges) - 1))


def whole(value: Any) -> int:
    """A partition bound as an integer (from text, which a decimal column's bound arrives as):
    the cut points need only be integers to put every number in exactly one range."""
    return int(decimal.Decimal(str(value)).to_integral_value(decimal.ROUND_FLOOR))


def _estimated_rows(query: SideQuery, reader: Reader) -> int | None:
    """The catalog's row estimate of a whole table (enough to size segments), or None.

    Counting a large table costs a full scan; the estimate only decides how many segments
    there are, never which rows are compared.
    """
    if query.table is None or query.where:
        return None
    try:
        return reader.dialect.estimated_rows(reader, query.table)
    except Exception:  # noqa: BLE001 - no estimate is fine: count instead
        return None


def _sampled_bounds(query: SideQuery, reader: Reader, count: int, rows: int) -> list[Any]:
    """String keys: bounds at the quantiles (byte order) of a random sample of the old side."""
    d = reader.dialect
    want = count * 64
    fraction = min(1.0, want / max(rows, 1))
    conds = [query.where] if query.where else []
    if fraction < 1.0:
        conds.append(f"{d.random()} < {fraction!r}")
    assert query.partition_sql
    sample = reader.read(d.select([f"{query.partition_sql} AS k"], query.table, query.query, conds))
    values = sample.get_column("k").drop_nulls().sort().to_list()
    picks = sorted({values[(i * len(values)) // count] for i in range(1, count)} if values else set())
    return picks


def segment_sql(query: SideQuery, segment: Segment, dialect: Any, columns: list[str] | None = None) -> str:
    """The SELECT for one side of one segment: the side's filter and the segment's key range.

    The first segment (no lower bound) also holds the rows whose partition value is NULL.
    """
    conds = [query.where] if query.where else []
    if query.partition_sql is not None:
        p = query.partition_sql
        if segment.lo is not None:
            conds.append(f"{p} >= {dialect.literal(segment.lo)}")
        if segment.hi is not None:
            below = f"{p} < {dialect.literal(segment.hi)}"
            conds.append(below if segment.lo is not None else f"{below} OR {p} IS NULL")
        if segment.values:
            conds.append(
                f"{query.partition_sql} IN ({', '.join(dialect.literal(v) for v in segment.values)})"
            )
        if segment.ranges:
            conds.append(" OR ".join(f"({p} >= {a} AND {p} < {b})" for a, b in segment.ranges))
    if query.sample is not None:
        conds.append(query.sample)
    return dialect.select(columns or list(query.select), query.table, query.query, conds)
