"""A run directory loaded once into a typed, frozen `RunReport` (verify.report.model).

The summary and run info come from the JSON files; samples are read from the mismatch
Parquet parts lazily (the first keys per rule in key order, never the whole table); history
is the per-rule rates of the earlier runs next to this one; the comparison with another run
is in `verify.report.changes`.
"""

from __future__ import annotations

from typing import Any

from verify.errors import RunDirError
from verify.report.changes import compare_runs
from verify.report.model import (
    HISTORY_RUNS,
    SAMPLE_ROWS,
    SEVERITY_ORDER,
    Cell,
    ColumnSample,
    EntityReport,
    HistoryPoint,
    RuleReport,
    RunInfo,
    RunReport,
    SampleRow,
)
from verify.report.parts import collect, scan_parts
from verify.results.history import StoredRun, earlier_runs, previous_run, read_run
from verify.results.summary import EntitySummary


def load_report(
    run_dir: str,
    compare_to: str | None = None,
    compare: bool = True,
    sample_rows: int = SAMPLE_ROWS,
) -> RunReport:
    """Load a run directory into a RunReport.

    Parameters
    ----------
    run_dir
        The run directory (`.verify/runs/latest` works).
    compare_to
        Another run directory to compare with; None picks the previous run, if any.
    compare
        False leaves the comparison out.
    sample_rows
        Sample keys per rule.
    """
    run = read_run(run_dir)
    notes: list[str] = []
    if run.status != "complete":
        notes.append(
            f"this run is {run.status}, not complete: its counts cover only the segments that finished"
        )
    if run.only_previous_mismatches:
        notes.append(f"this run re-checked only the keys that differed in {run.only_previous_mismatches}")
    entities = tuple(_entity(run, name, e, sample_rows) for name, e in run.entities.items())
    history = _history(run)
    comparison = None
    if compare:
        if compare_to is not None:
            other = read_run(compare_to)
            if other.real_path == run.real_path:
                raise RunDirError(f"--compare-to {compare_to} is the run itself; give an earlier run")
            comparison = compare_runs(run, other, "--compare-to")
        else:
            prev, why = previous_run(run)
            if prev is None:
                notes.append(why)
            else:
                comparison = compare_runs(run, prev, "previous run")
    failures = run.summary.failures
    explained = run.summary.explanations
    return RunReport(
        RunInfo.of(run), entities, history, comparison, tuple(notes), sample_rows, failures, explained
    )


def _entity(run: StoredRun, name: str, e: EntitySummary, sample_rows: int) -> EntityReport:
    compared = e.compared
    keys = run.key_columns(name) or []
    samples = read_samples(run.parts(name), keys, sample_rows) if keys else {}
    column_samples = read_column_samples(run.parts(name), keys, sample_rows) if keys else ()
    rules = []
    for rule, r in e.by_rule.items():
        rules.append(
            RuleReport(
                name=rule,
                severity=r.severity,
                rows=r.rows,
                cells=r.cells,
                rate=r.rows / compared if compared else 0.0,
                owner=r.owner,
                ticket=r.ticket,
                note=r.note,
                expires=r.expires,
                expired=r.expired,
                kind=r.kind,
                column=r.column,
                samples=samples.get(rule, ()),
            )
        )
    rules.sort(key=lambda r: (SEVERITY_ORDER.get(r.severity, 0), -r.rows, r.name))
    blocking, failed = e.blocking_rows, e.segments_failed
    if failed:
        verdict = "incomplete"
    elif blocking or any(r.severity == "block" and r.rows for r in rules):
        verdict = "block"
    elif any(r.severity == "warn" and r.rows for r in rules):
        verdict = "warn"
    else:
        verdict = "clean"
    return EntityReport(
        name=name,
        verdict=verdict,
        rows_old=e.rows_old,
        rows_new=e.rows_new,
        compared=compared,
        matched=e.matched,
        missing_in_new=e.missing_in_new,
        extra_in_new=e.extra_in_new,
        duplicate_keys=e.duplicate_keys,
        value_mismatch_rows=e.value_mismatch_rows,
        blocking_rows=blocking,
        blocking_rate=blocking / compared if compared else 0.0,
        segments_failed=failed,
        keys=tuple(keys),
        rules=tuple(rules),
        by_column=tuple(sorted(e.by_column.items())),
        unpaired=tuple((side, tuple(cols)) for side, cols in e.unpaired_columns.items() if cols),
        column_samples=column_samples,
    )


