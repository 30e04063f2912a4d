"""PostgreSQL values on both sides that a reader could get subtly wrong, with each reader.

Arrays are read natively as text[] and compared element by element in order, as PostgreSQL's =
compares them; an array a list cannot hold (two dimensions, or indexes from another first index)
fails the read with a message naming the column. An unconstrained NUMERIC is read at 18 places;
a value with more, or a NaN, fails the read instead of being rounded or dropped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl
import pytest

from verify.engine.run import DiffOptions, run_diff

pytestmark = pytest.mark.postgres

MAPPING = """version: 1
entities:
  arr:
    old: {table: arr_old}
    new: {table: arr_new}
    key: [id]
    columns: "*"
"""

# id: (old a, old n, new a, new n), as SQL; then which columns differ (by PostgreSQL's =).
ROWS: dict[int, tuple[str, str, str, str]] = {
    1: ("'{x,y}'", "'{1,2}'", "'{x,y}'", "'{1,2}'"),
    2: (  # separators, quotes, backslashes and NULL elements are elements like any other
        "ARRAY['a,b', NULL, 'q\"u', 'back\\slash', '', 'NULL']",
        "'{3,NULL}'",
        "ARRAY['a,b', NULL, 'q\"u', 'back\\slash', '', 'NULL']",
        "'{3,NULL}'",
    ),
    3: ("'{}'", "'{}'", "'{}'", "'{}'"),
    4: ("NULL", "NULL", "NULL", "NULL"),
    5: ("'{a,b}'", "'{1,2}'", "'{b,a}'", "'{2,1}'"),  # order matters in an array
    6: ("'{NULL}'", "'{}'", "'{}'", "'{NULL}'"),  # a NULL element is not no element
    7: ("ARRAY['']", "'{0}'", "'{NULL}'", "'{00}'"),  # '' is not NULL; 00 is the integer 0
    8: ("NULL", "'{}'", "'{}'", "NULL"),  # no array is not an empty one
    9: ("ARRAY['NULL']", "'{5}'", "'{NULL}'", "'{5}'"),  # the text 'NULL' is not NULL
}
DIFFERING = {(5, "a"), (5, "n"), (6, "a"), (6, "n"), (7, "a"), (8, "a"), (8, "n"), (9, "a")}


def load(db: Any, old: dict[int, tuple[str, str]], new: dict[int, tuple[str, str]]) -> None:
    statements = ["DROP TABLE IF EXISTS arr_old, arr_new"]
    for name, rows in (("arr_old", old), ("arr_new", new)):
        statements.append(f"CREATE TABLE {name} (id INT PRIMARY KEY, a TEXT[], n INT[])")
        statements += [f"INSERT INTO {name} VALUES ({i}, {a}, {n})" for i, (a, n) in rows.items()]
    db.execute(*statements)


def diff(tmp_path: Path, db: Any, reader: str, mapping_text: str = MAPPING, algorithm: str = "rows") -> Any:
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(mapping_text)
    out = tmp_path / f"run-{reader}"
    return run_diff(
        DiffOptions(
            mapping_path=str(mapping),
            old_url=db.url,
            new_url=db.url,
            out_dir=str(out),
            reader=reader,
            algorithm=algorithm,
        )
    )


@pytest.mark.parametrize("reader", ["auto", "connectorx", "sqlalchemy"])
def test_arrays_are_compared_element_by_element_in_order(tmp_path, postgres_db, reader):
    load(postgres_db, {i: r[:2] for i, r in ROWS.items()}, {i: r[2:] for i, r in ROWS.items()})
    result = diff(tmp_path, postgres_db, reader)
    assert result.status == "complete", result.failures
    parts = sorted((Path(result.run_dir) / "mismatches" / "arr").glob("*.parquet"))
    found = pl.concat([pl.read_parquet(p) for p in parts])
    assert set(found.select("id", "column").iter_rows()) == DIFFERING
    assert result.entities["arr"].matched == 4  # ids 1 to 4


@pytest.mark.parametrize("reader", ["auto", "connectorx", "sqlalchemy"])
@pytest.mark.parametrize(
    ("value", "told"),
    [
        ("'{{a,b},{c,d}}'", "of 2 dimension(s) indexed from 1"),
        ("'[0\\:1]={p,q}'", "of 1 dimension(s) indexed from 0"),
    ],
)
def test_an_array_a_list_cannot_hold_fails_the_read_naming_the_column(
    tmp_path, postgres_db, reader, value, told
):
    # ADBC would read {{a,b},{c,d}} as [a, b, c, d], and every reader reads [0:1]={p,q} as
    # [p, q]; PostgreSQL's = tells both from their flat, 1-based arrays. So the read refuses.
    load(
        postgres_db,
        {1: ("'{x}'", "NULL"), 2: (value, "NULL")},
        {1: ("'{x}'", "NULL"), 2: ("'{p,q}'", "NULL")},
    )
    result = diff(tmp_path, postgres_db, reader)
    assert result.status == "partial"
    (failure,) = result.failures
    assert f"verify compares arrays of one dimension indexed from 1, and column a holds one {told}" in failure


NUMERIC = """version: 1
entities:
  num:
    old: OLD
    new: NEW
    key: [id]
    columns: {v: {}}
