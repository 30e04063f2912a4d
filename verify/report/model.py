"""A run directory loaded once into a typed, frozen `RunReport` that every renderer reads.

The summary and run info come from the JSON files; samples are read from the mismatch
Parquet parts lazily (the first keys per rule in key order, never the whole table); history
is the per-rule rates of the earlier runs next to this one; the comparison with another run
is in `verify.report.changes`.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import asdict, dataclass, field
from typing import Any

from verify.errors import RunDirError
from verify.results.history import StoredRun, earlier_runs, previous_run, read_run
from verify.results.summary import EntitySummary

SEVERITY_ORDER = {"block": 0, "warn": 1, "accept": 2}
SAMPLE_ROWS = 10  # sample rows (keys) per rule
HISTORY_RUNS = 20  # runs in the trend chart, this one included
VERDICTS = ("clean", "warn", "block", "incomplete")


def json_value(value: Any) -> Any:
    """A key or counter value as JSON holds it: numbers and strings as they are, others as text."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, (dt.datetime, dt.date, dt.time, decimal.Decimal)):
        return value.isoformat() if not isinstance(value, decimal.Decimal) else str(value)
    return str(value)


def key_text(values: tuple[Any, ...]) -> str:
    """A key as one line of text: its values, comma-separated."""
    return ", ".join("NULL" if v is None else str(json_value(v)) for v in values)


@dataclass(frozen=True)
class Cell:
    """One differing cell (or, for a row-level difference, the row's kind) of a sample row."""

    column: str | None
    old: str | None
    new: str | None


@dataclass(frozen=True)
class SampleRow:
    """One key with its differences under one rule."""

    key: tuple[Any, ...]
    kind: str  # value | missing_in_new | extra_in_new | duplicate_key
    cells: tuple[Cell, ...]


@dataclass(frozen=True)
class RuleReport:
    """One rule of one entity: its counts, the rule's metadata and sample rows."""

    name: str
    severity: str
    rows: int
    cells: int
    rate: float  # rows / compared rows of the entity
    owner: str | None = None
    ticket: str | None = None
    note: str | None = None
    expires: str | None = None
    expired: bool = False
    kind: str | None = None
    column: str | None = None
    samples: tuple[SampleRow, ...] = ()


@dataclass(frozen=True)
class EntityReport:
    name: str
    verdict: str  # clean | warn | block | incomplete
    rows_old: int
    rows_new: int
    compared: int
    matched: int
    missing_in_new: int
    extra_in_new: int
    duplicate_keys: int
    value_mismatch_rows: int
    blocking_rows: int
    blocking_rate: float
    segments_failed: int
    keys: tuple[str, ...]
    rules: tuple[RuleReport, ...]
    by_column: tuple[tuple[str, int], ...]
    unpaired: tuple[tuple[str, tuple[str, ...]], ...] = ()  # "*": (side, its columns only)


@dataclass(frozen=True)
class HistoryPoint:
    """One run in the trend: its id, start, and per entity the rate of each rule."""

    run_id: str
    started_at: str
    rates: dict[str, dict[str, float]]  # entity -> rule -> rows / compared
    current: bool = False


@dataclass(frozen=True)
class RunInfo:
    id: str
    status: str
    mapping_path: str | None
    mapping_sha256: str | None
    old_url: str | None
    new_url: str | None
    started_at: str | None
    ended_at: str | None
    tool_version: str | None
    only_previous_mismatches: str | None

    @classmethod
    def of(cls, run: StoredRun) -> RunInfo:
        info = run.info
        return cls(
            id=run.id,
            status=run.status,
            mapping_path=info.mapping_path,
            mapping_sha256=info.mapping_sha256,
            old_url=info.old_url,
            new_url=info.new_url,
            started_at=info.started_at,
            ended_at=info.ended_at,
            tool_version=_str(info.tool.get("version")),
            only_previous_mismatches=run.only_previous_mismatches,
        )


@dataclass(frozen=True)
class KeyChanges:
    """How one rule's keys (or an entity's, for rule None) changed since the other run."""

    rule: str | None
    severity: str | None
    fixed: int  # differed then under this rule, match now
    new: int  # differ now under this rule, did not then
    still: int  # differ under this rule in both runs
    moved: int  # differed then under this rule, differ now under another one
    fixed_keys: tuple[tuple[Any, ...], ...] = ()
    new_keys: tuple[tuple[Any, ...], ...] = ()


@dataclass(frozen=True)
class EntityChanges:
    entity: str
    keys: tuple[str, ...]
    total: KeyChanges
    rules: tuple[KeyChanges, ...]


@dataclass(frozen=True)
class Comparison:
    """This run against another one: per entity and rule, keys fixed, new and still there."""

    other: RunInfo
    chosen_by: str  # "--compare-to" | "previous run"
    entities: tuple[EntityChanges, ...]
    key_limit: int
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class RunReport:
    run: RunInfo
    entities: tuple[EntityReport, ...]
    history: tuple[HistoryPoint, ...]
    comparison: Comparison | None
    notes: tuple[str, ...] = ()
    sample_rows: int = SAMPLE_ROWS
    failures: tuple[str, ...] = field(default=())

    @property
    def verdict(self) -> str:
        """The worst entity verdict; a run that did not complete is incomplete."""
        if self.run.status != "complete":
            return "incomplete"
        worst = max((VERDICTS.index(e.verdict) for e in self.entities), default=0)
        return VERDICTS[worst]

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON: the summary plus samples, history and the comparison."""
        d = asdict(self)
        d["verdict"] = self.verdict
        for e in d["entities"]:
            e["by_column"] = dict(e["by_column"])
            for r in e["rules"]:
                r["samples"] = [
                    {
                        "key": dict(zip(e["keys"], (json_value(v) for v in s["key"]), strict=False)),
                        "kind": s["kind"],
                        "cells": s["cells"],
                    }
                    for s in r["samples"]
                ]
        if d["comparison"]:
            for ec in d["comparison"]["entities"]:
                for kc in [ec["total"], *ec["rules"]]:
                    for name in ("fixed_keys", "new_keys"):
                        kc[name] = [[json_value(v) for v in k] for k in kc[name]]
        return d


# --- loading -------------------------------------------------------------------------------


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
    from verify.report.changes import compare_runs

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
    return RunReport(RunInfo.of(run), entities, history, comparison, tuple(notes), sample_rows, failures)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _entity(run: StoredRun, name: str, e: EntitySummary, sample_rows: int) -> EntityReport:
    compared = e.compared
    keys = run.key_columns(name) or []
    samples = read_samples(run.parts(name), keys, sample_rows) if keys else {}
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
    )


def scan_parts(parts: list[str]) -> Any:
    """A lazy scan of an entity's mismatch parts; a corrupt part is one clear RunDirError."""
    import polars as pl

    try:
        return pl.scan_parquet(parts)
    except Exception as exc:  # noqa: BLE001
        raise RunDirError(
            f"cannot read the mismatch parts {parts[0]}…: {exc}; run verify diff again"
        ) from None


def collect(lf: Any, what: str) -> Any:
    """Collect a lazy frame with the streaming engine; a corrupt part is one clear RunDirError."""
    try:
        return lf.collect(engine="streaming")
    except Exception as exc:  # noqa: BLE001 - Polars raises several kinds for a bad file
        raise RunDirError(f"cannot read the mismatch parts of {what}: {exc}; run verify diff again") from None


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
