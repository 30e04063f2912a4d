"""The DFP -> F1 scenario end to end: the diff finds exactly the planted defects, nothing else.

Ground truth comes from the generator; each planted (key, kind, column) must be in the run's
mismatch rows and every mismatch row must be planted, in SQLite and MariaDB -> PostgreSQL, and
independently of segment size and worker count.
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


def expected(truth_path: Path) -> set[tuple]:
    truth = pl.read_parquet(truth_path)
    return {
        (r["entity"], json.dumps(json.loads(r["key"]), separators=(",", ":")), r["kind"], r["column"])
        for r in truth.iter_rows(named=True)
    }


def found(run_dir: Path) -> set[tuple]:
    out = set()
    for entity, keys in KEYS.items():
        for part in (run_dir / "mismatches" / entity).glob("*.parquet"):
            for r in pl.read_parquet(part).iter_rows(named=True):
                key = json.dumps([int(r[k]) for k in keys], separators=(",", ":"))
                out.add((entity, key, r["kind"], r["column"]))
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
        assert got - want == set(), f"unplanted differences: {sorted(got - want)[:10]}"
        assert want - got == set(), f"planted but not found: {sorted(want - got)[:10]}"
        li = result.entities["line_item"]
        assert li.duplicate_keys == sum(1 for w in want if w[0] == "line_item" and w[2] == "duplicate_key")
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