"""
PLAIN = NUMERIC.replace("OLD", "{table: num_old}").replace("NEW", "{table: num_new}")
CAST = NUMERIC.replace("OLD", '{query: "SELECT id, CAST(v AS NUMERIC(38,25)) AS v FROM num_old"}').replace(
    "NEW", '{query: "SELECT id, CAST(v AS NUMERIC(38,25)) AS v FROM num_new"}'
)


def numbers(db: Any, old: list[str], new: list[str]) -> None:
    statements = ["DROP TABLE IF EXISTS num_old, num_new"]
    for name, values in (("num_old", old), ("num_new", new)):
        statements.append(f"CREATE TABLE {name} (id INT PRIMARY KEY, v NUMERIC)")
        statements += [f"INSERT INTO {name} VALUES ({i}, {v})" for i, v in enumerate(values)]
    db.execute(*statements)


@pytest.mark.parametrize("reader", ["auto", "connectorx", "sqlalchemy"])
def test_an_unconstrained_numeric_is_never_rounded(tmp_path, postgres_db, reader):
    # Equal to 18 places, different at the 22nd: rounded to 18, the two would be equal.
    numbers(
        postgres_db,
        ["1.5", "0.1234567890123456789012"],
        ["1.5000000000000000000000000", "0.1234567890123456789099"],
    )
    result = diff(tmp_path, postgres_db, reader, PLAIN)
    assert result.status == "partial"
    (failure,) = result.failures
    assert "column v (numeric) holds 0.12345678901234567890" in failure
    assert (
        "with 22 decimal places; it is read at 18, and rounding it would change the value compared" in failure
    )
    assert "CAST(v AS NUMERIC(38,20))" in failure  # the fix; read so, the difference is found:
    (tmp_path / "cast").mkdir()
    result = diff(tmp_path / "cast", postgres_db, reader, CAST)
    assert result.status == "complete", result.failures
    summary = result.entities["num"]
    assert (summary.matched, summary.by_column) == (1, {"v": 1})  # 1.5 is 1.5 at any number of places


SPECIAL = "CASE WHEN v IN ('NaN', 'Infinity', '-Infinity')"
MAPPED = NUMERIC.replace("columns: {v: {}}", "columns: {v: {}, v_special: {}}")
for _side in ("OLD", "NEW"):
    MAPPED = MAPPED.replace(
        _side,
        f'{{query: "SELECT id, {SPECIAL} THEN NULL ELSE v END AS v, {SPECIAL} THEN CAST(v AS TEXT) END '
        f'AS v_special FROM num_{_side.lower()}"}}',
    )


@pytest.mark.parametrize("reader", ["auto", "connectorx", "sqlalchemy"])
def test_a_numeric_nan_or_infinity_fails_the_read_and_the_advised_query_compares_it(
    tmp_path, postgres_db, reader
):
    old = ["1", "'NaN'", "'Infinity'", "'-Infinity'", "2.5"]
    numbers(postgres_db, old, ["1", "'NaN'", "'-Infinity'", "'-Infinity'", "'NaN'"])
    result = diff(tmp_path, postgres_db, reader, PLAIN)
    assert result.status == "partial"
    (failure,) = result.failures
    assert "column v (numeric) holds NaN, which is no decimal: map it in the side's `query`" in failure
    assert f"{SPECIAL} THEN CAST(v AS TEXT) END AS v_special" in failure
    (tmp_path / "mapped").mkdir()
    result = diff(tmp_path / "mapped", postgres_db, reader, MAPPED)  # the advice, as it is given
    assert result.status == "complete", result.failures
    summary = result.entities["num"]
    # Infinity became -Infinity (id 2), and 2.5 became NaN (id 4): both found, nothing else.
    assert (summary.matched, summary.by_column) == (3, {"v_special": 2, "v": 1})


INTERVALS = """version: 1
entities:
  iv:
    old: {table: iv_old}
    new: {table: iv_new}
    key: [id]
    columns: {iv: {}}
