"""Business-logic rules: attribute each difference to the first rule that explains it.

A rule's `when` is a Polars SQL expression evaluated, vectorized, on the differing rows of a
segment. It sees, for every compared column `c`, `old_c` and `new_c` (canonical values;
timestamps as UTC without a zone, so `TIMESTAMP '2038-01-19 03:14:07'` compares as written),
the key columns by name, and `old` / `new`: the rule column's two values for a cell rule, the
two sides' row counts for a `duplicate_key` rule. What no rule matches is `unexplained` and
blocks. A waiver past its `expires` date blocks again, so accepted differences cannot rot.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass
from typing import Any, TypeVar

import polars as pl

from verify.engine.compare import Differences, display
from verify.mapping.model import Rule

UNEXPLAINED = "unexplained"
SEVERITY_RANK = {"accept": 0, "warn": 1, "block": 2}
KINDS = ("value", "missing_in_new", "extra_in_new", "duplicate_key")
_SHOWN_OLD, _SHOWN_NEW = "__shown_old__", "__shown_new__"  # a record's values as reports show them
FrameT = TypeVar("FrameT", pl.DataFrame, pl.LazyFrame)


@dataclass(frozen=True)
class PlannedRule:
    """A mapping rule resolved for one run: its severity as of the run's date."""

    name: str
    severity: str  # in force: "block" once an accept or warn has expired
    declared_severity: str
    column: str | None = None
    kind: str | None = None
    when: str | None = None
    owner: str | None = None
    ticket: str | None = None
    note: str | None = None
    expires: str | None = None
    expired: bool = False

    def applies(self, kind: str, column: str | None) -> bool:
        if self.column is not None:
            return kind == "value" and column == self.column
        return self.kind is None or self.kind == kind

    def meta(self) -> dict[str, Any]:
        """What reports show about the rule besides its counts."""
        return {
            "declared_severity": self.declared_severity,
            "column": self.column,
            "kind": self.kind,
            "when": self.when,
            "owner": self.owner,
            "ticket": self.ticket,
            "note": self.note,
            "expires": self.expires,
            "expired": self.expired,
        }


CATCH_ALL = PlannedRule(UNEXPLAINED, "block", "block", note="no rule explains these differences")
TRANSIENT = PlannedRule(
    "transient",
    "accept",
    "accept",
    note="differed when first read, matched when read again (--recheck-after): changed during the run",
)


def plan_rules(rules: tuple[Rule, ...], today: dt.date) -> tuple[PlannedRule, ...]:
    """The entity's rules in order, each with the severity in force on `today`."""
    out = []
    for r in rules:
        expired = r.expires is not None and today > r.expires
        out.append(
            PlannedRule(
                name=r.name,
                severity="block" if expired else r.severity,
                declared_severity=r.severity,
                column=r.column,
                kind=r.kind,
                when=r.when,
                owner=None if r.owner is None else str(r.owner),
                ticket=r.ticket,
                note=None if r.note is None else str(r.note),
                expires=r.expires.isoformat() if r.expires else None,
                expired=expired,
            )
        )
    return tuple(out)


def rule_problems(
    rules: tuple[Rule, ...], canonical: pl.Schema, keys: tuple[str, ...]
) -> list[tuple[int, str]]:
    """Each rule's target and `when`, tried on the typed, empty rows it would be evaluated on."""
    types = {c: t for c, t in canonical.items() if c not in keys}
    problems = []
    for r in rules:
        if r.column is not None and r.column not in types:
            problems.append(
                (
                    r.line,
                    f"rule '{r.name}': column '{r.column}' is not compared; compared: {', '.join(types)}",
                )
            )
            continue
        if r.when is None:
            continue
        targets: list[tuple[str, str | None]]
        if r.column is not None:
            targets = [("value", r.column)]
        elif r.kind is not None:
            targets = [(r.kind, None)]
        else:  # a rule for every difference: every column's cells and every kind of row
            targets = [("value", c) for c in types] + [(k, None) for k in KINDS if k != "value"]
        for kind, column in targets:
            try:
                _rule_view(_empty_group(kind, column, canonical, keys)).select(pl.sql_expr(r.when))
            except Exception as exc:  # noqa: BLE001 - Polars raises many kinds; each is a mapping error
                message = str(exc).strip().splitlines()[0]
                on = f"column {column}" if column else f"{kind} rows"
                problems.append((r.line, f"rule '{r.name}': when '{r.when}' fails on {on}: {message}"))
                break
    return problems


