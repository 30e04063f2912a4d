"""Run directories written by hand for report tests: every count and value is written down here.

`runs` makes three runs of one mapping side by side (oldest first). The differences:

line_item (key advertiser_id, line_item_id), 10 rows compared in each run
  run 1: (1, 1) name trailing space (unexplained), (1, 2) budget (money_rounding, warn)
  run 2: (1, 1) name, (1, 2) budget, (1, 3) missing_in_new (unexplained),
         (2, 4) end_time NULL vs sentinel (far_future, accept)
  run 3: (1, 1) fixed; (1, 2) budget still; (1, 3) missing still; (2, 4) still;
         (2, 5) name '<script>…' vs 'a|b' (unexplained, new); (NULL, 6) extra_in_new (new)
campaign (key campaign_id): run 3 only warn: (7) state (money_rounding, warn)
creative (key creative_id): no differences in any run
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

MAPPING = "mappings/shop.yaml"
RULE_META = {
    "unexplained": {"severity": "block"},
    "money_rounding": {
        "severity": "warn",
        "owner": "billing-team",
        "ticket": "MIG-7",
        "note": "float rounding in the | new writer",
        "expires": "2030-01-01",
        "expired": False,
        "kind": "value",
        "column": "budget",
    },
    "far_future": {
        "severity": "accept",
        "owner": "ads-core",
        "ticket": "MIG-142",
        "note": "sentinel for open-ended flights",
        "expires": "2020-01-01",
        "expired": True,
        "kind": "value",
        "column": "end_time",
    },
}
KEYS = {
    "line_item": ["advertiser_id", "line_item_id"],
    "campaign": ["campaign_id"],
    "creative": ["creative_id"],
}
NFD = "Cafe\u0301"

# (entity, key, kind, column, old, new, rule)
DIFFS: list[list[tuple[str, tuple[Any, ...], str, str | None, str | None, str | None, str]]] = [
    [
        ("line_item", (1, 1), "value", "name", "Line 1 ", "Line 1", "unexplained"),
        ("line_item", (1, 2), "value", "budget", "10.005000", "10.010000", "money_rounding"),
    ],
    [
        ("line_item", (1, 1), "value", "name", "Line 1 ", "Line 1", "unexplained"),
        ("line_item", (1, 2), "value", "budget", "10.005000", "10.010000", "money_rounding"),
        ("line_item", (1, 3), "missing_in_new", None, None, None, "unexplained"),
        ("line_item", (2, 4), "value", "end_time", None, "2038-01-19 03:14:07+00:00", "far_future"),
    ],
    [
        ("line_item", (1, 2), "value", "budget", "10.005000", "10.010000", "money_rounding"),
        ("line_item", (1, 3), "missing_in_new", None, None, None, "unexplained"),
        ("line_item", (2, 4), "value", "end_time", None, "2038-01-19 03:14:07+00:00", "far_future"),
        ("line_item", (2, 5), "value", "name", "<script>alert('x')</script>", "a|b", "unexplained"),
        ("line_item", (2, 5), "value", "state", NFD, "Café", "unexplained"),
        ("line_item", (None, 6), "extra_in_new", None, None, None, "unexplained"),
        ("campaign", (7,), "value", "state", "PAUSED", "paused\n", "money_rounding"),
    ],
]
RUN_IDS = ["20250101T100000_000000Z", "20250102T100000_000000Z", "20250103T100000_000000Z"]


def write_run(
    folder: Path,
    started_at: str,
    diffs: list[tuple[str, tuple[Any, ...], str, str | None, str | None, str | None, str]],
    status: str = "complete",
    options: dict[str, Any] | None = None,
    compared: int = 10,
) -> Path:
    """A run directory as verify diff writes it, from a list of differences."""
    (folder / "mismatches").mkdir(parents=True)
    entities: dict[str, Any] = {}
    for entity, keys in KEYS.items():
        mine = [d for d in diffs if d[0] == entity]
        by_rule: dict[str, Any] = {}
        for rule in sorted({d[6] for d in mine}):
            of_rule = [d for d in mine if d[6] == rule]
            by_rule[rule] = {**RULE_META[rule], "rows": len({d[1] for d in of_rule}), "cells": len(of_rule)}
        by_column: dict[str, int] = {}
        for d in mine:
            if d[3]:
                by_column[d[3]] = by_column.get(d[3], 0) + 1
        blocking = len({d[1] for d in mine if RULE_META[d[6]]["severity"] == "block"})
        n = compared if entity == "line_item" else 5
        entities[entity] = {
            "rows_old": n,
            "rows_new": n,
            "compared": n,
            "matched": n - len({d[1] for d in mine}),
            "missing_in_new": sum(d[2] == "missing_in_new" for d in mine),
            "extra_in_new": sum(d[2] == "extra_in_new" for d in mine),
            "duplicate_keys": 0,
            "value_mismatch_rows": len({d[1] for d in mine if d[2] == "value"}),
            "blocking_rows": blocking,
            "by_rule": by_rule,
            "by_column": dict(sorted(by_column.items())),
            "segments": 1,
            "segments_failed": 0,
            "blocking_rate": blocking / n,
        }
        if mine:
            part = folder / "mismatches" / entity
            part.mkdir()
            frame = pl.DataFrame(
                {
                    **{k: [d[1][i] for d in mine] for i, k in enumerate(keys)},
                    "kind": [d[2] for d in mine],
                    "column": [d[3] for d in mine],
                    "old": [d[4] for d in mine],
                    "new": [d[5] for d in mine],
                    "rule": [d[6] for d in mine],
                    "severity": [RULE_META[d[6]]["severity"] for d in mine],
                },
                schema={
                    **dict.fromkeys(keys, pl.Int64),
                    **dict.fromkeys(("kind", "column", "old", "new", "rule", "severity"), pl.String),
                },
            )
            # Two parts, as two segments would write them.
            frame.head(2).write_parquet(part / "part-000000.parquet")
            frame.slice(2).write_parquet(part / "part-000001.parquet")
    info = {
        "status": status,
        "tool": {"name": "verify", "version": "0.1.0"},
        "mapping": {"path": MAPPING, "sha256": "ab" * 32},
        "old_url": "mysql+pymysql://app:***@old-db/shop",
        "new_url": "postgresql+psycopg://app:***@new-db/shop",
        "options": {"entities": list(KEYS), "workers": 2, **(options or {})},
        "started_at": started_at,
        "ended_at": started_at.replace(":00.000000", ":07.000000"),
        "segments": {"total": 3, "done": 3, "failed": []},
        "plan": {e: {"keys": k, "segments": 1} for e, k in KEYS.items()},
    }
    summary = {"status": status, "entities": entities}
    (folder / "run.json").write_text(json.dumps(info, indent=2))
    (folder / "summary.json").write_text(json.dumps(summary, indent=2))
    return folder