"""
# Pairs of intervals, and PostgreSQL's own = is the truth: a month is 30 days there, a day 24
# hours, and a year 12 months (360 days: not 365.25, which EXTRACT(EPOCH) would count).
INTERVAL_PAIRS = [
    ("1 year", "365 days 06:00:00"),
    ("1 year", "360 days"),
    ("1 mon", "30 days"),
    ("1 day", "24:00:00"),
    ("-1 day 00:00:00.000001", "-1 day 00:00:00.000001"),
    ("-1 day 00:00:00.000001", "-1 day"),
    ("1 year 2 mons -3 days 04:05:06.7", "1 year 2 mons -3 days 04:05:06.700001"),
    ("-1000 years", "-1000 years"),
]


@pytest.mark.parametrize("algorithm", ["rows", "checksum"])
@pytest.mark.parametrize("reader", ["auto", "connectorx", "sqlalchemy"])
def test_intervals_are_equal_exactly_when_postgresql_says_so(tmp_path, postgres_db, reader, algorithm):
    statements = ["DROP TABLE IF EXISTS iv_old, iv_new"]
    for name, at in (("iv_old", 0), ("iv_new", 1)):
        statements.append(f"CREATE TABLE {name} (id INT PRIMARY KEY, iv INTERVAL)")
        statements += [f"INSERT INTO {name} VALUES ({i}, '{p[at]}')" for i, p in enumerate(INTERVAL_PAIRS)]
    postgres_db.execute(*statements)
    truth = postgres_db.query("SELECT o.id FROM iv_old o JOIN iv_new n USING (id) WHERE o.iv <> n.iv")
    assert {r[0] for r in truth} == {0, 5, 6}  # what this test rests on: PostgreSQL's =
    result = diff(tmp_path, postgres_db, reader, INTERVALS, algorithm)
    assert result.status == "complete", result.failures
    found = pl.read_parquet(tmp_path / f"run-{reader}" / "mismatches" / "iv" / "*.parquet")
    assert set(found["id"].cast(pl.Int64)) == {0, 5, 6}


TIMES = """version: 1
entities:
  tm:
    old: {table: tm_old}
    new: {table: tm_new}
    key: [id]
    columns: "*"
"""


def times(db: Any, old: list[tuple[str, str]], new: list[tuple[str, str]]) -> None:
    statements = ["DROP TABLE IF EXISTS tm_old, tm_new"]
    for name, values in (("tm_old", old), ("tm_new", new)):
        statements.append(f"CREATE TABLE {name} (id INT PRIMARY KEY, t TIMESTAMP, d DATE)")
        statements += [f"INSERT INTO {name} VALUES ({i}, {t}, {d})" for i, (t, d) in enumerate(values)]
    db.execute(*statements)


@pytest.mark.parametrize(
    ("value", "column"),
    [("('infinity', '2020-01-01')", "t"), ("('2020-01-01', '-infinity')", "d"), ("('-infinity', NULL)", "t")],
)
@pytest.mark.parametrize("reader", ["auto", "connectorx", "sqlalchemy"])
def test_an_infinite_date_or_time_fails_the_read(tmp_path, postgres_db, reader, value, column):
    # ADBC reads 'infinity' as a time 292,000 years before 1970 (its epoch shift wraps), next to
    # '-infinity': compared, the two would be told apart by a microsecond, and shown as garbage.
    t, d = value.strip("()").split(", ")
    times(postgres_db, [("'2020-01-01'", "'2020-01-01'"), (t, d)], [("'2020-01-01'", "'2020-01-01'"), (t, d)])
    result = diff(tmp_path, postgres_db, reader, TIMES)
    assert result.status == "partial"
    if reader == "auto":  # the others' own readers refuse such a value, in their words
        (failure,) = result.failures
        assert f"column {column} (" in failure and "holds infinity or -infinity" in failure
        assert f"CASE WHEN isfinite({column}) THEN {column}" in failure


@pytest.mark.parametrize("new", ["'5874897-12-31'", "'5874897-12-30'", "'262144-01-01'"])
def test_a_date_after_the_year_262143_fails_the_read_equal_or_not(tmp_path, postgres_db, new):
    # No reader's date and no Polars display holds it: shown as a difference, it would panic.
    times(postgres_db, [("'2020-01-01'", "'5874897-12-31'")], [("'2020-01-01'", new)])
    result = diff(tmp_path, postgres_db, "auto", TIMES)
    assert result.status == "partial"
    (failure,) = result.failures
    assert "column d (date) holds infinity or -infinity (or a date after the year 262143" in failure


def test_finite_dates_and_times_far_from_today_are_compared(tmp_path, postgres_db):
    old = [("'4713-01-01 00:00:00 BC'", "'4713-01-01 BC'"), ("'0001-01-01'", "'0044-03-15 BC'")]
    new = [("'4713-01-01 00:00:00 BC'", "'4713-01-01 BC'"), ("'0001-01-01'", "'0044-03-15'")]
    old.append(("'200000-01-01'", "'200000-01-01'"))
    new.append(("'200000-01-01'", "'200000-01-01'"))
    times(postgres_db, old, new)
    result = diff(tmp_path, postgres_db, "auto", TIMES)
    assert result.status == "complete", result.failures
    assert (result.entities["tm"].matched, result.entities["tm"].by_column) == (2, {"d": 1})


BITS = """version: 1
entities:
  vb:
    old: {table: vb_old}
    new: {table: vb_new}
    key: [id]
    columns: {vb: {}, b: {}}
