"""Every verdict path of the gate, on real run directories (see conftest) and edited copies of them."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from gate_fixtures import DIRTY, ROWS, edit_json, policy_text

from verify.errors import MappingError, UsageError
from verify.gate.stats import clopper_pearson_upper, wilson_upper
from verify.gate.verdict import FAIL, INCONCLUSIVE, PASS, gate_run, pct
from verify.mapping import file_sha256


def test_a_clean_run_passes_and_says_how_far_it_would_go(runs, policy):
    v = gate_run(str(runs["clean"]), policy(), 1)
    assert v.verdict == PASS and not v.problems
    t = v.entities["t"]
    assert (t.verdict, t.compared, t.rate, t.upper_bound) == (PASS, ROWS, 0.0, 0.0)
    assert t.reason == "t: blocking rate 0% <= 1% allowed at stage 1 (2,000 rows compared)"
    # stage 25 wants 5,000 rows compared: the run passes 1 and 5, no further
    assert v.highest_passing_stage == 5


def test_a_rate_under_the_limit_passes_and_over_it_fails(runs, policy):
    at_1 = gate_run(str(runs["dirty"]), policy(), 1)
    assert at_1.verdict == PASS
    assert at_1.entities["t"].rate == DIRTY / ROWS
    at_5 = gate_run(str(runs["dirty"]), policy(), 5)
    assert at_5.verdict == FAIL and not at_5.problems
    assert at_5.entities["t"].reason == "t: blocking rate 0.5% > 0.1% allowed at stage 5"
    assert at_5.highest_passing_stage == at_1.highest_passing_stage == 1


def test_too_few_rows_is_inconclusive(runs, policy):
    v = gate_run(str(runs["clean"]), policy(), 25)
    assert v.verdict == INCONCLUSIVE
    assert v.entities["t"].reason == "t: 2,000 rows compared, fewer than the 5,000 needed at stage 25"


def test_too_few_rows_does_not_hide_a_failure(runs, policy):
    """INCONCLUSIVE may be let through with --inconclusive pass: a rate over the limit must FAIL."""
    v = gate_run(str(runs["dirty"]), policy(), 25)
    assert v.verdict == FAIL
    assert "0.5% > 0.05% allowed at stage 25" in v.entities["t"].reason


def test_a_single_blocking_rule_over_its_limit_fails(runs, policy):
    text = policy_text(
        ("  - percent: 5\n    max_blocking_rate: 0.001\n", "  - percent: 5\n    max_blocking_rate: 0.5\n"),
        (
            "min_compared: 1000\n  - percent: 25",
            "min_compared: 1000\n    max_rule_rates: {unexplained: 0.001}\n  - percent: 25",
        ),
    )
    v = gate_run(str(runs["dirty"]), policy(text), 5)
    assert v.verdict == FAIL
    assert v.entities["t"].reason == (
        "t: rule unexplained [block] 0.5% of rows > 0.1% allowed for one rule at stage 5"
    )
    rule = v.entities["t"].rules[0]
    assert (rule.rule, rule.rows, rule.allowed, rule.counts) == ("unexplained", DIRTY, 0.001, True)


def _rules_summary(run: Path, blocking: int, warning: int | None, rules: dict[str, tuple[str, int]]) -> None:
    """Give the run's entity the blocking/warning rows and rules a rules-aware engine would write."""

    def change(s: dict) -> None:
        e = s["entities"]["t"]
        e["blocking_rows"] = blocking
        if warning is not None:
            e["warning_rows"] = warning
        else:  # as a summary written before rows were counted by their worst severity
            e.pop("warning_rows", None)
        e["by_rule"] = {name: {"severity": sev, "rows": n, "cells": n} for name, (sev, n) in rules.items()}

    edit_json(run / "summary.json", change)


def test_accept_never_counts_warn_counts_only_if_the_policy_says(run_copy, policy):
    run = run_copy("dirty")
    # 4 blocking rows (0.2%), 10 more rows whose worst difference is a warning, 1,000 accepted
    rules = {"sentinel": ("accept", 1000), "rounding": ("warn", 10), "unexplained": ("block", 4)}
    _rules_summary(run, 4, 10, rules)
    quiet = gate_run(str(run), policy(), 1)
    assert quiet.verdict == PASS and quiet.entities["t"].counted_rows == 4
    warn_counts = ("warn_counts: false", "warn_counts: true")
    strict = gate_run(str(run), policy(policy_text(warn_counts), "w.yaml"), 1)
    assert strict.entities["t"].counted_rows == 14
    assert strict.entities["t"].reason.startswith("t: blocking or warning rate 0.7% <= 1% allowed")
    tight = ("max_blocking_rate: 0.01\n", "max_blocking_rate: 0.005\n")
    assert gate_run(str(run), policy(policy_text(tight), "t1.yaml"), 1).verdict == PASS
    assert gate_run(str(run), policy(policy_text(tight, warn_counts), "t2.yaml"), 1).verdict == FAIL


