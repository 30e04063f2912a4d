"""Cohort-aware runs: `verify diff --stage P --policy FILE` compares exactly the rows stage P serves,
and the gate fails closed on a run of another cohort (or of all rows where the policy has one)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner
from gate_fixtures import POLICY as PLAIN_POLICY

from verify.cli import main
from verify.gate.verdict import FAIL, PASS, gate_run

POLICY = """version: 1
max_age: 1h
cohort: "advertiser_id % 100 < :percent"
stages:
  - {percent: 5, max_blocking_rate: 0.01, min_compared: 10}
  - {percent: 25, max_blocking_rate: 0.01, min_compared: 10}
  - {percent: 50, max_blocking_rate: 0.01, min_compared: 10}
"""
MAPPING = """version: 1
entities:
  line_item:
    old: {table: li}
    new: {table: li}
    key: [advertiser_id, id]
    columns: {v: {}}
"""
ADVERTISERS = 200
PER_ADVERTISER = 10


@pytest.fixture()
def setup(tmp_path: Path) -> dict[str, str]:
    """200 advertisers with 10 line items each; advertisers 30 and 130 (cohort of stage 25 and up)
    have one differing line item each, advertiser 3 (in every cohort from stage 5) one more."""
    for name, changed in (("old", set()), ("new", {30, 130, 3})):
        with sqlite3.connect(tmp_path / f"{name}.db") as c:
            c.execute("CREATE TABLE li (advertiser_id INTEGER, id INTEGER PRIMARY KEY, v INTEGER)")
            rows = [
                (a, a * 100 + i, i + (1 if a in changed and i == 0 else 0))
                for a in range(ADVERTISERS)
                for i in range(PER_ADVERTISER)
            ]
            c.executemany("INSERT INTO li VALUES (?, ?, ?)", rows)
    (tmp_path / "m.yaml").write_text(MAPPING)
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "plain.yaml").write_text(PLAIN_POLICY)
    return {
        "mapping": str(tmp_path / "m.yaml"),
        "old": f"sqlite:///{tmp_path / 'old.db'}",
        "new": f"sqlite:///{tmp_path / 'new.db'}",
        "policy": str(tmp_path / "policy.yaml"),
        "plain": str(tmp_path / "plain.yaml"),
        "dir": str(tmp_path),
    }


def diff(setup: dict[str, str], out: str, *extra: str):
    argv = ["diff", "--mapping", setup["mapping"], "--old", setup["old"], "--new", setup["new"]]
    return CliRunner().invoke(
        main, [*argv, "--out", str(Path(setup["dir"]) / out), "--format", "json", *extra]
    )


def test_a_stage_run_compares_exactly_its_cohort(setup):
    result = diff(setup, "s25", "--stage", "25", "--policy", setup["policy"])
    assert result.exit_code == 1, result.output
    li = json.loads(result.output)["entities"]["line_item"]
    # advertisers 0-24 and 100-124: 50 advertisers, 10 line items each; only advertiser 3 differs
    assert (li["compared"], li["rows_old"], li["rows_new"], li["blocking_rows"]) == (500, 500, 500, 1)
    run = json.loads((Path(setup["dir"]) / "s25" / "run.json").read_text())
    assert (run["options"]["stage"], run["options"]["cohort"]) == (25, "advertiser_id % 100 < 25")
    summary = json.loads((Path(setup["dir"]) / "s25" / "summary.json").read_text())
    assert summary["cohort"] == {"stage": 25, "expression": "advertiser_id % 100 < 25"}
    s50 = json.loads(diff(setup, "s50", "--stage", "50", "--policy", setup["policy"]).output)
    assert s50["entities"]["line_item"]["compared"] == 1000
    assert s50["entities"]["line_item"]["blocking_rows"] == 3  # advertisers 3, 30, 130


def test_the_gate_holds_a_run_to_the_cohort_of_its_stage(setup):
    diff(setup, "s25", "--stage", "25", "--policy", setup["policy"])
    run = str(Path(setup["dir"]) / "s25")
    assert gate_run(run, setup["policy"], 25).verdict == PASS  # 1 of 500 = 0.2% <= 1%
    other = gate_run(run, setup["policy"], 5)
    assert other.verdict == FAIL
    assert other.problems == (
        "the run compared the cohort 'advertiser_id % 100 < 25', but stage 5 serves "
        f"'advertiser_id % 100 < 5'; run verify diff --stage 5 --policy {setup['policy']}",
    )
    no_cohort = gate_run(run, setup["plain"], 25)
    assert (
        no_cohort.verdict == FAIL and "has no cohort, so it needs a run of all rows" in no_cohort.problems[0]
    )


def test_a_run_of_all_rows_does_not_stand_in_for_a_cohort(setup):
    diff(setup, "all")
    v = gate_run(str(Path(setup["dir"]) / "all"), setup["policy"], 25)
    assert v.verdict == FAIL
    assert v.problems[0].startswith(
        "stage 25 serves the cohort 'advertiser_id % 100 < 25', but the run compared all rows"
    )


def test_cohort_and_sample_together(setup):
    result = diff(
        setup, "both", "--stage", "50", "--policy", setup["policy"], "--sample", "0.5", "--seed", "1"
    )
    out = json.loads(result.output)
    assert 350 < out["entities"]["line_item"]["compared"] < 650  # about half of the 1,000 in the cohort
    assert out["sample"] == {"fraction": 0.5, "seed": 1}
    v = gate_run(str(Path(setup["dir"]) / "both"), setup["policy"], 50)
    assert v.sample == 0.5 and v.entities["line_item"].upper_bound > v.entities["line_item"].rate


@pytest.mark.parametrize(
    ("extra", "needle"),
    [
        (["--stage", "25"], "--stage and --policy go together"),
        (["--stage", "10", "--policy", "POLICY"], "--stage 10 is not a stage of"),
        (["--stage", "25", "--policy", "PLAIN"], "has no 'cohort:'"),
    ],
)
def test_bad_stage_options_are_exit_2(setup, extra, needle):
    extra = [setup["policy"] if x == "POLICY" else setup["plain"] if x == "PLAIN" else x for x in extra]
    result = diff(setup, "bad", *extra)
    assert result.exit_code == 2 and needle in result.output and "Traceback" not in result.output


def test_an_entity_without_the_cohort_column_is_exit_2(setup):
    Path(setup["mapping"]).write_text(MAPPING.replace("[advertiser_id, id]", "[id]"))
    result = diff(setup, "bad", "--stage", "25", "--policy", setup["policy"])
    assert result.exit_code == 2
    assert (
        "the cohort 'advertiser_id % 100 < 25' needs column(s) advertiser_id, which entity 'line_item'"
        in (result.output)
    )
