"""Classify differences by the entity's business-logic rules.

Until rules are evaluated (issue #4), every difference is `unexplained` and blocks, which is
what the design asks for a difference no rule matches.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from verify.engine.compare import SegmentCounts

UNEXPLAINED = "unexplained"


def classify(
    diffs: pl.DataFrame,
    plan: Any,
    counts: SegmentCounts,
) -> tuple[pl.DataFrame, dict[str, dict[str, Any]], int]:
    """Attach `rule` and `severity` to each difference; count rows and cells per rule.

    Returns the classified differences, {rule: {severity, rows, cells}} and the number of
    rows (distinct keys) with at least one blocking difference.
    """
    diffs = diffs.with_columns(pl.lit(UNEXPLAINED).alias("rule"), pl.lit("block").alias("severity"))
    if diffs.height == 0:
        return diffs, {}, 0
    rows = diffs.select(list(plan.keys)).n_unique()
    by_rule = {UNEXPLAINED: {"severity": "block", "rows": rows, "cells": diffs.height}}
    return diffs, by_rule, rows