def test_without_warning_rows_the_warn_rules_rows_are_an_upper_bound(run_copy, policy):
    run = run_copy("dirty")
    _rules_summary(run, 4, None, {"rounding": ("warn", 30), "unexplained": ("block", 4)})
    v = gate_run(str(run), policy(policy_text(("warn_counts: false", "warn_counts: true"))), 1)
    assert v.entities["t"].counted_rows == 34  # some of the 30 may block too: counted at most twice


def test_max_rule_rate_holds_counted_rules_and_named_limits_any_rule(run_copy, policy):
    run = run_copy("dirty")
    _rules_summary(run, 4, 0, {"sentinel": ("accept", 1000), "unexplained": ("block", 4)})
    v = gate_run(str(run), policy(policy_text(stage1="max_rule_rate: 0.001")), 1)
    assert v.verdict == FAIL  # 4 of 2,000 = 0.2% > 0.1%; the accepted 50% is not held to it
    assert "rule unexplained [block] 0.2% of rows > 0.1% allowed for one rule" in v.entities["t"].reason
    assert "sentinel" not in v.entities["t"].reason
    capped = policy_text(stage1="max_rule_rates: {sentinel: 0.25}")
    v = gate_run(str(run), policy(capped, "capped.yaml"), 1)
    assert v.verdict == FAIL and "rule sentinel [accept] 50% of rows > 25% allowed" in v.entities["t"].reason


def test_a_sampled_run_is_judged_on_the_upper_bound_never_the_point_estimate(run_copy, policy):
    run = run_copy("dirty")
    edit_json(run / "run.json", lambda r: r["options"].update(sample=0.1, seed=7))
    edit_json(run / "summary.json", lambda s: s.update(sample={"fraction": 0.1, "seed": 7}))
    # 15 of 2,000 sampled rows: 0.75% is under stage 1's 1%, its upper 95% bound is not
    _rules_summary(run, 15, 0, {"unexplained": ("block", 15)})
    v = gate_run(str(run), policy(), 1)
    t = v.entities["t"]
    assert t.rate == 15 / ROWS < 0.01
    assert t.upper_bound == clopper_pearson_upper(15, ROWS, 0.95) > 0.01
    assert v.verdict == FAIL and (v.sample, v.seed) == (0.1, 7)
    bound = pct(t.upper_bound)
    assert t.reason == f"t: blocking rate 0.75% (upper 95% bound {bound}) > 1% allowed at stage 1"
    wilson = gate_run(str(run), policy(policy_text(("confidence: 0.95", "interval: wilson")), "w.yaml"), 1)
    assert wilson.entities["t"].upper_bound == wilson_upper(15, ROWS, 0.95)
    # 5 of 2,000: the bound is under 1%, so stage 1 passes
    _rules_summary(run, 5, 0, {"unexplained": ("block", 5)})
    assert gate_run(str(run), policy(), 1).verdict == PASS


# --- fail closed ------------------------------------------------------------------------------


def assert_fails_closed(v, needle: str) -> None:
    assert v.verdict == FAIL
    assert any(needle in p for p in v.problems), v.problems
    assert v.highest_passing_stage is None


@pytest.mark.parametrize(
    ("status", "needle"),
    [
        ("partial", "the run is partial"),
        ("running", "still running"),
        ("failed", "the run failed"),
    ],
)
def test_a_run_that_is_not_complete_fails(run_copy, policy, status, needle):
    run = run_copy("clean")
    edit_json(run / "run.json", lambda r: r.update(status=status))
    assert_fails_closed(gate_run(str(run), policy(), 1), needle)


@pytest.mark.parametrize("name", ["run.json", "summary.json"])
def test_a_missing_file_fails(run_copy, policy, name):
    run = run_copy("clean")
    os.remove(run / name)
    assert_fails_closed(gate_run(str(run), policy(), 1), f"{name} is missing")


