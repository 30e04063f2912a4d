"""Diff one segment: read both sides, canonicalize, compare, classify, write the mismatch part.

Runs on a worker thread; readers are opened once per source and shared by the threads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from verify import settings
from verify.engine import checksum
from verify.engine.compare import SegmentCounts, compare
from verify.engine.normalize import canonicalize
from verify.engine.plan import EntityPlan
from verify.engine.recheck import only_keys
from verify.engine.rules import RuleCounts, classify, count_records
from verify.engine.segments import Segment, segment_sql, whole
from verify.engine.subset import restrict
from verify.engine.throttle import Throttle
from verify.errors import SourceError
from verify.results import rundir
from verify.sources.base import first_row
from verify.sources.columns import decode
from verify.sources.open import reader_for

_read_pool = ThreadPoolExecutor(8, thread_name_prefix="verify-read")


@dataclass(frozen=True)
class RunContext:
    """What every segment of a run shares; the URLs stay in memory, never in a file or a log
    (nor in a repr: a task's repr may reach a log or an executor's task list)."""

    urls: dict[str, str] = field(repr=False)  # with passwords: never in a repr or a traceback
    reader: str
    out_dir: str
    throttles: dict[str, Throttle]  # per side
    settle: tuple[str, dt.datetime] | None = None  # leave out keys whose column is at/after this
    algorithm: str = "rows"  # or "checksum": summaries first, rows only where they differ
    retry_delays: tuple[float, ...] = settings.RETRY_DELAYS  # before each new attempt of a read


@dataclass(frozen=True)
class SegmentTask:
    """One unit of work."""

    plan: EntityPlan
    segment: Segment
    run: RunContext


@dataclass
class SegmentResult:
    entity: str
    index: int
    counts: SegmentCounts
    rules: RuleCounts
    part: str | None

    def to_record(self) -> dict[str, Any]:
        """The segment's record in the run directory, from which totals are merged."""
        return {
            "entity": self.entity,
            "index": self.index,
            "counts": dataclasses.asdict(self.counts),
            "rules": dataclasses.asdict(self.rules),
            "part": self.part and os.path.basename(self.part),
        }

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SegmentResult:
        return cls(
            record["entity"],
            int(record["index"]),
            SegmentCounts(**record["counts"]),
            RuleCounts(**record["rules"]),
            record["part"],
        )


def _read(task: SegmentTask, side: str, sql: str) -> pl.DataFrame:
    """A query on one side; a read that fails on a transient error (connection lost, server
    restarting, a timeout) is tried again after each of the run's retry delays, before the
    segment is given up. Any other error (the query's own) fails the segment at once."""
    reader = reader_for(task.run.urls[side], task.run.reader)
    throttle = task.run.throttles[side]
    for delay in (*task.run.retry_delays, None):
        try:
            with throttle.connection():
                return reader.read(sql)
        except SourceError as exc:
            if delay is None or not reader.dialect.transient(exc.reason or str(exc)):
                raise
            time.sleep(delay)
    raise AssertionError("unreachable")


def read_side(task: SegmentTask, side: str, segment: Segment) -> pl.DataFrame:
    """The rows of one side of a (part of a) segment, as the mapping's raw columns."""
    query = task.plan.queries[side]
    dialect = reader_for(task.run.urls[side], task.run.reader).dialect
    df = _read(task, side, segment_sql(query, segment, dialect))
    task.run.throttles[side].account(df.height)
    return decode(df, query.columns)


def run_segment(task: SegmentTask) -> SegmentResult:
    """Diff one segment and write its mismatches; returns the counters to merge.

    With checksums (`--algorithm checksum`), only the parts of the segment whose summaries
    differ are read as rows; the rest count as compared and matched without a row read.
    """
    plan = task.plan
    counts = SegmentCounts()
    if task.run.algorithm == "checksum" and plan.checksum is not None and task.segment.keys is None:
        leaves, equal = _narrow(task)
        counts.rows_old = counts.rows_new = counts.compared = counts.matched = equal
    else:
        leaves = [task.segment]
    found = []
    for leaf in leaves:
        records, leaf_counts = _diff_rows(task, leaf)
        counts.add(leaf_counts)
        if records.height:
            found.append(records)
    diffs = pl.concat(found, how="vertical_relaxed") if found else None
    rule_counts = count_records(diffs, list(plan.keys)) if diffs is not None else RuleCounts({}, {})
    part = None
    if diffs is not None:
        part = rundir.write_part(task.run.out_dir, plan.name, task.segment.index, diffs)
    result = SegmentResult(plan.name, task.segment.index, counts, rule_counts, part)
    rundir.write_segment(task.run.out_dir, plan.name, task.segment.index, result.to_record())
    return result


