"""Run a diff: plan every entity, execute its segments on a worker pool, write the run directory."""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from verify import __version__
from verify.engine.compare import SegmentCounts
from verify.engine.plan import EntityPlan, plan_entity
from verify.engine.subset import Subset
from verify.engine.worker import SegmentResult, SegmentTask, run_segment
from verify.errors import RunError, UsageError, VerifyError
from verify.mapping import load_mapping
from verify.results import rundir
from verify.results.summary import EntitySummary, RuleCount, RunResult
from verify.sources.open import reader_for
from verify.sources.urls import SourceURL


@dataclass(frozen=True)
class DiffOptions:
    mapping_path: str
    old_url: str
    new_url: str
    entities: tuple[str, ...] = ()
    out_dir: str | None = None
    workers: int = 1
    segment_rows: int = 50_000
    reader: str = "auto"
    progress: bool = False
    subset: Subset | None = None  # a key-hashed sample and/or a rollout stage's cohort


def plan_run(options: DiffOptions) -> tuple[list[EntityPlan], dict[str, SourceURL], str]:
    """Load the mapping and plan each chosen entity against the live schemas."""
    mapping = load_mapping(options.mapping_path)
    unknown = [e for e in options.entities if e not in mapping.entities]
    if unknown:
        raise UsageError(
            f"--entity {unknown[0]} is not in {options.mapping_path}; "
            f"entities there: {', '.join(mapping.entities)}"
        )
    urls = {"old": SourceURL.parse(options.old_url, "old"), "new": SourceURL.parse(options.new_url, "new")}
    readers = {
        "old": reader_for(options.old_url, options.reader, "old"),
        "new": reader_for(options.new_url, options.reader, "new"),
    }
    chosen = options.entities or tuple(mapping.entities)
    plans = [
        plan_entity(mapping.entities[name], readers, mapping, options.segment_rows, subset=options.subset)
        for name in chosen
    ]
    return plans, urls, mapping.sha256


def run_diff(options: DiffOptions) -> RunResult:
    """The whole `verify diff`: returns the result; the run directory holds the details."""
    started = time.monotonic()
    start_at = dt.datetime.now(dt.UTC)
    plans, urls, sha = plan_run(options)
    out_dir = options.out_dir or rundir.default_run_dir(start_at)
    rundir.prepare(out_dir)
    tasks = [
        SegmentTask(p, s, {"old": options.old_url, "new": options.new_url}, options.reader, out_dir)
        for p in plans
        for s in p.segments
    ]
    segments: dict[str, Any] = {"total": len(tasks), "done": 0, "failed": []}
    run_info: dict[str, Any] = {
        "status": "running",
        "tool": {"name": "verify", "version": __version__},
        "mapping": {"path": options.mapping_path, "sha256": sha},
        "old_url": urls["old"].masked,
        "new_url": urls["new"].masked,
        "options": {
            "entities": [p.name for p in plans],
            "workers": options.workers,
            "segment_rows": options.segment_rows,
            "reader": options.reader,
            **(options.subset or Subset()).options(),
        },
        "started_at": start_at.isoformat(),
        "ended_at": None,
        "segments": segments,
        "plan": {
            p.name: {
                "segments": len(p.segments),
                "partition": p.partition,
                "types": p.types,
                "notes": list(p.notes),
            }
            for p in plans
        },
    }
    rundir.write_json(os.path.join(out_dir, "run.json"), run_info)

    merged = {p.name: _Totals() for p in plans}
    failures: list[str] = []
    progress = _Progress(len(tasks), options.progress)
    try:
        for task, outcome in _execute(tasks, options.workers):
            if isinstance(outcome, BaseException):
                msg = f"{task.plan.name} segment {task.segment.index}: {outcome}"
                failures.append(msg)
                segments["failed"].append(
                    {"entity": task.plan.name, "index": task.segment.index, "error": str(outcome)}
                )
                merged[task.plan.name].failed += 1
            else:
                merged[task.plan.name].add(outcome)
                segments["done"] += 1
                progress.step(outcome.counts.rows_old + outcome.counts.rows_new)
    finally:
        progress.close()

    status = "complete" if not failures else "partial"
    summaries = {name: t.summary() for name, t in merged.items()}
    notes = tuple(n for p in plans for n in p.notes)
    result = RunResult(
        out_dir,
        status,
        summaries,
        tuple(failures),
        notes,
        time.monotonic() - started,
        (options.subset or Subset()).summary(),
    )
    rundir.write_json(os.path.join(out_dir, "summary.json"), result.to_dict())
    run_info.update(status=status, ended_at=dt.datetime.now(dt.UTC).isoformat())
    rundir.write_json(os.path.join(out_dir, "run.json"), run_info)  # last: marks the run done
    rundir.point_latest(out_dir)
    return result


