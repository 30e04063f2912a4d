"""Cross-database traps, old side MariaDB and new side PostgreSQL, each with exact expectations.

Every test builds one tiny table pair whose differences are written next to the data, diffs it
with small segments (several segments per table) on one worker and again with one big segment
on two workers, and asserts both runs give the same counters and the same mismatch rows. Each
test runs with each store's own fastest reader (`auto`: ConnectorX for MariaDB, ADBC for
PostgreSQL), with ConnectorX on both sides, and with the SQLAlchemy reader, which `auto` falls
back to for a MySQL server whose session time zone is not UTC.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from verify.engine.check import check_mapping
from verify.engine.run import DiffOptions, run_diff
from verify.errors import MappingError
from verify.results.summary import EntitySummary

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]

SMALL = 3  # rows per segment: every table here is cut into several segments
LARGE = 100_000  # one segment per table


@pytest.fixture(params=["auto", "connectorx", "sqlalchemy"])
def reader(request: pytest.FixtureRequest) -> str:
    return request.param


def table(db: Any, name: str, columns: str, rows: Iterable[Iterable[str]], *setup: str) -> None:
    """(Re)create one table holding `rows`, each given as SQL literals."""
    db.execute(
        *setup,
        f"DROP TABLE IF EXISTS {name}",
        f"CREATE TABLE {name} ({columns})",
        *(f"INSERT INTO {name} VALUES ({', '.join(r)})" for r in rows),
    )


def lit(value: Any) -> str:
    """A Python value as an SQL literal (strings quoted, None as NULL)."""
    if value is None:
        return "NULL"
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def entity_mapping(name: str, key: str, columns: str, old_extra: str = "") -> str:
    """A one-entity mapping over `<name>_old` / `<name>_new`; `columns` is the YAML under `columns:`."""
    return (
        f"version: 1\nentities:\n  {name}:\n"
        f"    old: {{table: {name}_old{old_extra}}}\n"
        f"    new: {{table: {name}_new}}\n"
        f"    key: [{key}]\n"
        f"    columns:\n{columns}"
    )


def mismatches(run_dir: Path, entity: str) -> list[dict[str, Any]]:
    """Every mismatch row the run wrote for one entity."""
    parts = sorted((run_dir / "mismatches" / entity).glob("*.parquet"))
    if not parts:
        return []
    return pl.concat([pl.read_parquet(p) for p in parts], how="vertical_relaxed").to_dicts()


def run_once(
    tmp_path: Path,
    mapping: Path,
    urls: tuple[str, str],
    entity: str,
    reader: str,
    segment_rows: int,
    workers: int,
    algorithm: str = "rows",
) -> tuple[EntitySummary, list[dict[str, Any]]]:
    out = tmp_path / f"run-{segment_rows}-{workers}"
    result = run_diff(
        DiffOptions(
            mapping_path=str(mapping),
            old_url=urls[0],
            new_url=urls[1],
            out_dir=str(out),
            workers=workers,
            segment_rows=segment_rows,
            reader=reader,
            algorithm=algorithm,
        )
    )
    assert result.status == "complete", result.failures
    return result.entities[entity], mismatches(out, entity)


def diff(
    tmp_path: Path,
    mysql_db: Any,
    postgres_db: Any,
    reader: str,
    mapping_text: str,
    entity: str,
    min_segments: int = 1,
) -> tuple[EntitySummary, list[dict[str, Any]]]:
    """Diff with small segments on one worker, then one segment on two; both must agree."""
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text(mapping_text)
    urls = (mysql_db.url, postgres_db.url)
    small, small_rows = run_once(tmp_path, mapping, urls, entity, reader, SMALL, 1)
    large, large_rows = run_once(tmp_path, mapping, urls, entity, reader, LARGE, 2)
    assert small.segments >= min_segments, f"{small.segments} segment(s): the test must cut several"
    assert large.segments == 1
    a, b = small.to_dict(), large.to_dict()
    a.pop("segments"), b.pop("segments")
    assert a == b, "the counters depend on segment size or worker count"
    assert Counter(map(_hashable, small_rows)) == Counter(map(_hashable, large_rows))
    return small, small_rows


def _hashable(row: dict[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in row.items()))


def cells(rows: list[dict[str, Any]], key: str) -> set[tuple]:
    """(key, kind, column, old, new) of every mismatch row."""
    return {(r[key], r["kind"], r["column"], r["old"], r["new"]) for r in rows}


# --- string keys: collation, PAD SPACE and locale order must not matter -----------------------


def test_string_keys_are_matched_by_bytes_not_by_collation(tmp_path, mysql_db, postgres_db, reader):
    # The old key column is utf8mb4_general_ci, where 'a' = 'A' = 'ä' = 'a ' (PAD SPACE) and
    # 'a\t' sorts before 'a', so a real legacy table holding these carries no unique index on
    # it; the new one orders by an ICU locale, which ignores case and punctuation first. verify
    # must bound segments and join by exact bytes. 'q' is only in old: missing_in_new, once.
    keys = ["a", "A", "b", "a ", "ä", "Z", "_x", "a\t"]
    table(
        mysql_db,
        "sk_old",
        "k VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, v INT, KEY (k)",
        [(lit(k), str(i)) for i, k in enumerate([*keys, "q"])],
    )
    table(
        postgres_db,
        "sk_new",
        'k TEXT COLLATE "en-x-icu" PRIMARY KEY, v INT',
        [(lit(k), str(i)) for i, k in enumerate(keys)],
    )
    summary, rows = diff(
        tmp_path,
        mysql_db,
        postgres_db,
        reader,
        entity_mapping("sk", "k", "      v: {}\n"),
        "sk",
        min_segments=3,
    )
    assert cells(rows, "k") == {("q", "missing_in_new", None, None, None)}
    assert len(rows) == 1
    assert (summary.rows_old, summary.rows_new) == (9, 8)
    assert (summary.matched, summary.missing_in_new, summary.extra_in_new) == (8, 1, 0)
    assert (summary.duplicate_keys, summary.value_mismatch_rows) == (0, 0)


def test_string_key_pad_space_pair_in_a_binary_primary_key(tmp_path, mysql_db, postgres_db, reader):
    # MariaDB's utf8mb4_bin is PAD SPACE too ('a' = 'a '); a primary key holding both needs
    # utf8mb4_nopad_bin. Only the value of 'a ' differs (1 vs 2), and only that is reported.
    keys = ["a", "a ", "a\t", "a  ", "A", "b", "ä", "_x"]
    table(
        mysql_db,
        "pk_old",
        "k VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin PRIMARY KEY, v INT",
        [(lit(k), str(i)) for i, k in enumerate(keys)],
    )
    table(
        postgres_db,
        "pk_new",
        'k VARCHAR(20) COLLATE "en-x-icu" PRIMARY KEY, v INT',
        [(lit(k), str(i + (k == "a "))) for i, k in enumerate(keys)],
    )
    summary, rows = diff(
        tmp_path,
        mysql_db,
        postgres_db,
        reader,
        entity_mapping("pk", "k", "      v: {}\n"),
        "pk",
        min_segments=2,
    )
    assert cells(rows, "k") == {("a ", "value", "v", "1", "2")}
    assert (summary.matched, summary.missing_in_new, summary.extra_in_new) == (7, 0, 0)
    assert summary.value_mismatch_rows == 1


# --- decimals at different declared scales ----------------------------------------------------


def test_decimals_at_different_scales(tmp_path, mysql_db, postgres_db, reader):
    # old DECIMAL(18,6) `amt`; new NUMERIC(20,4) `amt4` and NUMERIC(18,6) `amt6`. Row 5 has 18
    # significant digits: through a float64 the 6th-decimal difference would vanish.
    data = [  # id, old amt, new amt4, new amt6          expected
        (1, "1.230000", "1.2300", "1.230000"),  # equal
        (2, "-0.500000", "-0.5000", "-0.500000"),  # equal
        (3, "123456789012.345600", "123456789012.3456", "123456789012.345600"),  # equal
        (4, "1.234501", "1.2345", "1.234501"),  # amt4 differs
        (5, "123456789012.345678", "123456789012.3457", "123456789012.345679"),  # both differ
        (6, "NULL", "NULL", "0.000000"),  # amt6 differs
        (7, "0.000000", "0.0000", "0.000000"),  # equal
    ]
    table(mysql_db, "dec_old", "id INT PRIMARY KEY, amt DECIMAL(18,6)", [(str(i), o) for i, o, _, _ in data])
    table(
        postgres_db,
        "dec_new",
        "id INT PRIMARY KEY, amt4 NUMERIC(20,4), amt6 NUMERIC(18,6)",
        [(str(i), a4, a6) for i, _, a4, a6 in data],
    )
    columns = "      amt4: {old: amt, new: amt4}\n      amt6: {old: amt, new: amt6}\n"
    summary, found = diff(
        tmp_path, mysql_db, postgres_db, reader, entity_mapping("dec", "id", columns), "dec", min_segments=2
    )
    assert {(r["id"], r["kind"], r["column"]) for r in found} == {
        (4, "value", "amt4"),
        (5, "value", "amt4"),
        (5, "value", "amt6"),
        (6, "value", "amt6"),
    }
    by_cell = {
        (r["id"], r["column"]): (r["old"] and Decimal(r["old"]), r["new"] and Decimal(r["new"]))
        for r in found
    }
    assert by_cell[(4, "amt4")] == (Decimal("1.234501"), Decimal("1.2345"))
    assert by_cell[(5, "amt4")] == (Decimal("123456789012.345678"), Decimal("123456789012.3457"))
    assert by_cell[(5, "amt6")] == (Decimal("123456789012.345678"), Decimal("123456789012.345679"))
    assert by_cell[(6, "amt6")] == (None, Decimal(0))
    assert summary.by_column == {"amt4": 2, "amt6": 2}
    assert (summary.compared, summary.matched, summary.value_mismatch_rows) == (7, 4, 3)


def test_decimals_with_more_than_ten_decimals_stay_exact(tmp_path, mysql_db, postgres_db, reader):
    # DECIMAL(30,12) on both sides: the readers must not round to a fixed scale of 10.
    data = [  # id, old, new                             expected
        (1, "1.123456789012", "1.123456789012"),  # equal
        (2, "1.123456789012", "1.123456789013"),  # differs in the 12th decimal
        (3, "0.000000000001", "0.000000000000"),  # differs in the 12th decimal
    ]
    table(mysql_db, "d12_old", "id INT PRIMARY KEY, x DECIMAL(30,12)", [(str(i), o) for i, o, _ in data])
    table(postgres_db, "d12_new", "id INT PRIMARY KEY, x NUMERIC(30,12)", [(str(i), n) for i, _, n in data])
    summary, found = diff(
        tmp_path, mysql_db, postgres_db, reader, entity_mapping("d12", "id", "      x: {}\n"), "d12"
    )
    got = {(r["id"], r["kind"], r["column"], Decimal(r["old"]), Decimal(r["new"])) for r in found}
    assert got == {
        (2, "value", "x", Decimal("1.123456789012"), Decimal("1.123456789013")),
        (3, "value", "x", Decimal("0.000000000001"), Decimal(0)),
    }
    assert (summary.matched, summary.value_mismatch_rows) == (1, 2)


# --- naive local DATETIME vs TIMESTAMPTZ, across a DST change ----------------------------------


def test_naive_new_york_datetime_vs_timestamptz(tmp_path, mysql_db, postgres_db, reader):
    # Old: naive New York wall-clock times (mapping: old side timezone America/New_York);
    # new: instants. 2024-11-03 01:30 happens twice in New York; the rule is the earlier
    # instant (EDT, 05:30 UTC).
    data = [  # id, old (New York), new (UTC)                          expected
        (1, "2024-01-15 08:00:00", "2024-01-15 13:00:00+00"),  # equal (EST, -5)
        (2, "2024-07-01 12:00:00.123456", "2024-07-01 16:00:00.123456+00"),  # equal (EDT, -4)
        (3, "2024-11-03 01:30:00", "2024-11-03 05:30:00+00"),  # equal (ambiguous: earlier)
        (4, "2024-11-03 01:30:00", "2024-11-03 06:30:00+00"),  # differs (the later one)
        (5, "2024-07-01 12:00:00", "2024-07-01 17:00:00+00"),  # differs (one hour off)
        (6, "2024-11-03 00:59:59", "2024-11-03 04:59:59+00"),  # equal (EDT)
        (7, "2024-11-03 02:00:00", "2024-11-03 07:00:00+00"),  # equal (EST again)
        (8, None, None),  # equal
    ]
    table(mysql_db, "ts_old", "id INT PRIMARY KEY, at DATETIME(6)", [(str(i), lit(o)) for i, o, _ in data])
    table(postgres_db, "ts_new", "id INT PRIMARY KEY, at TIMESTAMPTZ", [(str(i), lit(n)) for i, _, n in data])
    mapping = entity_mapping("ts", "id", "      at: {}\n", old_extra=", timezone: America/New_York")
    summary, found = diff(tmp_path, mysql_db, postgres_db, reader, mapping, "ts", min_segments=2)
    assert {(r["id"], r["kind"], r["column"]) for r in found} == {(4, "value", "at"), (5, "value", "at")}
    by_id = {r["id"]: (r["old"], r["new"]) for r in found}
    assert by_id[4][0].startswith("2024-11-03 05:30:00") and by_id[4][0].endswith("+00:00")
    assert by_id[4][1].startswith("2024-11-03 06:30:00")
    assert by_id[5][0].startswith("2024-07-01 16:00:00")
    assert by_id[5][1].startswith("2024-07-01 17:00:00")
    assert (summary.compared, summary.matched, summary.value_mismatch_rows) == (8, 6, 2)


# --- MySQL zero dates ---------------------------------------------------------------------------


def test_zero_dates_equal_null_and_differ_from_real_dates(tmp_path, mysql_db, postgres_db, reader):
    data = [  # id, old at (DATETIME), old d (DATE), new at (TIMESTAMPTZ), new d    expected
        (1, "0000-00-00 00:00:00", "0000-00-00", None, None),  # equal
        (2, "0000-00-00 00:00:00", "0000-00-00", "2024-01-01 00:00:00+00", "2024-01-01"),  # both differ
        (3, "2024-05-06 07:08:09", "2024-05-06", "2024-05-06 07:08:09+00", "2024-05-06"),  # equal
        (4, None, None, None, None),  # equal
        (5, "2024-00-15 00:00:00", "2024-00-15", None, None),  # equal (zero month)
        (6, "2024-05-06 07:08:09", "2024-05-06", None, None),  # both differ
    ]
    table(
        mysql_db,
        "zd_old",
        "id INT PRIMARY KEY, at DATETIME, d DATE",
        [(str(i), lit(a), lit(d)) for i, a, d, _, _ in data],
        "SET SESSION sql_mode = ''",
    )
    table(
        postgres_db,
        "zd_new",
        "id INT PRIMARY KEY, at TIMESTAMPTZ, d DATE",
        [(str(i), lit(a), lit(d)) for i, _, _, a, d in data],
    )
    summary, found = diff(
        tmp_path,
        mysql_db,
        postgres_db,
        reader,
        entity_mapping("zd", "id", "      at: {}\n      d: {}\n"),
        "zd",
        min_segments=2,
    )
    assert {(r["id"], r["kind"], r["column"]) for r in found} == {
        (2, "value", "at"),
        (2, "value", "d"),
        (6, "value", "at"),
        (6, "value", "d"),
    }
    by_cell = {(r["id"], r["column"]): (r["old"], r["new"]) for r in found}
    assert by_cell[(2, "at")][0] is None
    assert by_cell[(2, "at")][1].startswith("2024-01-01 00:00:00")
    assert by_cell[(2, "d")] == (None, "2024-01-01")
    assert by_cell[(6, "at")][0].startswith("2024-05-06 07:08:09")
    assert by_cell[(6, "at")][1] is None
    assert by_cell[(6, "d")] == ("2024-05-06", None)
    assert (summary.compared, summary.matched, summary.value_mismatch_rows) == (6, 4, 2)
    assert summary.by_column == {"at": 2, "d": 2}


# --- NULL vs empty string -----------------------------------------------------------------------


def test_null_and_empty_string_differ(tmp_path, mysql_db, postgres_db, reader):
    data = [  # id, old, new       expected
        (1, None, ""),  # differs
        (2, "", None),  # differs
        (3, None, None),  # equal
        (4, "", ""),  # equal
        (5, "x", "x"),  # equal
        (6, " ", ""),  # differs (no trim asked)
    ]
    table(mysql_db, "ne_old", "id INT PRIMARY KEY, s VARCHAR(10)", [(str(i), lit(o)) for i, o, _ in data])
    table(postgres_db, "ne_new", "id INT PRIMARY KEY, s TEXT", [(str(i), lit(n)) for i, _, n in data])
    summary, found = diff(
        tmp_path,
        mysql_db,
        postgres_db,
        reader,
        entity_mapping("ne", "id", "      s: {}\n"),
        "ne",
        min_segments=2,
    )
    assert cells(found, "id") == {
        (1, "value", "s", None, ""),
        (2, "value", "s", "", None),
        (6, "value", "s", " ", ""),
    }
    assert (summary.compared, summary.matched, summary.value_mismatch_rows) == (6, 3, 3)


# --- Unicode normalization ----------------------------------------------------------------------


def test_nfc_vs_nfd_differs_unless_normalized(tmp_path, mysql_db, postgres_db, reader):
    # `raw` compares the bytes; `nfc` compares after NFC on both sides.
    nfd_cafe, nfd_ang = "cafe\u0301", "A\u030angstro\u0308m"
    data = [  # id, old (NFC), new              raw       nfc
        (1, "café", nfd_cafe),  # differs   equal
        (2, "Ångström", nfd_ang),  # differs   equal
        (3, "café", "café"),  # equal     equal
        (4, "café", "cafe"),  # differs   differs
    ]
    table(mysql_db, "nf_old", "id INT PRIMARY KEY, name VARCHAR(40)", [(str(i), lit(o)) for i, o, _ in data])
    table(postgres_db, "nf_new", "id INT PRIMARY KEY, name TEXT", [(str(i), lit(n)) for i, _, n in data])
    columns = "      raw: {old: name, new: name}\n      nfc: {old: name, new: name, normalize: [nfc]}\n"
    summary, found = diff(
        tmp_path, mysql_db, postgres_db, reader, entity_mapping("nf", "id", columns), "nf", min_segments=2
    )
    assert cells(found, "id") == {
        (1, "value", "raw", "café", nfd_cafe),
        (2, "value", "raw", "Ångström", nfd_ang),
        (4, "value", "raw", "café", "cafe"),
        (4, "value", "nfc", "café", "cafe"),
    }
    assert summary.by_column == {"raw": 3, "nfc": 1}
    assert (summary.matched, summary.value_mismatch_rows) == (1, 3)


# --- BIGINT UNSIGNED beyond 2**63 ---------------------------------------------------------------


def test_bigint_unsigned_beyond_int64_as_key_and_value(tmp_path, mysql_db, postgres_db, reader):
    # old BIGINT UNSIGNED, new NUMERIC(20,0), both as key and as value.
    top = 2**64 - 1  # 18446744073709551615
    old = [
        (1, top),  # equal
        (2**63 - 1, 2**63),  # equal
        (2**63, 2**63 + 1),  # v differs (new is one less)
        (top - 1, 1),  # missing_in_new (new has top-2 instead)
        (top, top),
    ]  # v differs (new is top-1)
    new = [(1, top), (2**63 - 1, 2**63), (2**63, 2**63), (top - 2, 1), (top, top - 1)]
    table(
        mysql_db,
        "ub_old",
        "id BIGINT UNSIGNED PRIMARY KEY, v BIGINT UNSIGNED",
        [(str(k), str(v)) for k, v in old],
    )
    table(
        postgres_db,
        "ub_new",
        "id NUMERIC(20,0) PRIMARY KEY, v NUMERIC(20,0)",
        [(str(k), str(v)) for k, v in new],
    )
    summary, found = diff(
        tmp_path, mysql_db, postgres_db, reader, entity_mapping("ub", "id", "      v: {}\n"), "ub"
    )
    got = {
        (
            int(r["id"]),
            r["kind"],
            r["column"],
            r["old"] and int(Decimal(r["old"])),
            r["new"] and int(Decimal(r["new"])),
        )
        for r in found
    }
    assert got == {
        (2**63, "value", "v", 2**63 + 1, 2**63),
        (top, "value", "v", top, top - 1),
        (top - 1, "missing_in_new", None, None, None),
        (top - 2, "extra_in_new", None, None, None),
    }
    assert (summary.rows_old, summary.rows_new) == (5, 5)
    assert (summary.matched, summary.missing_in_new, summary.extra_in_new) == (2, 1, 1)
    assert summary.value_mismatch_rows == 2


# --- duplicate keys -----------------------------------------------------------------------------


def test_duplicate_keys_on_either_side(tmp_path, mysql_db, postgres_db, reader):
    # Neither table has a primary key.
    #   id  old v      new v        expected
    #   1   10, 11     10           duplicate_key old=2 new=1 (its values are not compared)
    #   2   20         21           value differs
    #   3   30         30, 30, 31   duplicate_key old=1 new=3
    #   4   40         40           equal
    #   5   50, 50     -            duplicate_key old=2 new=0
    #   6   -          60, 60       duplicate_key old=0 new=2
    #   7   70         -            missing_in_new
    #   8   80         80           equal
    old = [(1, 10), (1, 11), (2, 20), (3, 30), (4, 40), (5, 50), (5, 50), (7, 70), (8, 80)]
    new = [(1, 10), (2, 21), (3, 30), (3, 30), (3, 31), (4, 40), (6, 60), (6, 60), (8, 80)]
    table(mysql_db, "dk_old", "id INT NOT NULL, v INT", [(str(k), str(v)) for k, v in old])
    table(postgres_db, "dk_new", "id INT NOT NULL, v INT", [(str(k), str(v)) for k, v in new])
    summary, found = diff(
        tmp_path,
        mysql_db,
        postgres_db,
        reader,
        entity_mapping("dk", "id", "      v: {}\n"),
        "dk",
        min_segments=2,
    )
    assert cells(found, "id") == {
        (1, "duplicate_key", None, "2", "1"),
        (3, "duplicate_key", None, "1", "3"),
        (5, "duplicate_key", None, "2", "0"),
        (6, "duplicate_key", None, "0", "2"),
        (2, "value", "v", "20", "21"),
        (7, "missing_in_new", None, None, None),
    }
    assert len(found) == 6  # each duplicated key reported exactly once
    assert (summary.rows_old, summary.rows_new) == (9, 9)
    assert summary.duplicate_keys == 4
    assert summary.value_mismatch_rows == 1  # only id 2: duplicates are not value diffs
    assert summary.by_column == {"v": 1}
    assert (summary.missing_in_new, summary.extra_in_new) == (1, 0)
    assert summary.matched == 2  # ids 4 and 8


def test_a_link_table_whose_columns_are_all_keys(tmp_path, mysql_db, postgres_db, reader):
    # A many-to-many table: the key is every column, so there is no value to compare and a row
    # is either on both sides or missing or extra. (Every segment of such an entity once failed.)
    #   (1, 1) (1, 2) (3, 1) both; (2, 1) old only; (2, 2) new only
    old = [(1, 1), (1, 2), (2, 1), (3, 1)]
    new = [(1, 1), (1, 2), (2, 2), (3, 1)]
    for db, name, rows in ((mysql_db, "lk_old", old), (postgres_db, "lk_new", new)):
        table(
            db,
            name,
            "ad INT NOT NULL, label INT NOT NULL, PRIMARY KEY (ad, label)",
            [map(str, r) for r in rows],
        )
    mapping = (
        "version: 1\nentities:\n  lk:\n"
        "    old: {table: lk_old}\n    new: {table: lk_new}\n    key: [ad, label]\n"
    )
    summary, found = diff(tmp_path, mysql_db, postgres_db, reader, mapping, "lk", min_segments=2)
    assert {(r["ad"], r["label"], r["kind"]) for r in found} == {
        (2, 1, "missing_in_new"),
        (2, 2, "extra_in_new"),
    }
    assert (summary.compared, summary.matched, summary.by_column) == (5, 3, {})
    path = tmp_path / "mapping.yaml"
    checked, rows = run_once(
        tmp_path / "checksum", path, (mysql_db.url, postgres_db.url), "lk", reader, SMALL, 1, "checksum"
    )
    assert checked.to_dict() | {"segments": 0, "rows_read": 0} == summary.to_dict() | {
        "segments": 0,
        "rows_read": 0,
    }
    assert Counter(map(_hashable, rows)) == Counter(map(_hashable, found))


# --- verify check -------------------------------------------------------------------------------


def test_check_names_a_missing_column_and_lists_the_columns_there(tmp_path, mysql_db, postgres_db):
    table(mysql_db, "ck_old", "id INT PRIMARY KEY, budget_micros BIGINT, name VARCHAR(9)", [])
    table(postgres_db, "ck_new", "id INT PRIMARY KEY, budget NUMERIC(18,6), name TEXT", [])
    mapping = tmp_path / "check.yaml"
    mapping.write_text(
        entity_mapping("ck", "id", "      budget: {old: budgett, new: budget}\n      name: {}\n")
    )
    with pytest.raises(MappingError) as info:
        check_mapping(str(mapping), mysql_db.url, postgres_db.url)
    err = info.value
    assert len(err.problems) == 1
    line, text = err.problems[0]
    assert line == 8  # the `budget:` line
    assert "'budgett'" in text and "old side" in text
    assert "columns there: id, budget_micros, name" in text
    assert f"{mapping}:8:" in str(err)
