"""Run a diff: plan every entity, execute its segments on an executor, merge their records.

The run directory's files other than the segments' records are written by the run's RunRecorder
(verify.results.recorder); progress goes to `DiffOptions.on_progress`, for the CLI to draw.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from verify.engine import transient
from verify.engine.compare import SegmentCounts
from verify.engine.executors import make_executor
from verify.engine.explain import explain, explain_missing
from verify.engine.plan import EntityPlan, plan_entity
from verify.engine.progress import OnProgress, ProgressEvent, SegmentsRead, Stopping
from verify.engine.rules import CATCH_ALL, TRANSIENT
from verify.engine.segments import Segment
from verify.engine.subset import Subset
from verify.engine.throttle import Throttle
from verify.engine.worker import RunContext, SegmentResult, SegmentTask
from verify.errors import (
    EXIT_INTERRUPTED,
    MappingError,
    RunDirError,
    SourceError,
    UsageError,
    VerifyError,
)
from verify.mapping import file_sha256, load_mapping
from verify.results import rundir
from verify.results.history import RunIdentity
from verify.results.info import RunInfo
from verify.results.recorder import RunRecorder
from verify.results.summary import EntitySummary, RuleCount, RunResult
from verify.settings import retry_delays
from verify.sources.open import close_readers, reader_for
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
    only_previous_mismatches: str | None = None  # an earlier run dir: re-check only its keys
    resume: bool = False  # out_dir is a partial run to finish
    max_connections: int | None = None  # reads at once per source (default: workers)
    max_rows_per_second: float | None = None  # per source, averaged over the run
    settle_column: str | None = None  # leave out keys changed on either side ...
    settle_seconds: float = 0.0  # ... this recently before the run started
    recheck_after: float | None = None  # read differing keys again after so many seconds
    algorithm: str = "rows"  # rows | checksum | auto
    subset: Subset | None = None  # a key-hashed sample and/or a rollout stage's cohort
    executor: str = "local"  # where segments run: "local" (a pool of `workers` threads) or "dask"
    scheduler: str | None = None  # the Dask scheduler's address, for executor="dask"
    # Told how the segment reads go, and of Ctrl-C's wait (the CLI draws it); None: nobody.
    on_progress: OnProgress | None = field(default=None, compare=False, repr=False)


def plan_run(
    options: DiffOptions, bounds: dict[str, list[Segment]] | None = None
) -> tuple[list[EntityPlan], dict[str, SourceURL], str]:
    """Load the mapping and plan each chosen entity against the live schemas.

    `bounds` (when resuming) are the segments a run was planned with, kept as they were.
    """
    mapping = load_mapping(options.mapping_path)
    unknown = [e for e in options.entities if e not in mapping.entities]
    if unknown:
        raise UsageError(
            f"--entity {unknown[0]} is not in {options.mapping_path}; "
            f"entities there: {', '.join(mapping.entities)}"
        )
    urls = {"old": SourceURL.parse(options.old_url, "old"), "new": SourceURL.parse(options.new_url, "new")}
    with ThreadPoolExecutor(2) as pool:  # both sources are probed at once
        pending = {
            side: pool.submit(reader_for, url, options.reader, side)
            for side, url in (("old", options.old_url), ("new", options.new_url))
        }
        readers = {side: f.result() for side, f in pending.items()}
    chosen = options.entities or tuple(mapping.entities)
    plans, failed = [], []
    for name in chosen:  # every entity is planned, so that all problems are told at once
        try:
            plans.append(
                plan_entity(
                    mapping.entities[name],
                    readers,
                    mapping,
                    options.segment_rows,
                    segments=tuple(bounds[name]) if bounds is not None else None,
                    subset=options.subset,
                )
            )
        except (MappingError, SourceError) as exc:
            failed.append((mapping.entities[name].line, exc))
    if len(failed) == 1:
        raise failed[0][1]
    if failed:
        problems: list[tuple[int | None, str]] = []
        for line, error in failed:
            found = error.problems if isinstance(error, MappingError) else [(line, str(error))]
            problems += [p for p in found if p not in problems]
        raise MappingError(mapping.path, problems)
    return plans, urls, mapping.sha256


def run_diff(options: DiffOptions) -> RunResult:
    """The whole `verify diff`: returns the result; the run directory holds the details.

    Each finished segment leaves a record in the run directory, and the totals are merged from
    those records, so a run that is resumed (`options.resume`) reads only the segments that
    were not finished and counts every segment exactly once. Ctrl-C stops at the segments in
    flight and leaves a partial run (raises Interrupted).
    """
    try:
        return _run(options)
    finally:
        close_readers()  # the sessions readers keep between reads end with the run


def _run(options: DiffOptions) -> RunResult:
    started = time.monotonic()
    start_at = dt.datetime.now(dt.UTC)
    out_dir = options.out_dir or rundir.default_run_dir(start_at)
    recorder = RunRecorder(out_dir, options.resume)
    recorder.check()  # a bad --out is found before any source is opened
    resumed, bounds = _resumable(options) if options.resume else (None, None)
    if resumed is not None:
        options = _as_recorded(options, resumed.options)
    report = options.on_progress or _unheard
    executor = make_executor(
        options.executor,
        options.workers,
        options.scheduler,
        options.max_connections,
        on_stop=lambda in_flight: report(Stopping(in_flight)),
    )
    plans, urls, sha = plan_run(options, bounds)
    recheck_notes: tuple[str, ...] = ()
    planned = {p.name: [{"index": s.index, "lo": s.lo, "hi": s.hi} for s in p.segments] for p in plans}
    if options.only_previous_mismatches:
        plans, recheck_notes = _recheck(plans, options)
    settle = _settle_cutoff(options, plans, resumed, start_at)
    identity = RunIdentity(sha, urls["old"].masked, urls["new"].masked, tuple(sorted(p.name for p in plans)))
    algorithm, why = _algorithm(options, out_dir, resumed, identity)
    recorder.create()
    done = rundir.read_segments(out_dir)
    try:
        executor.open(out_dir)  # a cluster that cannot use out_dir is bad input, said here
    except VerifyError:
        recorder.discard()
        raise
    connections = options.max_connections or executor.capacity
    throttles = {side: Throttle(connections, options.max_rows_per_second) for side in ("old", "new")}
    context = RunContext(
        {"old": options.old_url, "new": options.new_url},
        options.reader,
        out_dir,
        throttles,
        settle,
        algorithm,
        retry_delays(),
    )
    tasks = [SegmentTask(p, s, context) for p in plans for s in p.segments if (p.name, s.index) not in done]
    total = sum(len(p.segments) for p in plans)
    segments: dict[str, Any] = {"total": total, "done": total - len(tasks), "failed": []}
    if resumed is None:
        recorded = {
            "entities": [p.name for p in plans],
            "workers": options.workers,
            **executor.describe(),
            "segment_rows": options.segment_rows,
            "reader": options.reader,
            "max_connections": connections,
            "max_rows_per_second": options.max_rows_per_second,
            "settle": settle and {"column": settle[0], "changed_before": settle[1].isoformat()},
            "recheck_after": options.recheck_after,
            "algorithm": algorithm,
            "algorithm_reason": why,
            "only_previous_mismatches": options.only_previous_mismatches and recheck_notes[0],
            **(options.subset or Subset()).options(),
        }
        masked = {side: url.masked for side, url in urls.items()}
        recorder.start_new(options.mapping_path, sha, masked, start_at, recorded, plans, planned, segments)
    else:
        recorder.start_resumed(resumed, start_at, segments)

    failures, interrupted = _execute(executor, tasks, plans, context, options, segments, report)
    merged = _merged(plans, out_dir)  # from the segment records on disk: each segment exactly once
    segments["done"] = sum(t.segments for t in merged.values())
    status = "complete" if segments["done"] == total else "partial"
    summaries = {name: t.summary() for name, t in merged.items()}
    notes = (
        tuple(n for p in plans for n in p.notes)
        + recheck_notes[1:]
        + _result_notes(plans, summaries, options)
    )
    subset = (options.subset or Subset()).summary()
    explained = tuple(
        s
        for p in plans
        for s in (
            *explain(p.name, rundir.parts(out_dir, p.name), p.types),
            *explain_missing(p.name, merged[p.name].counts.missing_values),
        )
    )
    seconds = time.monotonic() - started
    result = RunResult(out_dir, status, summaries, tuple(failures), notes, seconds, subset, explained)
    recorder.finish(result, segments, interrupted)
    if interrupted:
        raise Interrupted(result)
    return result


def _unheard(event: ProgressEvent) -> None:
    """The progress of a run nobody follows (no `on_progress`)."""


def _execute(
    executor: Any,
    tasks: list[SegmentTask],
    plans: list[EntityPlan],
    context: RunContext,
    options: DiffOptions,
    segments: dict[str, Any],
    report: OnProgress,
) -> tuple[list[str], bool]:
    """Run the segments (and the recheck), counting them in `segments` and telling `report`;
    the failures, and whether Ctrl-C stopped the run."""
    failures: list[str] = []
    interrupted = False
    read = SegmentsRead(0, len(tasks), 0)
    report(read)
    runs = executor.run(tasks)
    try:
        for task, outcome in runs:
            if isinstance(outcome, BaseException):
                failures.append(f"{task.plan.name} segment {task.segment.index}: {outcome}")
                segments["failed"].append(
                    {"entity": task.plan.name, "index": task.segment.index, "error": str(outcome)}
                )
            else:
                segments["done"] += 1
                rows = outcome.counts.rows_old + outcome.counts.rows_new
                read = dataclasses.replace(read, done=read.done + 1, rows=read.rows + rows)
                report(read)
        if options.recheck_after is not None:
            failures += transient.recheck(plans, context, options.recheck_after, executor)
    except KeyboardInterrupt:
        interrupted = True
        failures.append("interrupted (Ctrl-C)")
        # Where Ctrl-C met this loop rather than the executor's wait, the executor still drops
        # the segments not started and waits for those running (and says so); where it met the
        # executor, the executor has done that and is finished, and this throw only re-raises.
        with contextlib.suppress(KeyboardInterrupt):
            runs.throw(KeyboardInterrupt())
    finally:
        runs.close()  # whatever ended the loop, the executor's run ends before the executor does
        report(dataclasses.replace(read, ended=True))
        executor.close()
    return failures, interrupted


def _merged(plans: list[EntityPlan], out_dir: str) -> dict[str, _Totals]:
    """Each entity's totals, merged from its segments' records; a segment without one failed."""
    merged = {p.name: _Totals(p) for p in plans}
    records = rundir.read_segments(out_dir)
    for p in plans:
        for s in p.segments:
            record = records.get((p.name, s.index))
            if record is None:
                merged[p.name].failed += 1
            else:
                merged[p.name].add(SegmentResult.from_record(record))
    return merged


def _result_notes(
    plans: list[EntityPlan], summaries: dict[str, EntitySummary], options: DiffOptions
) -> tuple[str, ...]:
    """What the counts alone do not say: an entity empty on both sides, a key that is no key."""
    empty = tuple(
        # Agreeing on nothing is not evidence: say so, so that a wrong table, database or
        # `where` is not taken for a clean migration.
        f"'{name}' is empty on both sides: no rows were compared; check its tables, 'where:' "
        "and the databases in the URLs if rows were expected"
        for name, s in summaries.items()
        if s.rows_old == s.rows_new == 0 and not s.segments_failed
        if not options.only_previous_mismatches  # a re-check reads only some keys
    )
    keys = tuple(
        _not_unique(p, summaries[p.name]) for p in plans if _dominated_by_duplicates(summaries[p.name])
    )
    return empty + keys


def _dominated_by_duplicates(s: EntitySummary) -> bool:
    return s.compared > 0 and s.duplicate_keys * 2 > s.compared


def _not_unique(plan: EntityPlan, s: EntitySummary) -> str:
    """Say why nearly every key is a duplicate: the mapped key is no key of a side."""
    why = [n for n in plan.type_notes if n.startswith("key (")]
    return (
        f"'{plan.name}': {s.duplicate_keys:,} of {s.compared:,} keys are held by more than one row: the key "
        f"({', '.join(plan.keys)}) is not unique; check 'key:' in the mapping"
        + (f" ({why[0]})" if why else "")
    )


AUTO_CHECKSUM_BELOW = 0.01  # auto: checksums when the previous run found under 1% rows differing


def _algorithm(
    options: DiffOptions, out_dir: str, resumed: RunInfo | None, identity: RunIdentity
) -> tuple[str, str]:
    """rows or checksum, and why; `auto` looks at the previous comparable run (RunIdentity)."""
    if resumed is not None:
        return str(resumed.options.get("algorithm", "rows")), "as the run being resumed"
    if options.algorithm != "auto":
        return options.algorithm, "asked for"
    from verify.results.history import comparable, runs_in

    parent = os.path.dirname(os.path.abspath(out_dir))
    earlier = comparable(runs_in(parent, options.mapping_path), identity, full_only=True)
    if not earlier:
        return "rows", "auto: no earlier run of this mapping against these stores to go by"
    last = earlier[-1]
    entities = last.summary.entities.values()
    compared = sum(e.compared for e in entities)
    differing = sum(
        e.missing_in_new + e.extra_in_new + e.duplicate_keys + e.value_mismatch_rows for e in entities
    )
    rate = differing / compared if compared else 1.0
    choice = "checksum" if rate < AUTO_CHECKSUM_BELOW else "rows"
    return choice, f"auto: {rate:.3%} of rows differed in {last.id}"


def _settle_cutoff(
    options: DiffOptions, plans: list[EntityPlan], resumed: RunInfo | None, start_at: dt.datetime
) -> tuple[str, dt.datetime] | None:
    """(column, instant): keys changed at or after it are left out; a resumed run keeps its own."""
    if resumed is not None:
        stored = resumed.options.get("settle")
        return (stored["column"], dt.datetime.fromisoformat(stored["changed_before"])) if stored else None
    column = options.settle_column
    if column is None:
        return None
    types = {p.name: p.types.get(column) or "-" for p in plans}
    if not any(t.startswith("timestamp") for t in types.values()):
        shown = ", ".join(f"{name} {t}" for name, t in types.items())
        raise UsageError(
            f"--settle-column {column}: no entity compares a timestamp column of that name "
            f"(its type per entity: {shown}); name a compared timestamp column, such as the "
            "rows' last-change time"
        )
    return column, start_at - dt.timedelta(seconds=options.settle_seconds)


def _resumable(options: DiffOptions) -> tuple[RunInfo, dict[str, list[Segment]]]:
    """The run.json of the run to resume and the segments it was planned with, once it is sure
    that the run is partial and is resumed with its own mapping, stores and options."""
    assert options.out_dir
    out_dir = options.out_dir
    run = rundir.read_resumable(out_dir)
    if run.status == "complete":
        raise UsageError(f"{out_dir} is a complete run; there is nothing to resume")
    if run.only_previous_mismatches != options.only_previous_mismatches or (
        options.entities and list(options.entities) != run.entities
    ):
        raise UsageError(
            f"--resume {out_dir}: give the same --entity and --only-previous-mismatches as "
            "the run had, or none (they are taken from its run.json)"
        )
    stored = run.options
    asked = (options.subset or Subset()).options()
    if any(stored.get(k) != v for k, v in asked.items()):
        had = ", ".join(f"{k} {stored.get(k)}" for k in asked if stored.get(k) is not None) or "none"
        raise UsageError(
            f"--resume {out_dir}: give the same --sample, --seed, --stage and --policy as the run had ({had})"
        )
    for side, raw, recorded in (("old", options.old_url, run.old_url), ("new", options.new_url, run.new_url)):
        masked = SourceURL.parse(raw, side).masked
        if recorded != masked:
            raise RunDirError(
                f"the run in {out_dir} read --{side} {recorded}, not {masked}; resume it with the same stores"
            )
    if os.path.isfile(options.mapping_path) and file_sha256(options.mapping_path) != run.mapping_sha256:
        raise RunDirError(
            f"the mapping {options.mapping_path} changed since the run in {out_dir} started; "
            "its finished segments would not match: start a new run"
        )
    try:
        bounds = {
            name: [Segment(name, b["index"], b["lo"], b["hi"]) for b in plan["bounds"]]
            for name, plan in run.plan.items()
        }
    except (KeyError, TypeError):
        raise RunDirError(
            f"{out_dir}/run.json does not list its segments (an older verify wrote it, or it was "
            "edited); it cannot be resumed: start a new run"
        ) from None
    return run, bounds


# Options a resumed run keeps from its run.json, with the value they have when not given.
RESUMED_OPTIONS = {
    "max_connections": None,
    "max_rows_per_second": None,
    "recheck_after": None,
    "reader": "auto",
    "segment_rows": 50_000,
}


def _as_recorded(options: DiffOptions, stored: dict[str, Any]) -> DiffOptions:
    """The options of a resumed run: as it recorded them. Given again, an option must say the
    same: a resume that read faster, or with another reader, than the run it finishes would not
    be that run."""
    kept: dict[str, Any] = {}
    for name, unset in RESUMED_OPTIONS.items():
        given, recorded = getattr(options, name), stored.get(name, unset)
        if given != unset and given != recorded:
            flag = "--" + name.replace("_", "-")
            had = "none" if recorded is None else f"{recorded:g}" if isinstance(recorded, float) else recorded
            shown = f"{given:g}" if isinstance(given, float) else given
            raise UsageError(
                f"--resume {options.out_dir}: the run had {flag} {had}, not {shown}; leave {flag} "
                "out (a resumed run keeps its options) or start a new run"
            )
        kept[name] = recorded
    return dataclasses.replace(options, **kept)


class Interrupted(VerifyError):
    """Ctrl-C: the run directory holds a partial run that `verify diff --resume` finishes."""

    exit_code = EXIT_INTERRUPTED

    def __init__(self, result: RunResult) -> None:
        self.result = result
        super().__init__(
            f"interrupted: {result.run_dir} holds a partial run; finish it with "
            f"verify diff --resume {result.run_dir} --old URL --new URL"
        )


def _recheck(plans: list[EntityPlan], options: DiffOptions) -> tuple[list[EntityPlan], tuple[str, ...]]:
    """Narrow the plans to the keys that differed in an earlier run (--only-previous-mismatches).

    Returns the plans and (the earlier run's path with `latest` resolved, then notes).
    """
    from verify.engine.recheck import previous_keys, restrict_plan

    assert options.only_previous_mismatches
    keys, earlier = previous_keys(options.only_previous_mismatches, plans)
    given = options.only_previous_mismatches.rstrip("/")
    resolved = os.path.join(os.path.dirname(given), earlier.id)
    kept = [p for p in plans if p.name in earlier.entities or options.entities]
    notes = [
        f"re-checked only the {sum(keys[p.name].height for p in kept):,} keys that differed in {resolved}"
    ]
    left_out = [p.name for p in plans if p not in kept]
    if left_out:
        notes.append(f"not re-checked (not in {resolved}): {', '.join(left_out)}")
    return [restrict_plan(p, keys[p.name]) for p in kept], (resolved, *notes)


class _Totals:
    """Counters of one entity, merged from its segments exactly once each."""

    def __init__(self, plan: EntityPlan) -> None:
        self.plan = plan
        self.counts = SegmentCounts()
        self.by_rule: dict[str, dict[str, Any]] = {}
        self.rows_by_severity: dict[str, int] = {}
        self.segments = 0
        self.failed = 0

    def add(self, r: SegmentResult) -> None:
        self.counts.add(r.counts)
        self.segments += 1
        for severity, n in r.rules.rows_by_severity.items():
            self.rows_by_severity[severity] = self.rows_by_severity.get(severity, 0) + n
        for rule, c in r.rules.by_rule.items():
            into = self.by_rule.setdefault(rule, {"rows": 0, "cells": 0, "columns": {}})
            into["rows"] += c["rows"]
            into["cells"] += c["cells"]
            for column, n in c["columns"].items():
                into["columns"][column] = into["columns"].get(column, 0) + n

    def summary(self) -> EntitySummary:
        c = self.counts
        # Every rule of the mapping is listed, in order, even with nothing to explain this run.
        by_rule = {}
        for rule in (*self.plan.rules, TRANSIENT, CATCH_ALL):
            n = self.by_rule.get(rule.name, {"rows": 0, "cells": 0, "columns": {}})
            if rule in (TRANSIENT, CATCH_ALL) and not n["cells"]:
                continue
            by_rule[rule.name] = RuleCount(
                rule.severity, n["rows"], n["cells"], dict(sorted(n["columns"].items())), **rule.meta()
            )
        return EntitySummary(
            rows_old=c.rows_old,
            rows_new=c.rows_new,
            compared=c.compared,
            matched=c.matched,
            missing_in_new=c.missing_in_new,
            extra_in_new=c.extra_in_new,
            duplicate_keys=c.duplicate_keys,
            value_mismatch_rows=c.value_mismatch_rows,
            skipped_unsettled=c.skipped_unsettled,
            rows_read=c.rows_read,
            blocking_rows=self.rows_by_severity.get("block", 0),
            warning_rows=self.rows_by_severity.get("warn", 0),
            accepted_rows=self.rows_by_severity.get("accept", 0),
            by_rule=by_rule,
            by_column=dict(sorted(c.by_column.items())),
            segments=self.segments,
            segments_failed=self.failed,
            unpaired_columns={side: list(cols) for side, cols in self.plan.unpaired.items()},
        )