def read_samples(parts: list[str], keys: list[str], limit: int) -> dict[str, tuple[SampleRow, ...]]:
    """The first `limit` keys (in key order) of each rule, with their differences.

    Per rule, a top-k over the key columns picks the keys (bounded memory), then a semi-join
    fetches their cells; the mismatch table is never loaded whole.
    """
    if not parts or limit <= 0:
        return {}
    import polars as pl

    lf = scan_parts(parts)
    what = f"{parts[0].rsplit('/', 2)[-2]}"
    stats = collect(lf.select(pl.col("rule").unique().implode(), pl.col("column").n_unique()), what)
    rules = stats.get_column("rule").to_list()[0]
    # A key has at most one record per column under a rule, plus one for a row-level kind.
    width = int(stats.get_column("column").item()) + 1
    out: dict[str, tuple[SampleRow, ...]] = {}
    for rule in sorted(r for r in rules if r is not None):
        of_rule = lf.filter(pl.col("rule") == rule)
        picked = (
            of_rule.select(keys).sort(keys, nulls_last=True).head(limit * width).unique(maintain_order=True)
        ).head(limit)
        cells = collect(
            of_rule.join(picked, on=keys, how="semi", nulls_equal=True)
            .select(*keys, "kind", "column", "old", "new")
            .sort([*keys, "kind", "column"], nulls_last=True),
            what,
        )
        rows: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for rec in cells.iter_rows(named=True):
            rows.setdefault(tuple(rec[k] for k in keys), []).append(rec)
        out[rule] = tuple(
            SampleRow(
                key=key,
                kind=recs[0]["kind"] if all(r["kind"] == recs[0]["kind"] for r in recs) else "value",
                cells=tuple(Cell(r["column"], r["old"], r["new"]) for r in recs),
            )
            for key, recs in rows.items()
        )
    return out


def read_column_samples(
    parts: list[str], keys: list[str], limit: int
) -> tuple[tuple[str, tuple[ColumnSample, ...]], ...]:
    """Per column with differing values, its first `limit` differing cells in key order."""
    if not parts or limit <= 0:
        return ()
    import polars as pl

    lf = scan_parts(parts).filter(pl.col("kind") == "value")
    what = f"{parts[0].rsplit('/', 2)[-2]}"
    picked = collect(
        lf.sort([*keys], nulls_last=True)
        .group_by("column", maintain_order=True)
        .head(limit)
        .select("column", *keys, "rule", "old", "new"),
        what,
    )
    out: dict[str, list[ColumnSample]] = {}
    for rec in picked.iter_rows(named=True):
        sample = ColumnSample(tuple(rec[k] for k in keys), rec["rule"], rec["old"], rec["new"])
        out.setdefault(rec["column"], []).append(sample)
    return tuple((c, tuple(v)) for c, v in sorted(out.items()))


def _rates(run: StoredRun) -> dict[str, dict[str, float]]:
    rates: dict[str, dict[str, float]] = {}
    for name, e in run.entities.items():
        rates[name] = {rule: (r.rows / e.compared if e.compared else 0.0) for rule, r in e.by_rule.items()}
    return rates


def _history(run: StoredRun) -> tuple[HistoryPoint, ...]:
    """Rates per rule of the comparable full runs before this one (same parent), and this one.

    Runs that re-checked only earlier mismatches are left out: their rates are over a few keys.
    """
    earlier = earlier_runs(run, full_only=True)
    points = [HistoryPoint(r.id, r.started_at, _rates(r)) for r in earlier[-(HISTORY_RUNS - 1) :]]
    points.append(HistoryPoint(run.id, run.started_at, _rates(run), current=True))
    return tuple(points)
