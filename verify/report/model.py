"""The typed, frozen `RunReport` that every renderer reads (loaded by `verify.report.load`)."""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import asdict, dataclass, field
from typing import Any

from verify.results.history import StoredRun
from verify.results.summary import Suggestion

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
    # Per differing column, its first differing cells in key order, under whichever rule.
    column_samples: tuple[tuple[str, tuple[ColumnSample, ...]], ...] = ()


@dataclass(frozen=True)
class ColumnSample:
    key: tuple[Any, ...]
    rule: str
    old: str | None
    new: str | None


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
class GateView:
    """A rollout gate's verdict on the run (verify report --policy FILE --stage P), as shown."""

    verdict: str  # PASS | FAIL | INCONCLUSIVE
    stage: float
    lines: tuple[str, ...]  # the gate's own text, as `verify gate` prints it


@dataclass(frozen=True)
class RunReport:
    run: RunInfo
    entities: tuple[EntityReport, ...]
    history: tuple[HistoryPoint, ...]
    comparison: Comparison | None
    notes: tuple[str, ...] = ()
    sample_rows: int = SAMPLE_ROWS
    failures: tuple[str, ...] = field(default=())
    explanations: tuple[Suggestion, ...] = ()  # what the unexplained differences have in common
    gate: GateView | None = None

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
            e["column_samples"] = {
                column: [{**c, "key": [json_value(v) for v in c["key"]]} for c in cells]
                for column, cells in e["column_samples"]
            }
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


def _str(value: Any) -> str | None:
    return None if value is None else str(value)
