"""The DFP -> F1 scenario end to end: the diff finds exactly the planted defects, nothing else,
and attributes each to the rule the mapping wrote for it.

Ground truth comes from the generator; each planted (key, kind, column) must be in the run's
mismatch rows with its defect's rule, and every mismatch row must be planted, in SQLite and
MariaDB -> PostgreSQL, and independently of segment size and worker count.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest

from verify.engine.run import DiffOptions, run_diff
from verify.scenario import build

MAPPING = str(Path(__file__).resolve().parents[2] / "mappings" / "dfp_to_f1.yaml")
KEYS = {
    "advertiser": ["advertiser_id"],
    "campaign": ["advertiser_id", "campaign_id"],
    "line_item": ["advertiser_id", "campaign_id", "line_item_id"],
    "creative": ["advertiser_id", "creative_id"],
}
ROWS = 4000
# Raised rates so every defect kind has several rows at this size.
RATES = (
    "dst_fallback=0.01",
    "money_float_rounding=0.01",
    "far_future_sentinel=0.01",
    "zero_date=0.01",
    "unknown_status=0.01",
    "nfd_normalized=0.01",
    "trailing_space_trimmed=0.01",
    "soft_deleted_not_migrated=0.01",
    "dropped=0.005",
    "duplicated=0.005",
    "phantom=0.005",
)


# The rule mappings/dfp_to_f1.yaml writes for each planted defect; the rest are genuine bugs.
RULE_OF_DEFECT = {
    "far_future_sentinel": ("open_end_as_2038_sentinel", "accept"),
    "zero_date": ("zero_date_as_epoch", "warn"),
    "money_float_rounding": ("money_rounded_to_cents", "warn"),
    "nfd_normalized": ("names_nfc_normalized", "accept"),
    "trailing_space_trimmed": ("names_right_trimmed", "accept"),
    "soft_deleted_not_migrated": ("soft_deleted_not_migrated", "accept"),
}
UNEXPLAINED = ("unexplained", "block")


def expected(truth_path: Path) -> dict[tuple, tuple[str, str]]:
    """(entity, key, kind, column) of every planted difference -> (rule, severity)."""
    truth = pl.read_parquet(truth_path)
    return {
        (r["entity"], json.dumps(json.loads(r["key"]), separators=(",", ":")), r["kind"], r["column"]): (
            RULE_OF_DEFECT.get(r["defect"], UNEXPLAINED)
        )
        for r in truth.iter_rows(named=True)
    }


def found(run_dir: Path) -> dict[tuple, tuple[str, str]]:
    out = {}
    for entity, keys in KEYS.items():
        for part in (run_dir / "mismatches" / entity).glob("*.parquet"):
            for r in pl.read_parquet(part).iter_rows(named=True):
                key = json.dumps([int(r[k]) for k in keys], separators=(",", ":"))
                out[(entity, key, r["kind"], r["column"])] = (r["rule"], r["severity"])
    return out


def check_exact(old_url: str, new_url: str, tmp: Path, runs: list[tuple[int, int]]) -> None:
    truth = tmp / "truth.parquet"
    build(
        "dfp_to_f1", old_url=old_url, new_url=new_url, rows=ROWS, seed=11, truth_path=str(truth), rates=RATES
    )
    want = expected(truth)
    assert {w[2] for w in want} == {"value", "missing_in_new", "extra_in_new", "duplicate_key"}
    for segment_rows, workers in runs:
        run_dir = tmp / f"run-{segment_rows}-{workers}"
        result = run_diff(
            DiffOptions(
                mapping_path=MAPPING,
                old_url=old_url,
                new_url=new_url,
                out_dir=str(run_dir),
                workers=workers,
                segment_rows=segment_rows,
            )
        )
        assert result.status == "complete"
        got = found(run_dir)
        assert got.keys() - want.keys() == set(), (
            f"unplanted differences: {sorted(got.keys() - want.keys())[:10]}"
        )
        assert want.keys() - got.keys() == set(), (
            f"planted but not found: {sorted(want.keys() - got.keys())[:10]}"
        )
        wrong = {k: (got[k], want[k]) for k in want if got[k] != want[k]}
        assert not wrong, f"attributed to the wrong rule (got, want): {sorted(wrong.items())[:10]}"
        li = result.entities["line_item"]
        assert li.duplicate_keys == sum(1 for w in want if w[0] == "line_item" and w[2] == "duplicate_key")
        # Per-rule counts in the summary are the ground truth's, rows by their worst severity too.
        planted = [(k, rule) for k, rule in want.items() if k[0] == "line_item"]
        for rule, severity in {*RULE_OF_DEFECT.values(), UNEXPLAINED}:
            cells = [k for k, r in planted if r == (rule, severity)]
            assert li.by_rule[rule].severity == severity
            assert (li.by_rule[rule].rows, li.by_rule[rule].cells) == (len({k[1] for k in cells}), len(cells))
        rows_at = {
            sev: len({k[1] for k, (_, s) in planted if s == sev}) for sev in ("accept", "warn", "block")
        }
        assert (li.accepted_rows, li.warning_rows, li.blocking_rows) == (
            rows_at["accept"],
            rows_at["warn"],
            rows_at["block"],
        )
        assert result.exit_code == 1


@pytest.mark.slow
def test_sqlite_scenario_is_found_exactly(tmp_path):
    check_exact(
        f"sqlite:///{tmp_path / 'old.db'}",
        f"sqlite:///{tmp_path / 'new.db'}",
        tmp_path,
        [(100_000, 1), (700, 2)],
    )


@pytest.mark.slow
@pytest.mark.mysql
@pytest.mark.postgres
def test_mariadb_to_postgres_scenario_is_found_exactly(mysql_db, postgres_db, tmp_path):
    check_exact(mysql_db.url, postgres_db.url, tmp_path, [(100_000, 1), (900, 2)])