@pytest.mark.parametrize("name", ["run.json", "summary.json"])
def test_a_corrupt_file_fails(run_copy, policy, name):
    run = run_copy("clean")
    text = (run / name).read_text()
    (run / name).write_text(text[: len(text) // 2])  # cut off mid-write
    assert_fails_closed(gate_run(str(run), policy(), 1), f"{name} is unreadable or corrupt")


def test_inconsistent_counts_fail(run_copy, policy):
    run = run_copy("clean")
    edit_json(run / "summary.json", lambda s: s["entities"]["t"].update(blocking_rows=ROWS + 1))
    assert_fails_closed(gate_run(str(run), policy(), 1), "entity 't' is corrupt")


def test_a_complete_run_with_segments_missing_fails(run_copy, policy):
    run = run_copy("clean")
    edit_json(run / "run.json", lambda r: r["segments"].update(done=0))
    assert_fails_closed(gate_run(str(run), policy(), 1), "segments are done")


def test_run_and_summary_that_disagree_on_the_sample_fail(run_copy, policy):
    run = run_copy("clean")
    edit_json(run / "run.json", lambda r: r["options"].update(sample=0.1, seed=7))
    assert_fails_closed(gate_run(str(run), policy(), 1), "disagree on the sample")


def test_no_run_directory_fails(tmp_path, policy):
    assert_fails_closed(gate_run(str(tmp_path / "nope"), policy(), 1), "no run directory")


def test_a_changed_mapping_fails(run_copy, policy):
    run = run_copy("clean")
    mapping = run.parent / "mapping.yaml"
    original = mapping.read_text()
    mapping.write_text(original.replace("v: {}", "v: {normalize: [trim]}"))
    assert_fails_closed(gate_run(str(run), policy(), 1), "changed since the run")
    # --mapping names another copy of the file the run used: that one is checked instead
    saved = run.parent / "as-run.yaml"
    saved.write_text(original)
    assert gate_run(str(run), policy(), 1, mapping_path=str(saved)).verdict == PASS


def test_a_mapping_that_is_not_there_fails(run_copy, policy):
    run = run_copy("clean")
    os.remove(run.parent / "mapping.yaml")
    assert_fails_closed(gate_run(str(run), policy(), 1), "pass --mapping FILE")


def test_expired_results_fail(runs, policy):
    ended = dt.datetime.fromisoformat(json.loads((runs["clean"] / "run.json").read_text())["ended_at"])
    fresh = gate_run(str(runs["clean"]), policy(), 1, now=ended + dt.timedelta(minutes=59))
    assert fresh.verdict == PASS
    stale = gate_run(str(runs["clean"]), policy(), 1, now=ended + dt.timedelta(hours=3))
    assert_fails_closed(stale, "the results are 3.0h old; the policy allows 1h")
    future = gate_run(str(runs["clean"]), policy(), 1, now=ended - dt.timedelta(hours=1))
    assert_fails_closed(future, "check the clocks")


def test_an_entity_of_the_mapping_the_run_lacks_fails(run_copy, policy):
    # The mapping has an entity `orders` that this run did not diff (as with --entity t).
    run = run_copy("clean")
    mapping = run.parent / "mapping.yaml"
    mapping.write_text(
        mapping.read_text() + "  orders:\n    old: {table: o}\n    new: {table: o}\n    key: [id]\n"
    )
    edit_json(run / "run.json", lambda r: r["mapping"].update(sha256=file_sha256(str(mapping))))
    for text in (
        policy_text(("stages:", "entities: [t, orders]\nstages:")),
        policy_text(("max_blocking_rate: 0.01\n", 'max_blocking_rate: {orders: 0.02, "*": 0.01}\n')),
    ):
        v = gate_run(str(run), policy(text), 1)
        assert v.verdict == FAIL and v.entities["t"].verdict == PASS
        assert v.entities["orders"].verdict == FAIL
        assert v.entities["orders"].reason.startswith("orders: named by the policy but not in the run")
        assert v.highest_passing_stage is None


@pytest.mark.parametrize(
    "change, says",
    [
        (
            ("stages:", "entities: [t, ordres]\nstages:"),
            "entity 'ordres' is not in the run or its mapping; entities there: t",
        ),
        (
            ("max_blocking_rate: 0.01\n", 'max_blocking_rate: {tt: 0.02, "*": 0.01}\n'),
            "entity 'tt' is not in the run",
        ),
        (
            (
                "min_compared: 1000\n  - percent: 5",
                "min_compared: 1000\n    max_rule_rates: {unexplaind: 0.001}\n  - percent: 5",
            ),
            "rule 'unexplaind' is not in the run or its mapping; rules there: transient, unexplained",
        ),
    ],
)
def test_a_name_in_the_policy_that_matches_nothing_is_bad_input(runs, policy, change, says):
    # A typo would judge nothing: a limit on no rule holds for every run, and the gate said PASS.
    with pytest.raises(MappingError) as caught:
        gate_run(str(runs["clean"]), policy(policy_text(change)), 1)
    assert says in str(caught.value) and caught.value.exit_code == 2


def test_an_unknown_stage_is_bad_input(runs, policy):
    with pytest.raises(UsageError, match="--stage 10 is not a stage of .*; stages there: 1, 5, 25"):
        gate_run(str(runs["clean"]), policy(), 10)


def test_to_dict_is_the_design_contract(runs, policy):
    d = gate_run(str(runs["dirty"]), policy(), 5).to_dict()
    assert d["verdict"] == "FAIL" and d["stage"] == 5 and d["highest_passing_stage"] == 1
    t = d["entities"]["t"]
    assert {"verdict", "rate", "upper_bound", "allowed", "reason"} <= set(t)
    assert (t["rate"], t["upper_bound"], t["allowed"]) == (0.005, 0.005, 0.001)
    json.dumps(d)  # plain JSON all the way down
