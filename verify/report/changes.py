"""Runs over time: which keys were fixed, which are new and which are still there since another run.

Computed with Polars joins on the key columns of the two runs' mismatch parts (anti and semi
joins, NULL keys matching NULL keys as in the diff), lazily, never with Python loops over keys.
"""

from __future__ import annotations

import os
from typing import Any

from verify.report.model import (
    SEVERITY_ORDER,
    Comparison,
    EntityChanges,
    KeyChanges,
    RunInfo,
)
from verify.report.parts import collect, scan_parts
from verify.results.history import StoredRun

KEY_LIMIT = 100  # keys listed per entity, rule and change; the counts are always exact


def compare_runs(run: StoredRun, other: StoredRun, chosen_by: str, key_limit: int = KEY_LIMIT) -> Comparison:
    """Compare `run` with the earlier `other`, per entity and rule."""
    notes: list[str] = []
    if other.status != "complete":
        notes.append(f"{other.id} is {other.status}, not complete: keys it did not reach count as new")
    sha = (run.info.mapping_sha256, other.info.mapping_sha256)
    if sha[0] and sha[1] and sha[0] != sha[1]:
        notes.append("the mapping changed between the two runs: rules and compared columns may differ")
    if run.only_previous_mismatches and not _same(run.only_previous_mismatches, other, run):
        notes.append(
            f"this run re-checked only the keys that differed in {run.only_previous_mismatches}; "
            f"keys of {other.id} outside them were not re-checked and count as fixed"
        )
    if other.only_previous_mismatches:
        notes.append(f"{other.id} re-checked only earlier mismatches; keys outside them count as new")
    entities = []
    for name in run.entities:
        if name not in other.entities:
            notes.append(f"entity {name} is not in {other.id}: no comparison for it")
            continue
        changes = _entity_changes(run, other, name, key_limit, notes)
        if changes is not None:
            entities.append(changes)
    for name in other.entities:
        if name not in run.entities:
            notes.append(f"entity {name} of {other.id} is not in this run: no comparison for it")
    return Comparison(RunInfo.of(other), chosen_by, tuple(entities), key_limit, tuple(notes))


def _same(path: str, other: StoredRun, run: StoredRun) -> bool:
    """Whether a run path recorded in run.json names `other` (relative paths as of the run's cwd)."""
    candidates = {
        os.path.realpath(path),
        os.path.realpath(os.path.join(os.path.dirname(run.real_path), path)),
    }
    return other.real_path in candidates or os.path.basename(os.path.normpath(path)) == other.id


def _severity(run: StoredRun, other: StoredRun, entity: str, rule: str) -> str | None:
    for r in (run, other):
        summary = r.entities.get(entity)
        if summary is not None and rule in summary.by_rule:
            return summary.by_rule[rule].severity
    return None


def _keys_and_rules(run: StoredRun, other: StoredRun, name: str, keys: list[str]) -> tuple[Any, Any]:
    """The distinct (key, rule) pairs of an entity's mismatches in each run, as lazy frames of
    one schema (an empty one for a run without differences)."""
    import polars as pl

    frames = {}
    schema: dict[str, Any] | None = None
    for label, r in (("now", run), ("then", other)):
        parts = r.parts(name)
        if parts:
            lf = scan_parts(parts).select(*keys, "rule")
            schema = schema or dict(collect(lf.head(0), name).schema)
            frames[label] = lf
    assert schema is not None
    for label in ("now", "then"):
        if label not in frames:
            frames[label] = pl.LazyFrame(schema=schema)
        else:
            frames[label] = frames[label].cast(schema, strict=False)
    return frames["now"].unique(), frames["then"].unique()


def _entity_changes(
    run: StoredRun, other: StoredRun, name: str, key_limit: int, notes: list[str]
) -> EntityChanges | None:
    import polars as pl

    keys_now, keys_then = run.key_columns(name), other.key_columns(name)
    if keys_now and keys_then and keys_now != keys_then:
        notes.append(
            f"entity {name}: the key columns differ ({', '.join(keys_now)} now, "
            f"{', '.join(keys_then)} in {other.id}): no comparison for it"
        )
        return None
    keys = keys_now or keys_then or []
    if not run.parts(name) and not other.parts(name):  # no differences in either run
        return EntityChanges(name, tuple(keys), KeyChanges(None, None, 0, 0, 0, 0), ())
    now, then = _keys_and_rules(run, other, name, keys)
    now_keys = now.select(keys).unique()
    then_keys = then.select(keys).unique()
    both = [*keys, "rule"]
    join = {"nulls_equal": True}
    by_rule = {
        # differed then under the rule, no difference at all now
        "fixed": then.join(now_keys, on=keys, how="anti", **join),
        # differ now under the rule, not under it then
        "new": now.join(then, on=both, how="anti", **join),
        "still": now.join(then, on=both, how="semi", **join),
        # differed then under the rule, differ now under another one only
        "moved": then.join(now, on=both, how="anti", **join).join(now_keys, on=keys, how="semi", **join),
    }
    counts: dict[str, dict[str, int]] = {}
    for change, lf in by_rule.items():
        table = collect(lf.group_by("rule").len(), name)
        for rule, n in table.iter_rows():
            counts.setdefault(rule, {})[change] = int(n)
    listed: dict[str, dict[str, tuple[tuple[Any, ...], ...]]] = {}
    for change in ("fixed", "new"):
        table = collect(
            by_rule[change]
            .sort(["rule", *keys], nulls_last=True)
            .group_by("rule", maintain_order=True)
            .head(key_limit),
            name,
        )
        for rec in table.iter_rows(named=True):
            listed.setdefault(rec["rule"], {}).setdefault(change, ())
            listed[rec["rule"]][change] += (tuple(rec[k] for k in keys),)
    totals = {
        "fixed": then_keys.join(now_keys, on=keys, how="anti", **join),
        "new": now_keys.join(then_keys, on=keys, how="anti", **join),
        "still": now_keys.join(then_keys, on=keys, how="semi", **join),
    }
    total_counts = {c: int(collect(lf.select(pl.len()), name).item()) for c, lf in totals.items()}
    total_keys = {
        c: tuple(
            tuple(r) for r in collect(totals[c].sort(keys, nulls_last=True).head(key_limit), name).iter_rows()
        )
        for c in ("fixed", "new")
    }
    rules = tuple(
        sorted(
            (
                KeyChanges(
                    rule,
                    _severity(run, other, name, rule),
                    c.get("fixed", 0),
                    c.get("new", 0),
                    c.get("still", 0),
                    c.get("moved", 0),
                    listed.get(rule, {}).get("fixed", ()),
                    listed.get(rule, {}).get("new", ()),
                )
                for rule, c in counts.items()
            ),
            key=lambda k: (SEVERITY_ORDER.get(k.severity or "", 0), k.rule or ""),
        )
    )
    total = KeyChanges(
        None,
        None,
        total_counts["fixed"],
        total_counts["new"],
        total_counts["still"],
        0,
        total_keys["fixed"],
        total_keys["new"],
    )
    return EntityChanges(name, tuple(keys), total, rules)
