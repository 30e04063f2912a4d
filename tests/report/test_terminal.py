"""The terminal summary of `verify diff` groups each entity's differences by rule."""

from __future__ import annotations

from verify.report.terminal import render_diff
from verify.results.summary import EntitySummary, RuleCount, RunResult


def test_rules_are_grouped_blocking_first_with_severity_rows_and_cells():
    entity = EntitySummary(
        rows_old=100,
        rows_new=100,
        compared=100,
        matched=90,
        missing_in_new=0,
        extra_in_new=0,
        duplicate_keys=0,
        value_mismatch_rows=10,
        blocking_rows=3,
        by_rule={
            "far_future": RuleCount("accept", 5, 5),
            "money_rounding": RuleCount("warn", 2, 4),
            "unexplained": RuleCount("block", 3, 7),
        },
        by_column={"budget": 4, "end_time": 5, "name": 7},
    )
    text = render_diff(RunResult("runs/x", "complete", {"line_item": entity}))
    lines = text.splitlines()
    start = lines.index("    by rule:")
    assert [line.split()[:2] for line in lines[start + 1 : start + 4]] == [
        ["[block]", "unexplained"],
        ["[warn]", "money_rounding"],
        ["[accept]", "far_future"],
    ]
    assert lines[start + 1].split()[2:] == ["3", "rows", "7", "cells"]
    assert lines.index("    by column:") > start + 3


def _entity(blocking: int, warning: int = 0, failed: int = 0) -> EntitySummary:
    return EntitySummary(
        rows_old=100,
        rows_new=100,
        compared=100,
        matched=100 - blocking - warning,
        missing_in_new=0,
        extra_in_new=0,
        duplicate_keys=0,
        value_mismatch_rows=blocking + warning,
        blocking_rows=blocking,
        warning_rows=warning,
        segments_failed=failed,
    )


def test_the_verdict_never_says_clean_for_a_run_that_did_not_finish():
    def verdict(status: str, entity: EntitySummary) -> str:
        first = render_diff(RunResult("runs/x", status, {"e": entity})).splitlines()[0]
        return first.split(" - ")[1].split(",")[0]

    assert verdict("complete", _entity(0)) == "clean"
    assert verdict("complete", _entity(0, warning=2)) == "warnings only"
    assert verdict("complete", _entity(3, warning=2)) == "BLOCKING"
    assert verdict("partial", _entity(0, failed=1)) == "INCOMPLETE"
    assert verdict("partial", _entity(0)) == "INCOMPLETE"  # interrupted: segments not run
    assert verdict("partial", _entity(3, failed=1)) == "INCOMPLETE"
