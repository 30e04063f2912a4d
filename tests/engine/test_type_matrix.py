"""The type matrix: every MariaDB -> PostgreSQL type pair verify compares, on the real servers.

Each pair is a table on each side holding NULLs, extremes and values written differently but
equal (ids below 100), and planted values that differ (ids from 100). It is diffed with the three
readers (`auto`: ADBC for PostgreSQL; ConnectorX; SQLAlchemy) and both algorithms: every planted
difference must be found, and nothing else. A second entity over the equal rows alone must, with
checksums, read no row at all where the pair renders in SQL (the renderings of both dialects are
then proven identical on these values), and read every row where it does not.

The README's type matrix is rendered from PAIRS (`test_the_readme_lists_every_pair`);
`VERIFY_UPDATE_README=1` rewrites it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from readme import sync_section

from verify.engine.check import check_mapping
from verify.engine.run import DiffOptions, run_diff

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]

START, END = "<!-- type-matrix:start -->", "<!-- type-matrix:end -->"


@dataclass(frozen=True)
class Pair:
    """One type pair: the column type on each side and rows (old SQL, new SQL); `differ` rows
    are the planted differences."""

    name: str
    old: str
    new: str
    canonical: str  # the canonical type verify gives the pair
    how: str  # how it is compared, in words (the README's last column)
    same: tuple[tuple[str, str], ...]
    differ: tuple[tuple[str, str], ...]
    checksum: bool  # both dialects render it in SQL: checksums read no row where all is equal
    declared: str | None = None  # the mapping's `type:`, where the pair does not meet by itself
    setup: tuple[str, ...] = field(default=(), compare=False)  # PostgreSQL statements first


NULLS = (("NULL", "NULL"),)
PAIRS = (
    Pair(
        "int",
        "INT",
        "integer",
        "int",
        "as integers",
        (*NULLS, ("-2147483648", "-2147483648"), ("2147483647", "2147483647"), ("0", "0")),
        (("5", "6"), ("NULL", "0"), ("0", "NULL")),
        True,
    ),
    Pair(
        "tinyint",
        "TINYINT",
        "smallint",
        "int",
        "as integers",
        (*NULLS, ("-128", "-128"), ("127", "127")),
        (("-128", "128"),),
        True,
    ),
    Pair(
        "int_unsigned",
        "INT UNSIGNED",
        "bigint",
        "int",
        "as integers (an unsigned 32-bit value fits)",
        (*NULLS, ("4294967295", "4294967295"), ("0", "0")),
        (("4294967295", "-1"),),
        True,
    ),
    Pair(
        "mediumint_unsigned",
        "MEDIUMINT UNSIGNED",
        "integer",
        "int",
        "as integers",
        (*NULLS, ("16777215", "16777215")),
        (("16777215", "16777214"),),
        True,
    ),
    Pair(
        "bigint_unsigned",
        "BIGINT UNSIGNED",
        "numeric(20,0)",
        "decimal(38,0)",
        "as decimals (2^64 - 1 fits no signed 64-bit integer)",
        (*NULLS, ("18446744073709551615", "18446744073709551615"), ("0", "0")),
        (("18446744073709551615", "18446744073709551614"),),
        True,
    ),
    Pair(
        "bigint_unsigned_signed",
        "BIGINT UNSIGNED",
        "bigint",
        "decimal(38,0)",
        "as decimals",
        (*NULLS, ("9223372036854775807", "9223372036854775807")),
        (("9223372036854775808", "-9223372036854775808"),),
        True,
    ),
    Pair(
        "tinyint1_boolean",
        "TINYINT(1)",
        "boolean",
        "int",
        "by integer value (true is 1): a 2 that became true is a difference",
        (*NULLS, ("0", "false"), ("1", "true")),
        (("2", "true"), ("-1", "true"), ("0", "true")),
        True,
    ),
    Pair(
        "bit1_boolean",
        "BIT(1)",
        "boolean",
        "int",
        "by integer value",
        (*NULLS, ("b'0'", "false"), ("b'1'", "true")),
        (("b'1'", "false"),),
        True,
    ),
    Pair(
        "bit8",
        "BIT(8)",
        "bit(8)",
        "uint",
        "as unsigned integers",
        (*NULLS, ("b'10101010'", "B'10101010'"), ("b'0'", "B'00000000'"), ("b'11111111'", "B'11111111'")),
        (("b'1'", "B'00000010'"),),
        True,
    ),
    Pair(
        "bit_varbit",
        "BIT(12)",
        "bit varying(12)",
        "uint",
        "as unsigned integers",
        (*NULLS, ("b'101'", "B'101'"), ("b'100000000000'", "B'100000000000'")),
        (("b'101'", "B'1010'"),),
        True,
    ),
    Pair(
        "year",
        "YEAR",
        "smallint",
        "int",
        "as integers (the zero year is 0)",
        (*NULLS, ("1901", "1901"), ("2155", "2155"), ("0", "0")),
        (("2024", "2025"),),
        True,
    ),
    Pair(
        "decimal_wide",
        "DECIMAL(38,10)",
        "numeric(38,10)",
        "decimal(38,10)",
        "as decimals, every digit",
        (
            *NULLS,
            ("9999999999999999999999999999.9999999999", "9999999999999999999999999999.9999999999"),
            ("-0.0000000001", "-0.0000000001"),
            ("0", "0"),
        ),
        (("1.0000000001", "1.0000000002"),),
        True,
    ),
    Pair(
        "decimal_money",
        "DECIMAL(12,2)",
        "numeric(12,2)",
        "decimal(38,2)",
        "as decimals",
        (*NULLS, ("9999999999.99", "9999999999.99"), ("0.10", "0.1")),
        (("0.01", "0.02"),),
        True,
    ),
    Pair(
        "decimal_scales",
        "DECIMAL(10,2)",
        "numeric(12,4)",
        "decimal(38,4)",
        "as decimals at the larger scale",
        (*NULLS, ("1.50", "1.5000")),
        (("1.50", "1.5001"),),
        True,
    ),
    Pair(
        "float_real",
        "FLOAT",
        "real",
        "float(24)",
        "as single-precision floats",
        (*NULLS, ("1.1", "1.1"), ("3.4e38", "3.4e38"), ("-0", "0")),
        (("1.1", "1.2"),),
        False,
    ),
    Pair(
        "float_double",
        "FLOAT",
        "double precision",
        "float(24)",
        "at the old side's single precision: a double that rounds to the same float is equal",
        (*NULLS, ("1.1", "1.1"), ("16777217", "16777216")),
        (("1.1", "1.1000001"),),
        False,
    ),
    Pair(
        "double",
        "DOUBLE",
        "double precision",
        "float",
        "as doubles, exactly",
        (*NULLS, ("1.7976931348623157e308", "1.7976931348623157e308"), ("5e-324", "5e-324"), ("0.1", "0.1")),
        (("0.1", "0.10000000000000002"),),
        False,
    ),
    Pair(
        "char",
        "CHAR(5)",
        "character(5)",
        "string",
        "byte for byte, without CHAR padding",
        (*NULLS, ("'ab'", "'ab'"), ("''", "''"), ("'abcde'", "'abcde'"), ("' a'", "' a'")),
        (("'ab'", "'ac'"), ("'a'", "' a'")),
        True,
    ),
    Pair(
        "varchar_text",
        "VARCHAR(40)",
        "text",
        "string",
        "byte for byte",
        (*NULLS, ("'Søren 東京 🎉'", "'Søren 東京 🎉'"), ("''", "''"), ("'a|b-'", "'a|b-'")),
        (("'a '", "'a'"), ("'A'", "'a'"), ("''", "NULL"), ("'-'", "NULL")),
        True,
    ),
    Pair(
        "enum",
        "ENUM('DRAFT','READY','DONE')",
        "state",
        "string",
        "by label",
        (*NULLS, ("'DRAFT'", "'DRAFT'"), ("'DONE'", "'DONE'")),
        (("'READY'", "'DONE'"),),
        True,
        setup=("DROP TYPE IF EXISTS state CASCADE", "CREATE TYPE state AS ENUM ('DRAFT', 'READY', 'DONE')"),
    ),
    Pair(
        "enum_text",
        "ENUM('a','b')",
        "text",
        "string",
        "by label",
        (*NULLS, ("'a'", "'a'")),
        (("'a'", "'b'"), ("'b'", "'B'")),
        True,
    ),
    Pair(
        "set_array",
        "SET('mobile','desktop','tablet')",
        "text[]",
        "set",
        "as sets: members in any order (an array holding one twice differs: no SET can)",
        (*NULLS, ("'mobile,tablet'", "'{tablet,mobile}'"), ("''", "'{}'"), ("'desktop'", "'{desktop}'")),
        (("'mobile'", "'{mobile,desktop}'"), ("''", "NULL"), ("'mobile,tablet'", "'{tablet,mobile,tablet}'")),
        False,
    ),
    Pair(
        "set_enum_array",
        "SET('a','b','c')",
        "flag[]",
        "set",
        "as sets",
        (*NULLS, ("'a,c'", "'{c,a}'")),
        (("'a,b'", "'{a,c}'"),),
        False,
        setup=("DROP TYPE IF EXISTS flag CASCADE", "CREATE TYPE flag AS ENUM ('a', 'b', 'c')"),
    ),
    Pair(
        "json_jsonb",
        "JSON",
        "jsonb",
        "json",
        "as JSON values: key order, blanks and number spelling aside",
        (
            *NULLS,
            ('\'{"b": 1, "a": [1.0, 2]}\'', '\'{"a": [1, 2], "b": 1}\''),
            ("'1e2'", "'100'"),
            ("'\"x\"'", "'\"x\"'"),
            ("'[]'", "'[]'"),
            ("'null'", "'null'"),
        ),
        (("'{\"a\": 1}'", "'{\"a\": 2}'"), ("'null'", "NULL"), ("'[1, 2]'", "'[2, 1]'"), ("'\"1\"'", "'1'")),
        False,
    ),
    Pair(
        "json_json",
        "JSON",
        "json",
        "json",
        "as JSON values",
        (
            *NULLS,
            ('\'{"a": 1,  "b" :"é"}\'', '\'{"b": "é", "a": 1}\''),
        ),
        (("'{\"a\": true}'", "'{\"a\": 1}'"),),
        False,
    ),
    Pair(
        "blob",
        "BLOB",
        "bytea",
        "binary",
        "as bytes (shown in hex)",
        (*NULLS, ("x'00ff10'", "'\\x00ff10'"), ("x''", "'\\x'"), ("x'7c2d'", "'\\x7c2d'")),
        (("x'00'", "'\\x0000'"), ("x''", "NULL")),
        True,
    ),
    Pair(
        "binary_n",
        "BINARY(4)",
        "bytea",
        "binary",
        "as bytes, BINARY(n)'s zero padding included",
        (*NULLS, ("x'41'", "'\\x41000000'")),
        (("x'41'", "'\\x41'"),),
        True,
    ),
    Pair(
        "varbinary",
        "VARBINARY(8)",
        "bytea",
        "binary",
        "as bytes",
        (*NULLS, ("x'0102'", "'\\x0102'")),
        (("x'0102'", "'\\x0201'"),),
        True,
    ),
    Pair(
        "char36_uuid",
        "CHAR(36)",
        "uuid",
        "uuid",
        "as UUIDs (case aside)",
        (*NULLS, ("'123E4567-E89B-12D3-A456-426614174000'", "'123e4567-e89b-12d3-a456-426614174000'")),
        (("'123e4567-e89b-12d3-a456-426614174000'", "'123e4567-e89b-12d3-a456-426614174001'"),),
        True,
    ),
    Pair(
        "binary16_uuid",
        "BINARY(16)",
        "uuid",
        "uuid",
        "as UUIDs (16 bytes against the text form)",
        (*NULLS, ("UNHEX('123e4567e89b12d3a456426614174000')", "'123e4567-e89b-12d3-a456-426614174000'")),
        (("UNHEX('123e4567e89b12d3a456426614174000')", "'00000000-0000-0000-0000-000000000000'"),),
        True,
    ),
    Pair(
        "uuid",
        "UUID",
        "uuid",
        "uuid",
        "as UUIDs",
        (*NULLS, ("'123e4567-e89b-12d3-a456-426614174000'", "'123e4567-e89b-12d3-a456-426614174000'")),
        (("'123e4567-e89b-12d3-a456-426614174000'", "'223e4567-e89b-12d3-a456-426614174000'"),),
        True,
    ),
    Pair(
        "time",
        "TIME(6)",
        "time(6)",
        "time",
        "as lengths of time, to the microsecond",
        (*NULLS, ("'23:59:59.999999'", "'23:59:59.999999'"), ("'00:00:00'", "'00:00:00'")),
        (("'12:00:00'", "'12:00:00.000001'"),),
        True,
    ),
    Pair(
        "time_interval",
        "TIME",
        "interval",
        "time",
        "as lengths of time (TIME runs to ±838 hours)",
        (*NULLS, ("'-838:59:59'", "'-838:59:59'"), ("'100:00:00'", "'4 days 04:00:00'")),
        (("'01:00:00'", "'-01:00:00'"),),
        True,
    ),
    Pair(
        "date",
        "DATE",
        "date",
        "date",
        "as dates (a zero date is NULL)",
        (
            *NULLS,
            ("'1000-01-01'", "'1000-01-01'"),
            ("'9999-12-31'", "'9999-12-31'"),
            ("'0000-00-00'", "NULL"),
        ),
        (("'2024-02-29'", "'2024-03-01'"),),
        True,
    ),
    Pair(
        "datetime",
        "DATETIME(6)",
        "timestamp(6)",
        "timestamp(6)",
        "as instants in UTC (naive times in the mapping's zone, here UTC)",
        (
            *NULLS,
            ("'2024-01-01 00:00:00.123456'", "'2024-01-01 00:00:00.123456'"),
            ("'9999-12-31 23:59:59'", "'9999-12-31 23:59:59'"),
        ),
        (("'2024-01-01 00:00:00'", "'2024-01-01 00:00:00.000001'"),),
        True,
    ),
    Pair(
        "datetime_timestamptz",
        "DATETIME",
        "timestamptz",
        "timestamp(6)",
        "as instants in UTC",
        (*NULLS, ("'2024-07-01 12:00:00'", "'2024-07-01 14:00:00+02'")),
        (("'2024-07-01 12:00:00'", "'2024-07-01 12:00:00+02'"),),
        True,
    ),
    Pair(
        "timestamp_timestamptz",
        "TIMESTAMP NULL",
        "timestamptz",
        "timestamp(6)",
        "as instants (MySQL's TIMESTAMP is one; read in a UTC session)",
        (*NULLS, ("'2038-01-19 03:14:07'", "'2038-01-19 03:14:07+00'")),
        (("'2024-01-01 00:00:00'", "'2024-01-01 00:00:01+00'"),),
        True,
    ),
    Pair(
        "point",
        "POINT",
        "point",
        "geometry",
        "as canonical WKT (coordinates as exact doubles)",
        (
            *NULLS,
            ("POINT(1.5, -2)", "'(1.5,-2)'"),
            ("POINT(0.1, 1e-7)", "'(0.1,1e-07)'"),
            ("POINT(-0.30000000000000004, 1e300)", "'(-0.30000000000000004,1e300)'"),
        ),
        (("POINT(1.5, -2)", "'(-2,1.5)'"), ("POINT(0.1, 2)", "'(0.10000000000000002,2)'")),
        False,
    ),
    Pair(
        "geometry_postgis",
        "GEOMETRY",
        "geometry",
        "geometry",
        "as canonical WKT, from WKB on both sides",
        (
            *NULLS,
            ("ST_GeomFromText('LINESTRING(0 0,1.5 2)')", "ST_GeomFromText('LINESTRING(0 0, 1.5 2)')"),
            (
                "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))')",
                "ST_GeomFromText('POLYGON((0 0,1 0,1 1,0 0))')",
            ),
            ("ST_GeomFromText('MULTIPOINT(1 2,3 4)')", "ST_GeomFromText('MULTIPOINT((1 2),(3 4))')"),
            (
                "ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1))')",
                "ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1))')",
            ),
        ),
        (
            ("ST_GeomFromText('POINT(1 2)')", "ST_GeomFromText('POINT(1 2.000001)')"),
            ("ST_GeomFromText('LINESTRING(0 0,1 1)')", "ST_GeomFromText('LINESTRING(1 1,0 0)')"),
        ),
        False,
    ),
)
CHECKSUM_FREE = {p.name for p in PAIRS if not p.checksum}


def _sql_rows(pair: Pair, side: int) -> list[str]:
    rows = [*pair.same, *pair.differ]
    ids = [*range(1, len(pair.same) + 1), *range(100, 100 + len(pair.differ))]
    return [f"({i}, {row[side]})" for i, row in zip(ids, rows, strict=True)]


@pytest.fixture(scope="module")
def stores(mysql_db, postgres_db) -> tuple[Any, Any]:
    try:
        postgres_db.execute("CREATE EXTENSION IF NOT EXISTS postgis")
    except Exception as exc:  # noqa: BLE001 - a skip: under CI=true, conftest fails the session for it
        pytest.skip(f"PostGIS is not installed ({exc}); apt-get install postgresql-15-postgis-3")
    mysql, pg = [], []
    for p in PAIRS:
        mysql += [
            f"DROP TABLE IF EXISTS t_{p.name}",
            f"CREATE TABLE t_{p.name} (id INT PRIMARY KEY, v {p.old})",
        ]
        mysql.append(f"INSERT INTO t_{p.name} VALUES " + ", ".join(_sql_rows(p, 0)))
        pg += [
            *p.setup,
            f"DROP TABLE IF EXISTS t_{p.name}",
            f"CREATE TABLE t_{p.name} (id INT PRIMARY KEY, v {p.new})",
        ]
        pg.append(f"INSERT INTO t_{p.name} VALUES " + ", ".join(_sql_rows(p, 1)))
    # Zero dates and the like, as legacy stores hold them; TIMESTAMP literals read as UTC.
    mysql_db.execute("SET SESSION sql_mode = ''", "SET SESSION time_zone = '+00:00'", *mysql)
    postgres_db.execute(*pg)
    return mysql_db, postgres_db


def _mapping(tmp_path: Path) -> Path:
    lines = ["version: 1", "entities:"]
    for p in PAIRS:
        column = f"{{type: '{p.declared}'}}" if p.declared else "{}"
        for entity, where in ((p.name, ""), (f"{p.name}__equal", ", where: 'id < 100'")):
            lines += [
                f"  {entity}:",
                f"    old: {{table: t_{p.name}{where}}}",
                f"    new: {{table: t_{p.name}{where}}}",
                "    key: [id]",
                f"    columns: {{v: {column}}}",
            ]
    path = tmp_path / "types.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_every_pair_meets_at_its_canonical_type_and_renders_where_expected(tmp_path, stores):
    mysql_db, postgres_db = stores
    result = check_mapping(str(_mapping(tmp_path)), mysql_db.url, postgres_db.url)
    plans = {p.name: p for p in result.entities}
    assert {name: plans[name].types["v"] for name in (p.name for p in PAIRS)} == {
        p.name: p.canonical for p in PAIRS
    }
    renders = {p.name for p in PAIRS if plans[p.name].checksum is not None}
    assert renders == {p.name for p in PAIRS if p.checksum}, "checksum renderings changed"
    assert "CHAR padding" in " ".join(plans["char"].type_notes)


@pytest.mark.parametrize("reader", ["auto", "connectorx", "sqlalchemy"])
@pytest.mark.parametrize("algorithm", ["rows", "checksum"])
def test_every_planted_difference_is_found_and_nothing_else(tmp_path, stores, reader, algorithm):
    mysql_db, postgres_db = stores
    out = tmp_path / "run"
    result = run_diff(
        DiffOptions(
            mapping_path=str(_mapping(tmp_path)),
            old_url=mysql_db.url,
            new_url=postgres_db.url,
            out_dir=str(out),
            reader=reader,
            algorithm=algorithm,
            workers=2,
        )
    )
    assert result.status == "complete", result.failures
    parts = sorted((out / "mismatches").glob("*/*.parquet"))
    found = pl.concat(
        [pl.read_parquet(p).with_columns(pl.lit(p.parent.name).alias("entity")) for p in parts],
        how="diagonal_relaxed",
    )
    assert set(found.get_column("kind")) == {"value"}, "a row went missing or appeared"
    got = {(e, i) for e, i in found.select("entity", "id").iter_rows()}
    want = {(p.name, 100 + i) for p in PAIRS for i in range(len(p.differ))}
    assert got == want
    for p in PAIRS:
        summary = result.entities[p.name]
        assert (summary.compared, summary.value_mismatch_rows) == (len(p.same) + len(p.differ), len(p.differ))
        equal = result.entities[f"{p.name}__equal"]
        assert (equal.compared, equal.matched) == (len(p.same), len(p.same)), p.name
        if algorithm == "checksum":  # equal summaries: no row of the equal entity is read
            assert equal.rows_read == (0 if p.checksum else 2 * len(p.same)), p.name
    shown = {(e, i): (o, n) for e, i, o, n in found.select("entity", "id", "old", "new").iter_rows()}
    assert shown[("tinyint1_boolean", 100)] == ("2", "1")
    assert shown[("blob", 100)] == ("0x00", "0x0000")
    assert shown[("set_array", 100)] == ('["mobile"]', '["desktop","mobile"]')
    assert shown[("time_interval", 100)] == ("1:00:00", "-1:00:00")
    assert shown[("point", 100)] == ("POINT(1.5 -2)", "POINT(-2 1.5)")
    assert shown[("json_jsonb", 100)] == ('{"a": 1}', '{"a": 2}')  # as the stores hold it


def test_the_readme_lists_every_pair():
    rows = [
        "| old (MariaDB/MySQL) | new (PostgreSQL) | canonical | compared | checksums |",
        "|---|---|---|---|---|",
        *(
            f"| `{p.old}` | `{p.new}` | `{p.declared or p.canonical}`{' (declared)' if p.declared else ''} "
            f"| {p.how} | {'yes' if p.checksum else 'rows'} |"
            for p in PAIRS
        ),
    ]
    sync_section(START, END, "\n".join(rows))
