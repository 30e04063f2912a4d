"""Diff one segment: read both sides, canonicalize, compare, classify, write the mismatch part.

Runs on a worker thread; readers are opened once per source and shared by the threads.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import polars as pl

from verify.engine.classify import classify
from verify.engine.compare import SegmentCounts, compare
from verify.engine.normalize import canonicalize
from verify.engine.plan import EntityPlan, Segment, segment_sql
from verify.engine.subset import restrict
from verify.sources.open import reader_for

_read_pool = ThreadPoolExecutor(8, thread_name_prefix="verify-read")


@dataclass(frozen=True)
class SegmentTask:
    """One unit of work; the URLs stay in memory, never in a file or a log."""

    plan: EntityPlan
    segment: Segment
    urls: dict[str, str]
    reader: str
    out_dir: str


@dataclass
class SegmentResult:
    entity: str
    index: int
    counts: SegmentCounts
    by_rule: dict[str, dict[str, Any]]
    blocking_rows: int
    part: str | None


def read_side(task: SegmentTask, side: str) -> pl.DataFrame:
    reader = reader_for(task.urls[side], task.reader)
    query = task.plan.queries[side]
    df: pl.DataFrame = pl.from_arrow(reader.read(segment_sql(query, task.segment, reader.dialect)))  # type: ignore[assignment]
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
    del old_raw, new_raw
    old, new = restrict(old, plan.subset, plan.keys), restrict(new, plan.subset, plan.keys)
    diffs, counts = compare(old, new, list(plan.keys), list(plan.checks))
    del old, new
    diffs, by_rule, blocking = classify(diffs, plan, counts)
    part = None
    if diffs.height:
        folder = os.path.join(task.out_dir, "mismatches", plan.name)
        os.makedirs(folder, exist_ok=True)
        part = os.path.join(folder, f"part-{task.segment.index:06d}.parquet")
        tmp = part + f".tmp-{os.getpid()}"
        diffs.write_parquet(tmp, compression="zstd")
        os.replace(tmp, part)
    return SegmentResult(plan.name, task.segment.index, counts, by_rule, blocking, part)
