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
from dataclasses import dataclass
from typing import Any

import polars as pl

from verify.engine.compare import SegmentCounts, compare
from verify.engine.normalize import canonicalize
from verify.engine.plan import EntityPlan, Segment, segment_sql
from verify.engine.recheck import only_keys
from verify.engine.rules import RuleCounts, classify
from verify.engine.throttle import Throttle
from verify.errors import SourceError
from verify.results import rundir
from verify.sources.open import reader_for

_read_pool = ThreadPoolExecutor(8, thread_name_prefix="verify-read")


@dataclass(frozen=True)
class RunContext:
    """What every segment of a run shares; the URLs stay in memory, never in a file or a log
    (nor in a repr: a task's repr may reach a log or an executor's task list)."""

    urls: dict[str, str] = dataclasses.field(repr=False)
    reader: str
    out_dir: str
    throttles: dict[str, Throttle]  # per side
    settle: tuple[str, dt.datetime] | None = None  # leave out keys whose column is at/after this


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


RETRY_DELAYS = (0.5, 2.0, 5.0)  # seconds before each new attempt of a read that failed


def read_side(task: SegmentTask, side: str) -> pl.DataFrame:
    """One side of the segment; a read that fails (connection lost, server restarting) is tried
    again after a pause, up to len(RETRY_DELAYS) times, before the segment is given up."""
    reader = reader_for(task.run.urls[side], task.run.reader)
    query = task.plan.queries[side]
    sql = segment_sql(query, task.segment, reader.dialect)
    throttle = task.run.throttles[side]
    for delay in (*RETRY_DELAYS, None):
        try:
            with throttle.connection():
                df = reader.read(sql)
            break
        except SourceError:
            if delay is None:
                raise
            time.sleep(delay)
    throttle.account(df.height)
    if query.decimal_text:
        df = df.with_columns(pl.col(c).cast(pl.Decimal(38, s)) for c, s in query.decimal_text)
    return df


def run_segment(task: SegmentTask) -> SegmentResult:
    """Diff one segment and write its mismatches; returns the counters to merge."""
    # Both sides are read at once: each waits on its own server.
    old_f = _read_pool.submit(read_side, task, "old")
    new_raw = read_side(task, "new")
    old_raw = old_f.result()
    plan = task.plan
    old = canonicalize(old_raw, plan.recipes["old"])
    new = canonicalize(new_raw, plan.recipes["new"])
    if task.segment.keys is not None:  # --only-previous-mismatches: exactly the keys asked for
        old, new = only_keys(old, task.segment.keys, plan.keys), only_keys(new, task.segment.keys, plan.keys)
    del old_raw, new_raw
    skipped = 0
    if task.run.settle is not None and task.run.settle[0] in old.columns:
        old, new, skipped = _settle(old, new, list(plan.keys), *task.run.settle)
    differences, counts = compare(old, new, list(plan.keys), list(plan.checks))
    counts.skipped_unsettled = skipped
    del old, new
    diffs, rule_counts = classify(differences, plan.rules)
    part = None
    if diffs.height:
        folder = os.path.join(task.run.out_dir, "mismatches", plan.name)
        os.makedirs(folder, exist_ok=True)
        part = os.path.join(folder, f"part-{task.segment.index:06d}.parquet")
        tmp = part + rundir.tmp_suffix()
        diffs.write_parquet(tmp, compression="zstd")
        os.replace(tmp, part)
    result = SegmentResult(plan.name, task.segment.index, counts, rule_counts, part)
    rundir.write_segment(task.run.out_dir, plan.name, task.segment.index, result.to_record())
    return result


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
