"""The terminal summary of `verify diff` groups each entity's differences by rule; its progress
is a bar on a terminal, and Ctrl-C's wait is told everywhere."""

from __future__ import annotations

from verify.engine.progress import SegmentsRead, Stopping
from verify.report.terminal import ProgressDisplay, render_diff
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


def test_the_progress_bar_draws_segments_rate_and_eta_and_ends_its_line(capsys):
    # Made at 0 s; the reads start at 100 s, the first two of 4 segments are read at 102 and 104.
    clock = iter([0.0, 100.0, 102.0, 104.0])
    show = ProgressDisplay(bar=True, clock=lambda: next(clock))
    for event in (SegmentsRead(0, 4, 0), SegmentsRead(1, 4, 1000), SegmentsRead(2, 4, 3000)):
        show(event)
    show(SegmentsRead(2, 4, 3000, ended=True))
    assert capsys.readouterr().err == (
        "\r[######..................] 1/4 segments  500 rows/s  ETA    6s "
        "\r[############............] 2/4 segments  750 rows/s  ETA    4s \n"
    )


def test_without_a_terminal_only_ctrl_c_is_told(capsys):
    show = ProgressDisplay(bar=False)
    for event in (SegmentsRead(0, 4, 0), SegmentsRead(1, 4, 1000), SegmentsRead(1, 4, 1000, ended=True)):
        show(event)
    assert capsys.readouterr().err == ""
    show(Stopping(3))
    assert capsys.readouterr().err == (
        "\nstopping: waiting for the 3 segment(s) being read to finish (they are kept, and --resume "
        "reads the rest)\n"
    )


def test_a_run_with_nothing_to_read_draws_no_bar(capsys):
    show = ProgressDisplay(bar=True)
    show(SegmentsRead(0, 0, 0))
    show(SegmentsRead(0, 0, 0, ended=True))
    assert capsys.readouterr().err == ""
