"""Checksum pushdown on MariaDB -> PostgreSQL: the same result as reading every row, while
equal key ranges are never read.

A hypothesis property plants random differences (changed values, rows missing or extra, keys
duplicated, NULLs) in random tables and holds `--algorithm checksum` to the row algorithm.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from verify.engine import checksum, strategy
from verify.engine.run import DiffOptions, run_diff

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]

MAPPING = """version: 1
entities:
  ck:
    old: {table: ck}
    new: {table: ck}
    key: [id]
    columns: "*"
"""
OLD_DDL = (
    "CREATE TABLE ck (id BIGINT, amount DECIMAL(12,2), name VARCHAR(40), at DATETIME(6), "
    "flag TINYINT, day DATE)"
)
NEW_DDL = (
    "CREATE TABLE ck (id BIGINT, amount NUMERIC(12,2), name TEXT, at TIMESTAMPTZ, flag BOOLEAN, day DATE)"
)
BASE = dt.datetime(2024, 3, 1, 12, 0, 0)


def row(i: int, salt: int = 0) -> tuple:
    return (
        i,
        decimal.Decimal(i * 7 + salt) / 100,
        f"name {i}" if (i + salt) % 11 else None,
        BASE + dt.timedelta(seconds=i * 37 + salt, microseconds=i % 7),
        (i + salt) % 2,
        (BASE + dt.timedelta(days=i + salt)).date(),
    )


def literal(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, (int, decimal.Decimal)):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def load(db, ddl: str, rows: list[tuple], family: str) -> None:
    def value(i: int, v) -> str:
        if family == "postgres" and i == 4 and v is not None:
            return "TRUE" if v else "FALSE"
        if family == "postgres" and i == 3 and v is not None:
            return f"'{v.isoformat(sep=' ')}+00'"
        return literal(v)

    statements = ["DROP TABLE IF EXISTS ck", ddl]
    if rows:
        statements.append(
            "INSERT INTO ck VALUES "
            + ", ".join("(" + ", ".join(value(i, v) for i, v in enumerate(r)) + ")" for r in rows)
        )
    db.execute(*statements)


def outcome(result, out: Path) -> tuple[dict, list]:
    e = json.loads((out / "summary.json").read_text())["entities"]["ck"]
    counts = {k: v for k, v in e.items() if k not in ("rows_read", "segments", "segments_failed")}
    parts = sorted((out / "mismatches" / "ck").glob("*.parquet"))
    records = sorted(pl.concat([pl.read_parquet(p) for p in parts]).rows(), key=repr) if parts else []
    return counts, records


def diff(tmp_path: Path, dbs, name: str, algorithm: str, segment_rows: int = 50):
    mapping = tmp_path / "ck.yaml"
    mapping.write_text(MAPPING)
    out = tmp_path / name
    options = DiffOptions(
        str(mapping),
        dbs[0].url,
        dbs[1].url,
        out_dir=str(out),
        workers=2,
        segment_rows=segment_rows,
        algorithm=algorithm,
    )
    result = run_diff(options)
    assert result.status == "complete"
    return result, out


@pytest.fixture(scope="module")
def dbs(mysql_db, postgres_db):
    return mysql_db, postgres_db


@pytest.fixture()
def small_leaves(monkeypatch):
    monkeypatch.setattr(checksum, "LEAF_ROWS", 8)  # split down to a few rows, to exercise splitting


changes = st.lists(
    st.tuples(
        st.sampled_from(["value", "value", "value", "missing", "extra", "dup_old", "dup_new", "null_key"]),
        st.integers(1, 400),
        st.integers(1, 5),  # the column a value change touches
    ),
    max_size=12,
)


def changed(r: tuple, column: int) -> tuple:
    """The row with one column changed by the least amount its type can show."""
    v = r[column]
    if column == 1:
        v = v + decimal.Decimal("0.01")
    elif column == 2:
        v = None if v is not None and r[0] % 2 else f"{v or ''}x"
    elif column == 3:
        v = v + dt.timedelta(microseconds=1)
    elif column == 4:
        v = 1 - v
    else:
        v = v + dt.timedelta(days=1)
    return (*r[:column], v, *r[column + 1 :])


@settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture], max_examples=20)
@given(n=st.integers(0, 400), planted=changes)
def test_checksums_find_exactly_what_reading_every_row_finds(tmp_path_factory, dbs, small_leaves, n, planted):
    old = {i: row(i) for i in range(1, n + 1)}
    new = dict(old)
    old_extra, new_extra = [], []
    for kind, i, column in planted:
        if kind == "value" and i in new:
            new[i] = changed(new[i], column)
        elif kind == "missing":
            new.pop(i, None)
        elif kind == "extra":
            new[n + i] = row(n + i)
        elif kind == "dup_old" and i in old:
            old_extra.append(old[i])
        elif kind == "dup_new" and i in new:
            new_extra.append(new[i])
        elif kind == "null_key":
            old_extra.append((None, *row(i)[1:]))
    load(dbs[0], OLD_DDL, [*old.values(), *old_extra], "mysql")
    load(dbs[1], NEW_DDL, [*new.values(), *new_extra], "postgres")
    tmp = tmp_path_factory.mktemp("ck")
    by_rows = diff(tmp, dbs, "rows", "rows")
    by_checksum = diff(tmp, dbs, "checksum", "checksum")
    assert outcome(*by_checksum) == outcome(*by_rows)


def test_equal_ranges_are_not_read(tmp_path, dbs):
    rows = [row(i) for i in range(1, 2001)]
    load(dbs[0], OLD_DDL, rows, "mysql")
    load(dbs[1], NEW_DDL, [r if r[0] != 1234 else changed(r, 3) for r in rows], "postgres")
    by_rows, _ = diff(tmp_path, dbs, "rows", "rows", segment_rows=500)
    by_checksum, out = diff(tmp_path, dbs, "checksum", "checksum", segment_rows=500)
    assert outcome(by_checksum, out) == outcome(by_rows, tmp_path / "rows")
    assert by_rows.entities["ck"].rows_read == 4000
    # One bucket differs; it is narrowed down to a few rows, which alone are read, on both sides.
    assert 2 <= by_checksum.entities["ck"].rows_read <= 2 * 2 * strategy.FANOUT
    assert by_checksum.entities["ck"].value_mismatch_rows == 1
    plan = json.loads((out / "run.json").read_text())["plan"]["ck"]
    assert plan["checksum"] is True and plan["checksum_notes"] == []


def test_columns_sql_cannot_render_exactly_make_the_entity_read_rows(tmp_path, dbs):
    load(dbs[0], OLD_DDL, [row(i) for i in range(1, 50)], "mysql")
    load(dbs[1], NEW_DDL, [row(i) for i in range(1, 50)], "postgres")
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "version: 1\nentities:\n  ck:\n"
        "    old: {table: ck, timezone: America/New_York}\n    new: {table: ck}\n    key: [id]\n"
        "    columns:\n      name: {normalize: [trim]}\n      at: {}\n      amount: {}\n"
    )
    out = tmp_path / "run"
    result = run_diff(
        DiffOptions(
            str(mapping), dbs[0].url, dbs[1].url, out_dir=str(out), segment_rows=10, algorithm="checksum"
        )
    )
    plan = json.loads((out / "run.json").read_text())["plan"]["ck"]
    assert plan["checksum"] is False
    assert plan["checksum_notes"] == [
        "column 'name' (old side): a value map or normalization, which SQL cannot repeat exactly",
        "column 'at' (old side): local times in America/New_York, which SQL cannot turn into UTC portably",
        "column 'name' (new side): a value map or normalization, which SQL cannot repeat exactly",
    ]
    assert result.entities["ck"].rows_read == 2 * 49  # read as rows


@pytest.mark.parametrize("column", [1, 2, 3, 4, 5], ids=["amount", "name", "at", "flag", "day"])
def test_the_least_change_of_any_column_changes_the_checksum(tmp_path, dbs, column):
    rows = [row(i) for i in range(1, 101)]
    load(dbs[0], OLD_DDL, rows, "mysql")
    load(dbs[1], NEW_DDL, [r if r[0] != 42 else changed(r, column) for r in rows], "postgres")
    by_rows = diff(tmp_path, dbs, "rows", "rows")
    by_checksum = diff(tmp_path, dbs, "checksum", "checksum")
    assert outcome(*by_checksum) == outcome(*by_rows)
    assert by_checksum[0].entities["ck"].value_mismatch_rows == 1


def test_strings_that_would_render_alike_joined_naively_are_told_apart(tmp_path, dbs):
    """'x|' + 'y' and 'x' + '|y' join to the same text, as do '-' + NULL and NULL + '-'
    (NULL renders as '-'): strings are length-prefixed, so their summaries differ."""
    pairs = [
        ((1, "x|", "y"), (1, "x", "|y")),
        ((2, "-", None), (2, None, "-")),
        ((3, "a", "b"), (3, "a", "b")),
    ]
    for db, side, ddl in ((dbs[0], 0, "VARCHAR(8)"), (dbs[1], 1, "TEXT")):
        db.execute(
            "DROP TABLE IF EXISTS ck",
            f"CREATE TABLE ck (id BIGINT, a {ddl}, b {ddl})",
            "INSERT INTO ck VALUES " + ", ".join("(" + ", ".join(map(literal, p[side])) + ")" for p in pairs),
        )
    by_rows = diff(tmp_path, dbs, "rows", "rows")
    by_checksum = diff(tmp_path, dbs, "checksum", "checksum")
    assert outcome(*by_checksum) == outcome(*by_rows)
    assert by_checksum[0].entities["ck"].value_mismatch_rows == 2


def test_rows_read_grow_with_the_differing_rows_not_with_the_buckets(tmp_path, dbs):
    """20,000 rows with a difference every 1,000 rows: every differing bucket holds one, and
    each is narrowed down to a few rows before any row is read."""
    rows = {i: row(i) for i in range(1, 20_001)}
    new = dict(rows)
    for i in range(500, 20_001, 1000):
        new[i] = changed(new[i], 1 + i % 5)
    for i in (1_700, 9_700, 15_700):
        del new[i]
    load(dbs[0], OLD_DDL, [*rows.values(), rows[4_321]], "mysql")  # a duplicated key
    load(dbs[1], NEW_DDL, list(new.values()), "postgres")
    by_rows, _ = diff(tmp_path, dbs, "rows", "rows", segment_rows=5_000)
    by_checksum, out = diff(tmp_path, dbs, "checksum", "checksum", segment_rows=5_000)
    assert outcome(by_checksum, out) == outcome(by_rows, tmp_path / "rows")
    summary = by_checksum.entities["ck"]
    assert (summary.value_mismatch_rows, summary.missing_in_new, summary.duplicate_keys) == (20, 3, 1)
    differing_keys = 20 + 3 + 1
    assert summary.rows_read <= differing_keys * 2 * 2 * strategy.FANOUT  # of 40,000


COMPOSITE = """version: 1
entities:
  ck:
    old: {table: ck}
    new: {table: ck}
    key: [id, flag]
    segment_by: id
    columns: "*"
"""


def test_a_composite_key_repeated_with_other_values_is_a_duplicate_for_checksums_too(tmp_path, dbs):
    """Two rows of one key with different values on both sides: the same multiset of row hashes,
    and still duplicate keys, as the row algorithm says."""
    rows = [row(i) for i in range(1, 3001)]
    twin = (*rows[99][:1], rows[99][1] + 1, *rows[99][2:])  # key (100, flag) again, another amount
    load(dbs[0], OLD_DDL, [*rows, twin], "mysql")
    load(dbs[1], NEW_DDL, [*rows, twin], "postgres")
    (tmp_path / "ck.yaml").write_text(COMPOSITE)
    found = {}
    for algorithm in ("rows", "checksum"):
        out = tmp_path / algorithm
        options = DiffOptions(
            str(tmp_path / "ck.yaml"),
            dbs[0].url,
            dbs[1].url,
            out_dir=str(out),
            segment_rows=1000,
            algorithm=algorithm,
        )
        found[algorithm] = outcome(run_diff(options), out)
    assert found["checksum"] == found["rows"]
    assert found["rows"][0]["duplicate_keys"] == 1
    assert json.loads((tmp_path / "checksum" / "run.json").read_text())["plan"]["ck"]["checksum"] is True
