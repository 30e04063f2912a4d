"""Diff one segment: read both sides, canonicalize, compare, classify, write the mismatch part.

Runs on a worker thread; readers are opened once per source and shared by the threads.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from verify import settings
from verify.engine.compare import SegmentCounts, compare
from verify.engine.explain import missing_values
from verify.engine.normalize import canonicalize
from verify.engine.plan import EntityPlan
from verify.engine.recheck import only_keys
from verify.engine.rules import RuleCounts, classify, count_records
from verify.engine.segments import Segment, segment_sql
from verify.engine.strategy import strategy_for
from verify.engine.subset import restrict
from verify.engine.throttle import Throttle
from verify.errors import SourceError
from verify.results import rundir
from verify.sources.columns import decode
from verify.sources.dialects import Dialect
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

    The run's strategy (engine/strategy.py) says which parts of the segment to read as rows;
    what it already knows to be equal counts as compared and matched without a row read.
    """
    plan = task.plan
    strategy = strategy_for(task.run.algorithm, plan, task.segment)
    leaves, equal = strategy.narrow(plan, task.segment, _Sides(task))
    counts = SegmentCounts()
    counts.rows_old = counts.rows_new = counts.compared = counts.matched = equal
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


class _Sides:
    """The two sources of one task, as a strategy asks them (see strategy.Sides)."""

    def __init__(self, task: SegmentTask) -> None:
        self.task = task

    def dialect(self, side: str) -> Dialect:
        return reader_for(self.task.run.urls[side], self.task.run.reader).dialect

    def read(self, side: str, sql: str) -> pl.DataFrame:
        return _read(self.task, side, sql)

    def both(self, fn: Callable[[str], Any]) -> tuple[Any, Any]:
        old = _read_pool.submit(fn, "old")
        new = fn("new")
        return old.result(), new


def _diff_rows(task: SegmentTask, segment: Segment) -> tuple[pl.DataFrame, SegmentCounts]:
    """Read a (part of a) segment from both sides as rows, compare and classify it."""
    # Both sides are read at once: each waits on its own server.
    old_f = _read_pool.submit(read_side, task, "old", segment)
    new_raw = read_side(task, "new", segment)
    plan = task.plan
    read = new_raw.height
    # Each side's raw frame is let go as soon as its canonical one is made: one fewer frame held.
    new = canonicalize(new_raw, plan.recipes["new"])
    del new_raw
    old_raw = old_f.result()
    read += old_raw.height
    old = canonicalize(old_raw, plan.recipes["old"])
    del old_raw
    if segment.keys is not None:  # --only-previous-mismatches: exactly the keys asked for
        old, new = only_keys(old, segment.keys, plan.keys), only_keys(new, segment.keys, plan.keys)
    old, new = restrict(old, plan.subset, plan.keys), restrict(new, plan.subset, plan.keys)
    skipped = 0
    if task.run.settle is not None and task.run.settle[0] in old.columns:
        old, new, skipped = _settle(old, new, list(plan.keys), *task.run.settle)
    differences, counts = compare(old, new, list(plan.keys), list(plan.checks))
    counts.skipped_unsettled, counts.rows_read = skipped, read
    records = classify(differences, plan.rules)
    counts.missing_values = missing_values(differences.rows, records, old, list(plan.keys))
    del old, new
    return records, counts


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