def _empty_group(kind: str, column: str | None, canonical: pl.Schema, keys: tuple[str, ...]) -> pl.DataFrame:
    """The typed, empty frame that rules for this kind of difference are evaluated on."""
    types = {c: t for c, t in canonical.items() if c not in keys}
    schema: dict[str, Any] = {k: canonical[k] for k in keys}
    schema.update({f"old_{c}": t for c, t in types.items()})
    schema.update({f"new_{c}": t for c, t in types.items()})
    if kind == "value" and column is not None:
        schema.update(old=types[column], new=types[column])
    elif kind == "duplicate_key":
        schema.update(old=pl.UInt32, new=pl.UInt32)
    else:
        schema.update(old=pl.Null, new=pl.Null)
    return pl.DataFrame(schema=schema)


def _rule_view(frame: FrameT) -> FrameT:
    """Timestamps without their zone (they are UTC), so that SQL literals compare directly."""
    schema = frame.collect_schema()
    zoned = [c for c, t in schema.items() if isinstance(t, pl.Datetime) and t.time_zone is not None]
    return frame.with_columns(pl.col(zoned).dt.replace_time_zone(None)) if zoned else frame


@dataclass
class RuleCounts:
    """Counts of one segment by rule and by the worst severity of each differing row."""

    by_rule: dict[str, dict[str, Any]]  # {rule: {rows, cells, columns: {column: cells}}}
    rows_by_severity: dict[str, int]  # {"block": n, "warn": n, "accept": n}


def classify(diff: Differences, rules: tuple[PlannedRule, ...]) -> pl.DataFrame:
    """One record per differing cell or row, with the rule that explains it and its severity.

    Records have the key columns, kind, column, old, new (display strings), rule, severity.
    """
    keys = list(diff.keys)
    severity = {r.name: r.severity for r in (*rules, CATCH_ALL)}
    parts = []
    for kind, column, rows in diff.groups():
        applicable = [r for r in rules if r.applies(kind, column)]
        if column is not None:
            shown = (display(pl.col("old"), diff.types[column]), display(pl.col("new"), diff.types[column]))
        else:
            shown = (pl.col("old").cast(pl.String), pl.col("new").cast(pl.String))
        shown_rows = rows.with_columns(shown[0].alias(_SHOWN_OLD), shown[1].alias(_SHOWN_NEW))
        parts.append(
            _rule_view(shown_rows)
            .with_columns(_first_match(applicable).alias("rule"))
            .select(
                *keys,
                pl.lit(kind).alias("kind"),
                pl.lit(column, pl.String).alias("column"),
                pl.col(_SHOWN_OLD).alias("old"),
                pl.col(_SHOWN_NEW).alias("new"),
                pl.col("rule"),
            )
        )
    if not parts:
        return _empty_records(diff)
    return (
        pl.concat(parts, how="vertical_relaxed")
        .with_columns(pl.col("rule").replace_strict(severity, return_dtype=pl.String).alias("severity"))
        .collect()
    )


def _first_match(rules: list[PlannedRule]) -> pl.Expr:
    """The name of the first rule whose `when` holds (NULL counts as not holding)."""
    chain: Any = pl
    for r in rules:
        cond = _condition(r.when) if r.when else pl.lit(True)
        chain = chain.when(cond).then(pl.lit(r.name))
    return chain.otherwise(pl.lit(UNEXPLAINED)) if rules else pl.lit(UNEXPLAINED)


@functools.cache
def _condition(when: str) -> pl.Expr:
    """A rule's `when`, parsed once per run rather than once per segment and kind."""
    return pl.sql_expr(when).cast(pl.Boolean).fill_null(False)


def count_records(records: pl.DataFrame, keys: list[str]) -> RuleCounts:
    """Rows and cells per rule, and rows by their worst severity, of classified records."""
    by_rule: dict[str, dict[str, Any]] = {}
    per_rule = records.group_by("rule").agg(pl.len().alias("cells"), pl.struct(keys).n_unique().alias("rows"))
    for name, cells, rows in per_rule.iter_rows():
        by_rule[name] = {"rows": int(rows), "cells": int(cells), "columns": {}}
    per_column = records.filter(pl.col("column").is_not_null()).group_by("rule", "column").len()
    for name, column, cells in per_column.iter_rows():
        by_rule[name]["columns"][column] = int(cells)
    rank = pl.col("severity").replace_strict(SEVERITY_RANK, return_dtype=pl.Int8)
    worst = records.group_by(keys).agg(rank.max().alias("worst")).get_column("worst").value_counts()
    names = {v: k for k, v in SEVERITY_RANK.items()}
    return RuleCounts(by_rule, {names[int(w)]: int(n) for w, n in worst.iter_rows()})


def _empty_records(diff: Differences) -> pl.DataFrame:
    schema: dict[str, Any] = {k: diff.rows.schema.get(k, pl.Int64) for k in diff.keys}
    schema.update(kind=pl.String, column=pl.String, old=pl.String, new=pl.String, rule=pl.String)
    schema.update(severity=pl.String)
    return pl.DataFrame(schema=schema)
