"""Live data on real servers: rows that change during a run, and rows changed too recently.

Old is MariaDB, new is PostgreSQL. t(id, v, updated_at): new differs at id 5 (fixed while the
run is going, as replication catching up would), at 17 (missing) and 33 (a real difference).
"""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from verify.engine.run import DiffOptions, run_diff
from verify.errors import UsageError

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]

ROWS = 40
MAPPING = """version: 1
entities:
  t:
    old: {table: t}
    new: {table: t}
    key: [id]
    columns:
      v: {}
      updated_at: {type: timestamp, timezone: UTC}
"""


@pytest.fixture()
def stores(mysql_db, postgres_db):
    mysql_db.execute(
        "DROP TABLE IF EXISTS t",
        "CREATE TABLE t (id INT PRIMARY KEY, v INT, updated_at DATETIME)",
        "INSERT INTO t VALUES "
        + ", ".join(f"({i}, {i * 10}, '2024-01-01 00:00:00')" for i in range(1, ROWS + 1)),
    )
    changed = {5: 51, 33: 331}
    postgres_db.execute(
        "DROP TABLE IF EXISTS t",
        "CREATE TABLE t (id INT PRIMARY KEY, v INT, updated_at TIMESTAMPTZ)",
        "INSERT INTO t VALUES "
        + ", ".join(
            f"({i}, {changed.get(i, i * 10)}, '2024-01-01 00:00:00+00')"
            for i in range(1, ROWS + 1)
            if i != 17
        ),
    )
    return mysql_db, postgres_db


def run(tmp_path: Path, stores, **extra):
    mysql_db, postgres_db = stores
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING)
    out = tmp_path / "run"
    options = DiffOptions(
        str(mapping), mysql_db.url, postgres_db.url, out_dir=str(out), workers=2, segment_rows=10, **extra
    )
    return run_diff(options), out


def records(out: Path) -> dict[tuple, tuple[str, str]]:
    frame = pl.read_parquet(out / "mismatches" / "t" / "*.parquet")
    return {
        (r["id"], r["kind"], r["column"]): (r["rule"], r["severity"]) for r in frame.iter_rows(named=True)
    }


def test_a_difference_that_disappears_on_the_second_read_is_transient(tmp_path, stores):
    mysql_db, postgres_db = stores
    outcome: dict = {}

    def diff() -> None:
        outcome["result"], outcome["out"] = run(tmp_path, stores, recheck_after=2.0)

    worker = threading.Thread(target=diff)
    worker.start()
    finished = tmp_path / "run" / "segments" / "t"
    deadline = time.monotonic() + 30
    while not (finished.is_dir() and len(list(finished.glob("*.json"))) == 4) and time.monotonic() < deadline:
        time.sleep(0.01)
    postgres_db.execute("UPDATE t SET v = 50 WHERE id = 5")  # replication caught up mid-run
    worker.join(timeout=60)
    result, out = outcome["result"], outcome["out"]
    assert result.status == "complete"
    assert records(out) == {
        (5, "value", "v"): ("transient", "accept"),
        (17, "missing_in_new", None): ("unexplained", "block"),
        (33, "value", "v"): ("unexplained", "block"),
    }
    t = result.entities["t"]
    assert (t.blocking_rows, t.accepted_rows) == (2, 1)  # the real ones are not hidden
    assert (t.by_rule["transient"].rows, t.by_rule["unexplained"].rows) == (1, 2)
    assert t.value_mismatch_rows == 2  # still counted as found on the first read
    summary = json.loads((out / "summary.json").read_text())
    assert summary["entities"]["t"]["by_rule"]["transient"]["severity"] == "accept"


def test_without_changes_a_recheck_hides_nothing(tmp_path, stores):
    result, out = run(tmp_path, stores, recheck_after=0.0)
    assert {rule for rule, _ in records(out).values()} == {"unexplained"}
    assert result.entities["t"].blocking_rows == 3 and "transient" not in result.entities["t"].by_rule


def test_rows_changed_too_recently_on_either_side_are_left_out(tmp_path, stores):
    mysql_db, postgres_db = stores
    # 3 and 4 are being written right now (old side), 6 on the new side; 33 differs for real.
    mysql_db.execute("UPDATE t SET v = v + 1, updated_at = UTC_TIMESTAMP() WHERE id IN (3, 4)")
    postgres_db.execute("UPDATE t SET updated_at = now() WHERE id = 6")
    result, out = run(tmp_path, stores, settle_column="updated_at", settle_seconds=300)
    t = result.entities["t"]
    assert t.skipped_unsettled == 3
    assert t.compared == ROWS - 3
    assert set(records(out)) == {(5, "value", "v"), (17, "missing_in_new", None), (33, "value", "v")}
    run_info = json.loads((out / "run.json").read_text())
    assert run_info["options"]["settle"]["column"] == "updated_at"


def test_the_settle_column_must_be_a_compared_timestamp(tmp_path, stores):
    with pytest.raises(UsageError, match="--settle-column v: no entity compares a timestamp column"):
        run(tmp_path, stores, settle_column="v", settle_seconds=60)
