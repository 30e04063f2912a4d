"""Runs over time, end to end on the DFP -> F1 scenario in SQLite.

Diff, repair one planted defect in the new store (trailing spaces trimmed from names, whose
keys the ground truth gives), diff again: the report compared with the first run names exactly
those keys as fixed. Then `--only-previous-mismatches` re-checks exactly the keys that differed.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner

from verify.cli import main
from verify.engine.run import DiffOptions, run_diff
from verify.scenario import build

MAPPING = str(Path(__file__).resolve().parents[2] / "mappings" / "dfp_to_f1.yaml")
LINE_ITEM_KEYS = ("advertiser_id", "campaign_id", "line_item_id")
DEFECT = "trailing_space_trimmed"


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    """Two runs side by side: before and after the repair of one defect."""
    tmp = tmp_path_factory.mktemp("scenario")
    old, new, truth = tmp / "old.db", tmp / "new.db", tmp / "truth.parquet"
    build(
        "dfp_to_f1",
        old_url=f"sqlite:///{old}",
        new_url=f"sqlite:///{new}",
        rows=2000,
        seed=5,
        truth_path=str(truth),
        rates=("trailing_space_trimmed=0.01", "money_float_rounding=0.01", "dropped=0.005"),
    )
    planted = pl.read_parquet(truth)
    repaired = {
        tuple(json.loads(k))
        for k in planted.filter((pl.col("defect") == DEFECT) & (pl.col("entity") == "line_item"))["key"]
    }
    assert len(repaired) == 20
    runs = tmp / "runs"

    def diff(name: str, **extra) -> Path:
        out = runs / name
        result = run_diff(
            DiffOptions(MAPPING, f"sqlite:///{old}", f"sqlite:///{new}", out_dir=str(out), workers=2, **extra)
        )
        assert result.status == "complete"
        return out

    first = diff("20250101T000000_000000Z")
    with sqlite3.connect(new) as conn:  # the fix: copy the untrimmed names from the old store
        conn.execute("ATTACH DATABASE ? AS legacy", (str(old),))
        conn.executemany(
            "UPDATE line_item SET name = (SELECT name FROM legacy.line_items WHERE id = ?) "
            "WHERE advertiser_id = ? AND campaign_id = ? AND line_item_id = ?",
            [(li, adv, camp, li) for adv, camp, li in repaired],
        )
    second = diff("20250102T000000_000000Z")
    return {
        "old": old,
        "new": new,
        "first": first,
        "second": second,
        "repaired": repaired,
        "planted": planted,
    }


def cli_diff(scenario, out: Path, *extra: str):
    """`verify diff` of the scenario's two stores through the command line, into `out`."""
    old, new = f"sqlite:///{scenario['old']}", f"sqlite:///{scenario['new']}"
    argv = ["diff", "--mapping", MAPPING, "--old", old, "--new", new, "--out", str(out), *extra]
    return CliRunner().invoke(main, argv)


def test_the_report_names_exactly_the_repaired_keys_as_fixed(scenario, tmp_path):
    out = tmp_path / "report.json"
    result = CliRunner().invoke(main, ["report", "--run", str(scenario["second"]), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "compared with 20250101T000000_000000Z (previous run)" in result.output
    report = json.loads(out.read_text())
    li = next(e for e in report["comparison"]["entities"] if e["entity"] == "line_item")
    assert tuple(li["keys"]) == LINE_ITEM_KEYS
    assert {tuple(k) for k in li["total"]["fixed_keys"]} == scenario["repaired"]
    assert li["total"]["fixed"] == len(scenario["repaired"])
    assert li["total"]["new"] == 0
    # Everything else that was planted is still there.
    other = scenario["planted"].filter((pl.col("entity") == "line_item") & (pl.col("defect") != DEFECT))
    assert li["total"]["still"] == other["key"].n_unique()
    trimmed = next(r for r in li["rules"] if r["rule"] == "names_right_trimmed")
    assert {tuple(k) for k in trimmed["fixed_keys"]} == scenario["repaired"]


def test_the_markdown_report_lists_the_fixed_keys(scenario):
    result = CliRunner().invoke(main, ["report", "--run", str(scenario["second"])])
    assert result.exit_code == 0, result.output
    assert "## Since 20250101T000000\\_000000Z (previous run)" in result.output
    fixed_line = next(line for line in result.output.splitlines() if line.startswith("Fixed in line\\_item"))
    for key in sorted(scenario["repaired"])[:20]:
        assert f"({', '.join(str(v) for v in key)})" in fixed_line


def test_only_previous_mismatches_rechecks_exactly_those_keys(scenario, tmp_path):
    first = scenario["first"]
    differed = (
        pl.read_parquet(first / "mismatches" / "line_item" / "*.parquet")
        .select(LINE_ITEM_KEYS)
        .unique()
        .height
    )
    out = tmp_path / "recheck"
    result = cli_diff(
        scenario,
        out,
        "--only-previous-mismatches",
        str(first),
        "--format",
        "json",
        "--segment-rows",
        "500",  # several segments, each narrowed to the keys inside it
    )
    assert result.exit_code == 1, result.output
    summary = json.loads(result.output)
    li = summary["entities"]["line_item"]
    assert li["compared"] == differed  # only the keys that differed, every one of them
    # the repaired names match now; the rest still differs, each row at its worst severity
    still = differed - len(scenario["repaired"])
    assert li["blocking_rows"] + li["warning_rows"] + li["accepted_rows"] == still
    assert li["by_rule"]["names_right_trimmed"]["rows"] == 0
    for entity in ("advertiser", "campaign", "creative"):  # each: exactly its keys that differed
        parts = sorted((first / "mismatches" / entity).glob("*.parquet"))
        before = (
            pl.concat(
                [pl.read_parquet(p).drop("kind", "column", "old", "new", "rule", "severity") for p in parts]
            )
            .unique()
            .height
            if parts
            else 0
        )
        assert summary["entities"][entity]["compared"] == before, entity
    assert summary["entities"]["creative"]["compared"] > 0  # the truncated assets
    run = json.loads((out / "run.json").read_text())
    assert run["options"]["only_previous_mismatches"] == str(first)
    assert any("re-checked only" in n for n in summary["notes"])
    now = pl.read_parquet(out / "mismatches" / "line_item" / "*.parquet").select(LINE_ITEM_KEYS).unique()
    assert not {tuple(r) for r in now.iter_rows()} & scenario["repaired"]


def test_only_previous_mismatches_of_a_missing_run_is_one_clear_error(scenario, tmp_path):
    result = cli_diff(scenario, tmp_path / "x", "--only-previous-mismatches", str(tmp_path / "nope"))
    assert result.exit_code == 2, result.output
    assert "does not exist" in result.output and "Traceback" not in result.output
