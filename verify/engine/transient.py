"""`--recheck-after SECONDS`: read the differing keys again; what matches now was in flight.

While the old system still takes writes, a row can change between the reads of its two sides.
After the run, and a pause, the keys that differed are read again (only the segments holding
them, only those keys); keys that match now are re-attributed to the `transient` rule
(accepted: counted, never blocking), in their mismatch parts and segment records alike. Keys
that still differ keep what the first read found, so a real difference is never hidden.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable

import polars as pl

from verify.engine.executor_base import Executor
from verify.engine.plan import EntityPlan
from verify.engine.recheck import restrict_plan
from verify.engine.rules import TRANSIENT, count_records
from verify.engine.worker import RunContext, SegmentTask
from verify.results import rundir


def recheck(plans: Iterable[EntityPlan], run: RunContext, delay: float, executor: Executor) -> list[str]:
    """Re-read the run's differing keys after `delay` seconds; returns what went wrong (if anything)."""
    time.sleep(delay)
    again = rundir.fresh_recheck(run.out_dir)  # an earlier, interrupted recheck is dropped
    context = dataclasses.replace(run, out_dir=again)
    differed: dict[str, tuple[EntityPlan, pl.DataFrame]] = {}
    tasks = []
    for plan in plans:
        parts = rundir.parts(run.out_dir, plan.name)
        if not parts:
            continue
        keys = pl.scan_parquet(parts).select(plan.keys).unique().collect()
        differed[plan.name] = (plan, keys)
        narrowed = restrict_plan(plan, keys)
        tasks += [SegmentTask(narrowed, s, context) for s in narrowed.segments]
    failures = [f"{t.plan.name}: {o}" for t, o in executor.run(tasks) if isinstance(o, BaseException)]
    if failures:  # without a complete second read nothing can be called transient
        return [f"--recheck-after: the second read failed, nothing marked transient ({failures[0]})"]
    for name, (plan, _) in differed.items():
        still = rundir.parts(again, name)
        persisting = pl.scan_parquet(still).select(plan.keys).unique().collect() if still else None
        for part in rundir.parts(run.out_dir, name):
            _mark_transient(run.out_dir, plan, part, persisting)
    return []


def _mark_transient(out_dir: str, plan: EntityPlan, part: str, persisting: pl.DataFrame | None) -> None:
    """Re-attribute a part's records whose key matched on the second read; its segment record too."""
    records = pl.read_parquet(part)
    keys = list(plan.keys)
    if persisting is None:
        gone = pl.lit(True)
    else:
        flagged = persisting.with_columns(pl.lit(False).alias("__gone"))
        records = records.join(flagged, on=keys, how="left", nulls_equal=True, maintain_order="left")
        gone = pl.col("__gone").is_null()
    marked = records.with_columns(
        pl.when(gone).then(pl.lit(TRANSIENT.name)).otherwise(pl.col("rule")).alias("rule"),
        pl.when(gone).then(pl.lit(TRANSIENT.severity)).otherwise(pl.col("severity")).alias("severity"),
    ).drop("__gone", strict=False)
    rundir.rewrite_part(part, marked)
    index = rundir.part_index(part)
    record = rundir.read_segment(out_dir, plan.name, index)
    record["rules"] = dataclasses.asdict(count_records(marked, keys))
    rundir.write_segment(out_dir, plan.name, index, record)