"""
# (old vb, new vb): a bit string's length is part of it, as PostgreSQL's = has it. bit(4) beside
# it is the same on both sides, and compared as the number it spells.
BIT_PAIRS = [
    ("'00101'", "'101'"),
    ("'0'", "'00'"),
    ("''", "''"),
    ("'1'", "'1'"),
    ("NULL", "''"),
    ("NULL", "NULL"),
]


@pytest.mark.parametrize("algorithm", ["rows", "checksum"])
@pytest.mark.parametrize("reader", ["auto", "connectorx", "sqlalchemy"])
def test_bit_strings_of_other_lengths_differ(tmp_path, postgres_db, reader, algorithm):
    statements = ["DROP TABLE IF EXISTS vb_old, vb_new"]
    for name, at in (("vb_old", 0), ("vb_new", 1)):
        statements.append(f"CREATE TABLE {name} (id INT PRIMARY KEY, vb BIT VARYING(20), b BIT(4))")
        statements += [f"INSERT INTO {name} VALUES ({i}, {p[at]}, B'0110')" for i, p in enumerate(BIT_PAIRS)]
    postgres_db.execute(*statements)
    truth = postgres_db.query(
        "SELECT o.id FROM vb_old o JOIN vb_new n USING (id) WHERE o.vb IS DISTINCT FROM n.vb"
    )
    assert {r[0] for r in truth} == {0, 1, 4}  # PostgreSQL's own word
    result = diff(tmp_path, postgres_db, reader, BITS, algorithm)
    assert result.status == "complete", result.failures
    assert result.entities["vb"].by_column == {"vb": 3}
    found = pl.read_parquet(tmp_path / f"run-{reader}" / "mismatches" / "vb" / "*.parquet")
    assert set(found["id"].cast(pl.Int64)) == {0, 1, 4}


WIDE = NUMERIC.replace("OLD", "{table: num_old}").replace("NEW", "{table: num_new}")
WIDE_AS_TEXT = NUMERIC.replace("OLD", '{query: "SELECT id, CAST(v AS TEXT) AS v FROM num_old"}').replace(
    "NEW", '{query: "SELECT id, CAST(v AS TEXT) AS v FROM num_new"}'
)


def test_a_decimal_of_more_than_38_digits_fails_the_read_and_reads_exactly_as_text(tmp_path, postgres_db):
    big = "99999999999999999999999999999999999.999999999999999999999999999999"
    statements = ["DROP TABLE IF EXISTS num_old, num_new"]
    for name, last in (("num_old", "1"), ("num_new", "2")):  # 65 digits; the last one differs at row 1
        statements.append(f"CREATE TABLE {name} (id INT PRIMARY KEY, v NUMERIC(65,30))")
        statements.append(f"INSERT INTO {name} VALUES (0, {big}), (1, {big[:-1]}{last}), (2, 1.5)")
    postgres_db.execute(*statements)
    result = diff(tmp_path, postgres_db, "auto", WIDE)
    assert result.status == "partial"
    (failure,) = result.failures
    assert f"holds {big}, which is no decimal of 38 digits with 30 places: read it" in failure
    assert "as text (a CAST to CHAR or TEXT) on both sides" in failure
    (tmp_path / "text").mkdir()
    result = diff(tmp_path / "text", postgres_db, "auto", WIDE_AS_TEXT)  # the advice, followed
    assert result.status == "complete", result.failures
    assert (result.entities["num"].matched, result.entities["num"].by_column) == (2, {"v": 1})