class _Totals:
    """Counters of one entity, merged from its segments exactly once each."""

    def __init__(self) -> None:
        self.counts = SegmentCounts()
        self.by_rule: dict[str, dict[str, int | str]] = {}
        self.blocking = 0
        self.segments = 0
        self.failed = 0

    def add(self, r: SegmentResult) -> None:
        self.counts.add(r.counts)
        self.blocking += r.blocking_rows
        self.segments += 1
        for rule, c in r.by_rule.items():
            into = self.by_rule.setdefault(rule, {"severity": c["severity"], "rows": 0, "cells": 0})
            into["rows"] = int(into["rows"]) + int(c["rows"])
            into["cells"] = int(into["cells"]) + int(c["cells"])

    def summary(self) -> EntitySummary:
        c = self.counts
        return EntitySummary(
            rows_old=c.rows_old,
            rows_new=c.rows_new,
            compared=c.compared,
            matched=c.matched,
            missing_in_new=c.missing_in_new,
            extra_in_new=c.extra_in_new,
            duplicate_keys=c.duplicate_keys,
            value_mismatch_rows=c.value_mismatch_rows,
            blocking_rows=self.blocking,
            by_rule={
                k: RuleCount(str(v["severity"]), int(v["rows"]), int(v["cells"]))
                for k, v in sorted(self.by_rule.items())
            },
            by_column=dict(sorted(c.by_column.items())),
            segments=self.segments,
            segments_failed=self.failed,
        )


def _execute(
    tasks: list[SegmentTask],
    workers: int,
) -> Iterator[tuple[SegmentTask, SegmentResult | BaseException]]:
    """Run segments on a pool of worker threads; yield each as it finishes.

    Threads, not processes: the work is in ConnectorX and Polars, which release the GIL, so
    threads use the cores as well as processes do (see bench/), without paying each process's
    start-up and a copy of the libraries' memory.
    """
    if workers <= 1 or len(tasks) <= 1:
        for task in tasks:
            yield task, _guarded(task)
        return
    with ThreadPoolExecutor(min(workers, len(tasks)), thread_name_prefix="verify-segment") as pool:
        futures: dict[Future[SegmentResult | BaseException], SegmentTask] = {
            pool.submit(_guarded, t): t for t in tasks
        }
        try:
            for fut in as_completed(futures):
                yield futures[fut], fut.result()
        except BaseException:
            for fut in futures:
                fut.cancel()
            raise


def _guarded(task: SegmentTask) -> SegmentResult | BaseException:
    try:
        return run_segment(task)
    except VerifyError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - a failed segment is recorded, the run goes on
        return RunError(f"{type(exc).__name__}: {exc}")


class _Progress:
    """A one-line progress bar on a terminal: segments, rows per second, ETA."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.enabled = total, enabled and total > 0
        self.done, self.rows, self.start = 0, 0, time.monotonic()

    def step(self, rows: int) -> None:
        self.done += 1
        self.rows += rows
        if not self.enabled:
            return
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.rows / elapsed
        eta = elapsed / self.done * (self.total - self.done)
        width = 24
        filled = int(width * self.done / self.total)
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
            f"segments  {rate:,.0f} rows/s  ETA {eta:4.0f}s "
        )
        sys.stderr.flush()

    def close(self) -> None:
        if self.enabled:
            sys.stderr.write("\n")
