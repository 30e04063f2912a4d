"""End to end on a real migration: pgloader moves a MariaDB schema to PostgreSQL, verify checks it.

The old store is the DFP scenario's legacy schema (JSON settings, SET flags, a POINT, BIT flags,
BLOBs, ENUMs, TINYINT(1), DATETIMEs with zero dates, BIGINT UNSIGNED keys) and a table of the
other types a real schema carries. pgloader migrates it with its default casts; the mapping is
`columns: "*"` on every table, with no query and no declared type. verify must pass `check` on
every table and, with rows and with checksums, with both readers, report exactly what pgloader
really changed. By pgloader's documented default casts that is one thing: TINYINT(1) becomes
boolean (`tinyint-to-boolean`: every non-zero value is true), so each value other than 0 and 1
no longer reads back. Everything else it moves exactly: zero dates become NULL, as verify reads
them, SET becomes an array of an enum, POINT a point, LINESTRING a path, BIT(8) bit(8).

Run it alone with: .venv/bin/pytest tests/engine/test_pgloader.py
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import polars as pl
import pytest

from verify.engine.check import check_mapping
from verify.engine.run import DiffOptions, run_diff
from verify.scenario import build

pytestmark = [pytest.mark.mysql, pytest.mark.postgres, pytest.mark.pgloader, pytest.mark.slow]

TABLES = ("advertisers", "orders", "line_items", "creatives", "zoo")
# (id, TINYINT(1) value): pgloader writes each as a boolean, so only 0, 1 and NULL survive.
TINYINT1 = {1: 2, 2: None, 3: 1, 4: 0, 5: -1, 6: 127}
ZOO = """
CREATE TABLE zoo (
  id INT PRIMARY KEY, ti1 TINYINT(1), yr YEAR, tm TIME(3), b1 BIT(1), b8 BIT(8), u64 BIGINT UNSIGNED,
  ui INT UNSIGNED, c5 CHAR(5), fl FLOAT, dbl DOUBLE, dec2 DECIMAL(12,2), bin16 BINARY(16),
  vb VARBINARY(10), lt LONGTEXT, js JSON, st SET('a','b','c'), en ENUM('x','y'), dt DATETIME(6),
  ts TIMESTAMP NULL, d DATE, g GEOMETRY, ln LINESTRING
)"""
ZOO_ROW = (
    "2024, '12:30:00.125', b'1', b'10100101', 18446744073709551615, 4294967295, 'ab', 1.1, 0.1, "
    "12.34, UNHEX('00112233445566778899aabbccddeeff'), x'00', 'Søren 東京', "
    '\'{"b": [1.0, 2], "a": null}\', '
    "'a,c', 'y', '2024-01-01 10:00:00.5', '2024-01-01 10:00:00', '2024-02-29', "
    "ST_GeomFromText('POINT(1.5 -2)'), ST_GeomFromText('LINESTRING(0 0,1.5 2,3 3)')"
)


def _pgloader_url(url: str) -> str:
    """pgloader's spelling of a SQLAlchemy URL: no driver suffix."""
    scheme, rest = url.split("://", 1)
    return scheme.split("+", 1)[0] + "://" + rest


@pytest.fixture(scope="module")
def migrated(mysql_db, postgres_db, tmp_path_factory) -> tuple[Path, str, str]:
    if shutil.which("pgloader") is None:  # a skip: under CI=true, conftest fails the session for it
        pytest.skip("pgloader is not installed (apt-get install pgloader; .ci/run installs it)")
    tmp = tmp_path_factory.mktemp("pgloader")
    build("dfp_to_f1", old_url=mysql_db.url, new_url=f"sqlite:///{tmp / 'unused.db'}", rows=3000, seed=7)
    rows = [f"({i}, {'NULL' if v is None else v}, {ZOO_ROW})" for i, v in TINYINT1.items()]
    mysql_db.execute(ZOO, "INSERT INTO zoo VALUES " + ", ".join(rows), "INSERT INTO zoo (id) VALUES (7)")
    proc = subprocess.run(
        ["pgloader", "--quiet", _pgloader_url(mysql_db.url), _pgloader_url(postgres_db.url)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0 and " ERROR " not in proc.stdout + proc.stderr, proc.stdout + proc.stderr
    mapping = tmp / "pgloader.yaml"
    schema = mysql_db.name  # pgloader keeps the source database's name as the schema
    mapping.write_text(
        "version: 1\nentities:\n"
        + "".join(
            f"  {t}:\n    old: {{table: {t}}}\n    new: {{table: {schema}.{t}}}\n    key: [id]\n"
            '    columns: "*"\n'
            for t in TABLES
        )
    )
    return mapping, mysql_db.url, postgres_db.url


def test_pgloader_changed_the_types_this_test_is_about(migrated, postgres_db):
    _, _, _ = migrated
    from sqlalchemy import text

    engine = postgres_db.engine()
    with engine.connect() as conn:
        types = dict(
            conn.execute(
                text(
                    "SELECT table_name || '.' || column_name, data_type FROM information_schema.columns "
                    "WHERE table_name IN ('zoo', 'line_items')"
                )
            ).all()
        )
    engine.dispose()
    assert types["zoo.ti1"] == "boolean" and types["zoo.st"] == "ARRAY" and types["zoo.ln"] == "path"
    assert types["line_items.targeting"] == "ARRAY" and types["line_items.geo"] == "point"
    assert types["line_items.id"] == "numeric" and types["line_items.settings"] == "text"


def test_check_passes_for_every_table(migrated):
    mapping, old, new = migrated
    result = check_mapping(str(mapping), old, new)
    plans = {p.name: p for p in result.entities}
    assert set(plans) == set(TABLES)
    assert plans["zoo"].types["ti1"] == "int" and plans["zoo"].types["st"] == "set"
    assert plans["line_items"].types["geo"] == "geometry" and plans["zoo"].types["ln"] == "geometry"
    assert len(plans["zoo"].checks) == 22  # every column pgloader carried over is compared


@pytest.mark.parametrize("reader", ["auto", "sqlalchemy"])
@pytest.mark.parametrize("algorithm", ["rows", "checksum"])
def test_only_what_pgloader_changed_is_reported(migrated, tmp_path, reader, algorithm):
    mapping, old, new = migrated
    out = tmp_path / "run"
    result = run_diff(
        DiffOptions(
            mapping_path=str(mapping),
            old_url=old,
            new_url=new,
            out_dir=str(out),
            reader=reader,
            algorithm=algorithm,
            segment_rows=1000,
            workers=2,
        )
    )
    assert result.status == "complete", result.failures
    changed = {i for i, v in TINYINT1.items() if v not in (None, 0, 1)}
    for name, summary in result.entities.items():
        assert summary.rows_old == summary.rows_new == summary.compared > 0, name
        assert (summary.missing_in_new, summary.extra_in_new, summary.duplicate_keys) == (0, 0, 0), name
        if name != "zoo":
            assert summary.value_mismatch_rows == 0, (name, summary.by_column)
    zoo = result.entities["zoo"]
    assert (zoo.value_mismatch_rows, zoo.by_column) == (len(changed), {"ti1": len(changed)})
    records = pl.read_parquet(out / "mismatches" / "zoo" / "*.parquet")
    assert {(r["id"], r["old"], r["new"]) for r in records.iter_rows(named=True)} == {
        (i, str(TINYINT1[i]), "1") for i in changed
    }
    if algorithm == "checksum":  # the entities that render in SQL were summarized, not read
        assert result.entities["orders"].rows_read == 0
