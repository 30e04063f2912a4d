"""`--algorithm auto` goes by the previous run of the same mapping against the same stores and
entities: a clean run of other stores says nothing about these."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from verify.engine.run import DiffOptions, run_diff

MAPPING = (
    "version: 1\nentities:\n  t:\n    old: {table: t}\n    new: {table: t}\n    key: [id]\n    columns: '*'\n"
)


def store(path: Path, rows: list[tuple[int, str]]) -> str:
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
        c.executemany("INSERT INTO t VALUES (?, ?)", rows)
    return f"sqlite:///{path}"


def test_auto_goes_by_the_previous_run_of_these_stores_only(tmp_path):
    same = [(i, "x") for i in range(1, 201)]
    a_old, a_new = store(tmp_path / "a_old.db", same), store(tmp_path / "a_new.db", same)
    b_old = store(tmp_path / "b_old.db", same)
    b_new = store(tmp_path / "b_new.db", [(i, "y") for i in range(1, 201)])  # every row differs
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING)
    runs = tmp_path / "runs"

    def diff(name: str, old: str, new: str) -> dict:
        run_diff(DiffOptions(str(mapping), old, new, out_dir=str(runs / name), algorithm="auto"))
        return json.loads((runs / name / "run.json").read_text())["options"]

    first = diff("20250101T000000_000000Z", b_old, b_new)
    assert (first["algorithm"], first["algorithm_reason"]) == (
        "rows",
        "auto: no earlier run of this mapping against these stores to go by",
    )
    # Stores A were never diffed: B's run (all rows differed) is not theirs to go by.
    second = diff("20250102T000000_000000Z", a_old, a_new)
    assert second["algorithm"] == "rows" and "no earlier run" in second["algorithm_reason"]
    # Now A has a clean run of its own: checksums, whatever B's run found.
    third = diff("20250103T000000_000000Z", a_old, a_new)
    assert third["algorithm"] == "checksum"
    assert third["algorithm_reason"] == "auto: 0.000% of rows differed in 20250102T000000_000000Z"
    fourth = diff("20250104T000000_000000Z", b_old, b_new)
    assert (
        fourth["algorithm"] == "rows"
        and "100.000% of rows differed in 20250101T000000_000000Z" in fourth["algorithm_reason"]
    )
