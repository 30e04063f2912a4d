"""Properties of the diff engine on real SQLite files.

A table diffed with itself is clean; randomly planted differences are found exactly, with the
right key, kind and column; and the result does not depend on segment size or worker count.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given
from hypothesis import strategies as st

from verify.engine.run import DiffOptions, run_diff

MAPPING = """version: 1
entities:
  t:
    old: {table: t}
    new: {table: t}
    key: [id]
    columns: "*"
"""

ROW = st.tuples(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6),
    st.integers(-(10**12), 10**12),
    st.one_of(st.none(), st.floats(allow_nan=False, allow_infinity=False, width=32)),
)


def write_table(path: Path, rows: dict[int, tuple]) -> str:
    conn = sqlite3.connect(path)
    conn.execute("DROP TABLE IF EXISTS t")
    conn.execute("CREATE TABLE t (id INTEGER, name TEXT, amount INTEGER, score REAL)")
    conn.executemany(
        "INSERT INTO t VALUES (?, ?, ?, ?)",
        [(k, *v) for k, vs in rows.items() for v in (vs if isinstance(vs, list) else [vs])],
    )
    conn.commit()
    conn.close()
    return f"sqlite:///{path}"


def diff_set(
    tmp: Path, old: str, new: str, segment_rows: int, workers: int = 1, tag: str = "run"
) -> tuple[set[tuple], dict]:
    mapping = tmp / "m.yaml"
    mapping.write_text(MAPPING)
    out = tmp / tag
    result = run_diff(
        DiffOptions(
            mapping_path=str(mapping),
            old_url=old,
            new_url=new,
            out_dir=str(out),
            workers=workers,
            segment_rows=segment_rows,
        )
    )
    assert result.status == "complete"
    parts = list((out / "mismatches" / "t").glob("*.parquet"))
    found = set()
    if parts:
        df = pl.concat([pl.read_parquet(p) for p in parts])
        found = {(r["id"], r["kind"], r["column"]) for r in df.iter_rows(named=True)}
    return found, result.entities["t"].to_dict()


@st.composite
def table_pair(draw):
    keys = draw(st.lists(st.integers(-1000, 10**6), min_size=1, max_size=60, unique=True))
    old = {k: draw(ROW) for k in keys}
    new = dict(old)
    expected: set[tuple] = set()
    for k in keys:
        action = draw(st.sampled_from(["same"] * 6 + ["drop", "name", "amount", "score", "dup"]))
        name, amount, score = old[k]
        if action == "drop":
            del new[k]
            expected.add((k, "missing_in_new", None))
        elif action == "name":
            new[k] = (name + "!", amount, score)
            expected.add((k, "value", "name"))
        elif action == "amount":
            new[k] = (name, amount + draw(st.sampled_from([-1, 1, 10**6])), score)
            expected.add((k, "value", "amount"))
        elif action == "score":
            new[k] = (name, amount, None if score is not None else 1.5)
            expected.add((k, "value", "score"))
        elif action == "dup":
            new[k] = [old[k], old[k]]
            expected.add((k, "duplicate_key", None))
    extras = draw(st.lists(st.integers(10**6 + 1, 2 * 10**6), max_size=5, unique=True))
    for k in extras:
        new[k] = draw(ROW)
        expected.add((k, "extra_in_new", None))
    return old, new, expected


@given(pair=table_pair(), segment_rows=st.integers(1, 80))
def test_planted_differences_are_found_exactly(tmp_path_factory, pair, segment_rows):
    old, new, expected = pair
    tmp = tmp_path_factory.mktemp("p")
    found, summary = diff_set(
        tmp, write_table(tmp / "o.db", old), write_table(tmp / "n.db", new), segment_rows
    )
    assert found == expected
    assert summary["rows_old"] == len(old)
    assert summary["missing_in_new"] == sum(1 for e in expected if e[1] == "missing_in_new")
    assert summary["duplicate_keys"] == sum(1 for e in expected if e[1] == "duplicate_key")
    assert summary["matched"] + len({e[0] for e in expected}) == summary["compared"]


@given(rows=st.dictionaries(st.integers(-(2**62), 2**62), ROW, max_size=60), segment_rows=st.integers(1, 30))
def test_a_table_diffed_with_itself_is_clean(tmp_path_factory, rows, segment_rows):
    tmp = tmp_path_factory.mktemp("s")
    url = write_table(tmp / "same.db", rows)
    found, summary = diff_set(tmp, url, url, segment_rows)
    assert found == set()
    assert summary["matched"] == summary["compared"] == len(rows)


@pytest.mark.slow
def test_result_does_not_depend_on_segments_or_workers(tmp_path):
    old = {k: (f"n{k}", k * 7, k / 4) for k in range(0, 3000, 3)}
    new = dict(old)
    for k in list(old)[::37]:
        new[k] = (f"n{k}", k * 7 + 1, k / 4)
    for k in list(old)[5::101]:
        del new[k]
    o, n = write_table(tmp_path / "o.db", old), write_table(tmp_path / "n.db", new)
    runs = [
        diff_set(tmp_path, o, n, seg, workers, tag=f"r{seg}-{workers}")
        for seg, workers in ((10_000, 1), (7, 1), (97, 2), (250, 2))
    ]
    first_found, first_summary = runs[0]
    assert len(first_found) == len(list(old)[::37]) + len(list(old)[5::101]) - len(
        set(list(old)[::37]) & set(list(old)[5::101])
    )
    for found, summary in runs[1:]:
        assert found == first_found
        assert {k: v for k, v in summary.items() if k != "segments"} == {
            k: v for k, v in first_summary.items() if k != "segments"
        }