def _diff_rows(task: SegmentTask, segment: Segment) -> tuple[pl.DataFrame, SegmentCounts]:
    """Read a (part of a) segment from both sides as rows, compare and classify it."""
    # Both sides are read at once: each waits on its own server.
    old_f = _read_pool.submit(read_side, task, "old", segment)
    new_raw = read_side(task, "new", segment)
    old_raw = old_f.result()
    plan = task.plan
    old = canonicalize(old_raw, plan.recipes["old"])
    new = canonicalize(new_raw, plan.recipes["new"])
    if segment.keys is not None:  # --only-previous-mismatches: exactly the keys asked for
        old, new = only_keys(old, segment.keys, plan.keys), only_keys(new, segment.keys, plan.keys)
    old, new = restrict(old, plan.subset, plan.keys), restrict(new, plan.subset, plan.keys)
    read = old_raw.height + new_raw.height
    del old_raw, new_raw
    skipped = 0
    if task.run.settle is not None and task.run.settle[0] in old.columns:
        old, new, skipped = _settle(old, new, list(plan.keys), *task.run.settle)
    differences, counts = compare(old, new, list(plan.keys), list(plan.checks))
    counts.skipped_unsettled, counts.rows_read = skipped, read
    del old, new
    return classify(differences, plan.rules), counts


def _narrow(task: SegmentTask) -> tuple[list[Segment], int]:
    """What of the segment must be read as rows, and how many rows are known equal.

    Each side summarizes the segment in buckets of about LEAF_ROWS rows, in one query; only
    the buckets whose summaries differ are read (in one query a side). An entity read as one
    segment has no bucket width yet: it is summarized whole first, for its bounds.
    """
    segment, width = task.segment, task.plan.checksum_width
    if width is None:
        old, new = _both(task, segment, None)
        o, n = old[None], new[None]
        if o.same_as(n):
            return [], o.rows
        ends = [whole(v) for v in (o.lo, o.hi, n.lo, n.hi) if v is not None]
        if max(o.rows, n.rows) <= checksum.LEAF_ROWS or not ends:
            return [segment], 0
        width = checksum.bucket_width(min(ends), max(ends), max(o.rows, n.rows))
    ranges, equal = checksum.differing_ranges(*_both(task, segment, width), width, segment.lo, segment.hi)
    if ranges is None:
        return [segment], 0
    return ([dataclasses.replace(segment, ranges=tuple(ranges))] if ranges else []), equal


def _both(
    task: SegmentTask, segment: Segment, width: int | None
) -> tuple[dict[int | None, checksum.Summary], dict[int | None, checksum.Summary]]:
    old = _read_pool.submit(_summaries, task, "old", segment, width)  # both sides at once
    new = _summaries(task, "new", segment, width)
    return old.result(), new


def _summaries(
    task: SegmentTask, side: str, segment: Segment, width: int | None
) -> dict[int | None, checksum.Summary]:
    """The side's summary of the segment (under the key None), or of each bucket in it."""
    query = task.plan.queries[side]
    assert task.plan.checksum is not None and query.partition_sql is not None
    dialect = reader_for(task.run.urls[side], task.run.reader).dialect
    columns = checksum.summary_columns(task.plan.checksum[side], query.partition_sql, dialect)
    frame = _read(
        task, side, checksum.summary_sql(segment_sql(query, segment, dialect, columns), dialect, width)
    )
    if width is None:
        rows, keys, total, lo, hi = first_row(frame)
        return {None: checksum.Summary(int(rows or 0), int(keys or 0), str(total), lo, hi)}
    return {
        (None if b is None else int(b)): checksum.Summary(int(rows), int(keys), str(total), None, None)
        for b, rows, keys, total in frame.iter_rows()
    }


def _settle(
    old: pl.DataFrame, new: pl.DataFrame, keys: list[str], column: str, cutoff: dt.datetime
) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """Leave out, on both sides, every key whose row changed at or after `cutoff` on either side
    (it may be in flight between the stores); returns how many keys were left out."""
    recent = pl.col(column) >= cutoff
    unsettled = pl.concat([old.filter(recent).select(keys), new.filter(recent).select(keys)]).unique()
    if unsettled.is_empty():
        return old, new, 0
    drop = functools.partial(pl.DataFrame.join, other=unsettled, on=keys, how="anti", nulls_equal=True)
    return drop(old), drop(new), unsettled.height
