"""A resumed run is the run it finishes: it keeps the options run.json recorded, and refuses
one given again with another value (it would read faster, or otherwise, than the run did)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from verify.engine.run import DiffOptions, run_diff

MAPPING = """version: 1
entities:
  counts:
    old: {table: counts}
    new: {table: counts}
    key: [id]
    columns: {qty: {type: int}}
"""


ROWS, RATE = 2000, 1000  # rows a side; rows a second each side may be read at


@pytest.fixture()
def partial(tmp_path: Path) -> tuple[list[str], Path, dict[str, str]]:
    """A run left partial by a value its second segment cannot convert, read at RATE rows/s."""
    for name in ("old", "new"):
        with sqlite3.connect(tmp_path / f"{name}.db") as c:
            c.execute("CREATE TABLE counts (id INTEGER, qty TEXT)")
            c.executemany("INSERT INTO counts VALUES (?, ?)", [(i, str(i)) for i in range(1, ROWS + 1)])
            if name == "old":
                c.execute("UPDATE counts SET qty = 'twelve' WHERE id = ?", (ROWS - 5,))
    (tmp_path / "m.yaml").write_text(MAPPING)
    env = {
        **os.environ,
        "VERIFY_OLD_URL": f"sqlite:///{tmp_path / 'old.db'}",
        "VERIFY_NEW_URL": f"sqlite:///{tmp_path / 'new.db'}",
    }
    verify = [sys.executable, "-m", "verify.cli", "diff"]
    out = tmp_path / "run"
    first = run_diff(
        DiffOptions(
            str(tmp_path / "m.yaml"),
            env["VERIFY_OLD_URL"],
            env["VERIFY_NEW_URL"],
            out_dir=str(out),
            segment_rows=ROWS // 2,
            max_rows_per_second=RATE,
            max_connections=1,
        )
    )
    assert first.status == "partial" and first.entities["counts"].segments_failed == 1
    return verify, out, env


def test_a_resume_keeps_the_recorded_rate_and_connections(partial, tmp_path):
    _, out, env = partial
    # Fix the bad value, so that the resume reads the failed segment and completes.
    with sqlite3.connect(tmp_path / "old.db") as c:
        c.execute("UPDATE counts SET qty = ? WHERE id = ?", (str(ROWS - 5), ROWS - 5))
    started = time.monotonic()
    done = run_diff(
        DiffOptions(
            str(tmp_path / "m.yaml"),
            env["VERIFY_OLD_URL"],
            env["VERIFY_NEW_URL"],
            out_dir=str(out),
            resume=True,
        )
    )
    seconds = time.monotonic() - started
    assert done.status == "complete" and done.entities["counts"].matched == ROWS
    # Its half of the rows, read at RATE rows a second: it took at least that long (unthrottled,
    # SQLite reads them in milliseconds).
    assert seconds >= 0.9 * (ROWS // 2) / RATE
    options = json.loads((out / "run.json").read_text())["options"]
    assert (options["max_rows_per_second"], options["max_connections"]) == (RATE, 1)


@pytest.mark.parametrize(
    "flag, value, had",
    [
        ("--max-rows-per-second", "100000", "1000"),
        ("--max-connections", "4", "1"),
        ("--reader", "sqlalchemy", "auto"),
    ],
)
def test_an_option_given_again_with_another_value_is_refused(partial, flag, value, had):
    verify, out, env = partial
    again = subprocess.run(
        [*verify, "--resume", str(out), flag, value], capture_output=True, text=True, env=env
    )
    assert again.returncode == 2, again.stderr
    assert f"the run had {flag} {had}, not {value}; leave {flag} out" in again.stderr
    assert "Traceback" not in again.stderr


def test_the_same_value_again_is_fine(partial):
    verify, out, env = partial
    same = subprocess.run(
        [*verify, "--resume", str(out), "--max-rows-per-second", "1000"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert same.returncode == 3 and "the run had" not in same.stderr
