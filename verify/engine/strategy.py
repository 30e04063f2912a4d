"""How a segment is compared: every row read (`rows`), or summaries first (`checksum`).

Both strategies answer one question for the worker: which parts of the segment must be read
as rows, and how many rows are already known to be equal on both sides. The worker reads
those parts, diffs them and adds the equal rows to its counts; so both give exactly the same
result, and differ only in what they make the databases send.

Checksums narrow a segment by bisection, as data-diff does, each step asked of both databases
at once: the segment is summarized in buckets of about LEAF_ROWS rows (count, distinct keys, a
checksum of the rows' hashes; equal buckets are equal rows), then only the buckets that differ
are summarized again in FANOUT times narrower buckets, and so on while a differing bucket still
holds more than a few rows; the rows of the buckets left are read and diffed as usual. So what
the servers send grows with the number of differing rows, not with the buckets they touch.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Protocol

import polars as pl

from verify.engine import checksum
from verify.engine.plan import EntityPlan
from verify.engine.segments import Segment, segment_sql, whole
from verify.sources.base import first_row
from verify.sources.dialects import Dialect

FANOUT = 8  # a differing bucket is summarized again in this many narrower ones


class Sides(Protocol):
    """What a strategy may ask of the two sources for one segment."""

    def dialect(self, side: str) -> Dialect: ...

    def read(self, side: str, sql: str) -> pl.DataFrame: ...

    def both(self, fn: Callable[[str], Any]) -> tuple[Any, Any]:
        """fn("old") and fn("new"), at once: each waits on its own server."""
        ...


class Strategy(Protocol):
    name: str

    def narrow(self, plan: EntityPlan, segment: Segment, sides: Sides) -> tuple[list[Segment], int]:
        """The parts of `segment` to read as rows, and the number of rows known equal."""
        ...


class Rows:
    """Read every row of the segment."""

    name = "rows"

    def narrow(self, plan: EntityPlan, segment: Segment, sides: Sides) -> tuple[list[Segment], int]:
        return [segment], 0


class Checksums:
    """Summaries first; rows only where they differ (see the module's docstring)."""

    name = "checksum"

    def narrow(self, plan: EntityPlan, segment: Segment, sides: Sides) -> tuple[list[Segment], int]:
        width = plan.checksum_width
        if width is None:  # an entity read as one segment: summarized whole first, for its bounds
            o, n = sides.both(lambda side: _summaries(plan, segment, sides, side, None)[None])
            if o.same_as(n):
                return [], o.rows
            ends = [whole(v) for v in (o.lo, o.hi, n.lo, n.hi) if v is not None]
            if max(o.rows, n.rows) <= checksum.LEAF_ROWS or not ends:
                return [segment], 0
            width = checksum.bucket_width(min(ends), max(ends), max(o.rows, n.rows))
        part, equal = segment, 0
        while True:
            summaries = sides.both(lambda side: _summaries(plan, part, sides, side, width))  # noqa: B023
            ranges, same, left = checksum.differing_ranges(*summaries, width, segment.lo, segment.hi)
            if ranges is None:  # the NULL bucket differs: the segment is read whole
                return [segment], 0
            equal += same
            if part.ranges is not None:  # a narrower bucket may reach past the wider one it is in
                ranges = _intersection(ranges, list(part.ranges))
            if not ranges:
                return [], equal
            part = dataclasses.replace(segment, ranges=tuple(ranges))
            if width == 1 or sum(left) <= 2 * FANOUT * len(left):
                return [part], equal
            width = -(-width // FANOUT)


def _intersection(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The [x, y) ranges in both of two sorted lists of disjoint ranges."""
    out, i, j = [], 0, 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def strategy_for(algorithm: str, plan: EntityPlan, segment: Segment) -> Strategy:
    """Checksums where the run asks for them and the entity can be summarized in SQL; a
    re-check's exact keys are always read as rows."""
    if algorithm == "checksum" and plan.checksum is not None and segment.keys is None:
        return Checksums()
    return Rows()


def _hashed_sql(plan: EntityPlan, segment: Segment, dialect: Dialect, side: str) -> str:
    """The segment's rows as (row hash, key rendering, partition value), to summarize."""
    query = plan.queries[side]
    assert plan.checksum is not None and query.partition_sql is not None
    columns = checksum.summary_columns(plan.checksum[side], query.partition_sql, dialect)
    return segment_sql(query, segment, dialect, columns)


def _summaries(
    plan: EntityPlan, segment: Segment, sides: Sides, side: str, width: int | None
) -> dict[int | None, checksum.Summary]:
    """The side's summary of the segment (under the key None), or of each bucket in it."""
    dialect = sides.dialect(side)
    frame = sides.read(side, checksum.summary_sql(_hashed_sql(plan, segment, dialect, side), dialect, width))
    if width is None:
        rows, keys, total, lo, hi = first_row(frame)
        return {None: checksum.Summary(int(rows or 0), int(keys or 0), str(total), lo, hi)}
    return {
        (None if b is None else int(b)): checksum.Summary(int(rows), int(keys), str(total), None, None)
        for b, rows, keys, total in frame.iter_rows()
    }
