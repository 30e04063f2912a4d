"""Types from the catalog on the real servers: what a side holds decides how it is read.

Only the columns a mapping needs are read; an ignored column of any type never blocks an
entity, and one that cannot be read is named with its type and the way out. A `query:` side has
no catalog: its types come from the driver's description of the query. `check` plans every
entity and reports every problem at once.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from verify.engine.check import check_mapping
from verify.engine.run import DiffOptions, run_diff
from verify.errors import MappingError

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]


@pytest.fixture(scope="module")
def stores(mysql_db, postgres_db):
    mysql_db.execute(
        "DROP TABLE IF EXISTS odd",
        "CREATE TABLE odd (id INT PRIMARY KEY, v INT, g GEOMETRYCOLLECTION, s SET('a','b'), j JSON, "
        "p POINT, flag TINYINT(1))",
        "INSERT INTO odd VALUES (1, 10, ST_GeomFromText('GEOMETRYCOLLECTION(POINT(1 1))'), 'a,b', "
        "'{\"k\": 1}', POINT(1, 2), 1), (2, 20, NULL, '', '[]', POINT(1, 2.0005), 2)",
    )
    postgres_db.execute(
        "DROP TABLE IF EXISTS odd",
        "DROP TYPE IF EXISTS ab CASCADE",
        "CREATE TYPE ab AS ENUM ('a', 'b')",
        "CREATE TABLE odd (id INT PRIMARY KEY, v INT, g box, s ab[], j jsonb, p point, flag boolean)",
        "INSERT INTO odd VALUES (1, 10, '((0,0),(1,1))', '{b,a}', '{\"k\": 1}', '(1,2)', true), "
        "(2, 20, NULL, '{}', '[]', '(1,2)', true)",
    )
    return mysql_db.url, postgres_db.url


def mapping(tmp_path: Path, body: str) -> str:
    path = tmp_path / "m.yaml"
    path.write_text("version: 1\nentities:\n" + body)
    return str(path)


ODD = "  odd:\n    old: {table: odd}\n    new: {table: odd}\n    key: [id]\n"


def diff(tmp_path: Path, stores: tuple[str, str], path: str, reader: str = "auto"):
    """A diff into a new run directory under tmp_path/reader/."""
    runs = tmp_path / reader
    runs.mkdir(exist_ok=True)
    out = runs / str(len(list(runs.iterdir())))
    return run_diff(
        DiffOptions(mapping_path=path, old_url=stores[0], new_url=stores[1], out_dir=str(out), reader=reader)
    )


def test_a_column_of_a_type_verify_cannot_read_is_named_with_the_way_out(tmp_path, stores):
    with pytest.raises(MappingError) as caught:
        check_mapping(mapping(tmp_path, ODD + '    columns: "*"\n'), *stores)
    text = str(caught.value)
    assert "column 'g' has type box, which verify cannot read" in text
    assert "add it to 'ignore:', or read that side with a 'query:' that casts it" in text
    assert len(caught.value.problems) == 1  # the GEOMETRYCOLLECTION side reads fine


def test_an_ignored_column_of_any_type_never_blocks_the_entity(tmp_path, stores):
    path = mapping(tmp_path, ODD + '    columns: "*"\n    ignore: [g]\n')
    plan = check_mapping(path, *stores).entities[0]
    assert plan.types == {"id": "int", "v": "int", "s": "set", "j": "json", "p": "geometry", "flag": "int"}
    assert all("`g`" not in s and '"g"' not in s for q in plan.queries.values() for s in q.select)
    result = diff(tmp_path, stores, path)
    odd = result.entities["odd"]
    # row 2: a point 0.0005 off, and a TINYINT(1) of 2 against true
    assert (odd.compared, odd.value_mismatch_rows, odd.by_column) == (2, 1, {"flag": 1, "p": 1})


def test_a_geometry_tolerance_is_per_coordinate(tmp_path, stores):
    body = ODD + "    columns:\n      p: {tolerance: 0.001}\n      flag: {}\n"
    result = diff(tmp_path, stores, mapping(tmp_path, body))
    assert result.entities["odd"].by_column == {"flag": 1}


def test_a_tolerance_on_a_column_that_is_no_number_is_refused(tmp_path, stores):
    with pytest.raises(MappingError, match="a tolerance applies to numbers and geometry, not to json"):
        check_mapping(mapping(tmp_path, ODD + "    columns:\n      j: {tolerance: 1}\n"), *stores)


def test_a_declared_bool_never_turns_a_2_into_true(tmp_path, stores):
    body = ODD + "    columns:\n      flag: {type: bool}\n"
    result = diff(tmp_path, stores, mapping(tmp_path, body))
    assert result.status == "partial"
    assert "column 'flag' has value 2 that is not a valid bool" in result.failures[0]


def test_query_sides_are_typed_from_the_drivers_description(tmp_path, stores):
    body = (
        "  q:\n"
        "    old: {query: 'SELECT id, s AS members, j AS doc, p AS at, g FROM odd'}\n"
        "    new: {query: 'SELECT id, s AS members, j AS doc, p AS at FROM odd'}\n"
        "    key: [id]\n"
        "    columns: {members: {}, doc: {type: json}, at: {}}\n"
    )
    path = mapping(tmp_path, body)
    plan = check_mapping(path, *stores).entities[0]
    assert plan.types == {"id": "int", "members": "set", "doc": "json", "at": "geometry"}
    for reader in ("auto", "sqlalchemy"):
        result = diff(tmp_path, stores, path, reader)
        assert result.entities["q"].by_column == {"at": 1}, reader
        shown = (
            pl.read_parquet(tmp_path / reader / "0" / "mismatches" / "q" / "*.parquet")
            .select("old", "new")
            .row(0)
        )
        assert shown == ("POINT(1 2.0005)", "POINT(1 2)")


def test_check_reports_every_broken_entity_at_once(tmp_path, stores):
    body = (
        ODD.replace("  odd:", "  typo:") + "    columns: {vv: {}}\n"
        "  ghost:\n    old: {table: no_such_table}\n    new: {table: odd}\n    key: [id]\n"
        + ODD.replace("  odd:", "  unreadable:")
        + '    columns: "*"\n'
        + ODD.replace("  odd:", "  fine:")
        + "    columns: {v: {}}\n"
    )
    with pytest.raises(MappingError) as caught:
        check_mapping(mapping(tmp_path, body), *stores)
    text = str(caught.value)
    assert text.startswith("4 problems in ")
    assert "unknown column 'vv' in entity 'typo' (old side" in text
    assert "unknown column 'vv' in entity 'typo' (new side" in text
    assert "entity 'ghost' (old side): cannot read table no_such_table" in text
    assert "entity 'unreadable' (new side): column 'g' has type box" in text
    assert "'fine'" not in text


def test_a_declared_type_that_rounds_a_column_is_refused_unless_it_says_round(
    tmp_path, mysql_db, postgres_db
):
    # Three one-cent differences that decimal(12,0) would round away, and microseconds that
    # timestamp(0) would cut off.
    for db in (mysql_db, postgres_db):
        db.execute(
            "DROP TABLE IF EXISTS cents",
            "CREATE TABLE cents (id INT PRIMARY KEY, amount DECIMAL(12,2), at TIMESTAMP(6) NULL)",
        )
    mysql_db.execute(
        "INSERT INTO cents VALUES (1, 1.00, NULL), (2, 2.01, NULL), (3, 3.02, NULL), (4, 4.03, NULL)"
    )
    postgres_db.execute(
        "INSERT INTO cents VALUES (1, 1.00, NULL), (2, 2.00, NULL), (3, 3.00, NULL), (4, 4.00, NULL)"
    )
    stores = (mysql_db.url, postgres_db.url)
    head = "  cents:\n    old: {table: cents}\n    new: {table: cents}\n    key: [id]\n    columns:\n"
    with pytest.raises(MappingError) as caught:
        check_mapping(
            mapping(
                tmp_path, head + "      amount: {type: 'decimal(12,0)'}\n      at: {type: 'timestamp(0)'}\n"
            ),
            *stores,
        )
    text = str(caught.value)
    assert (
        "column 'amount' (old side): type decimal(12,0) loses what decimal(12,2) holds (2 decimal places"
        in text
    )
    assert "column 'amount' (new side): type decimal(12,0) loses what numeric(12,2) holds" in text, text
    assert (
        "column 'at' (new side): type timestamp(0) loses what timestamp(6) without time zone holds (6 digits"
        in text
    )
    assert "add 'round: true' to compare at decimal(12,0) on purpose" in text
    found = diff(tmp_path, stores, mapping(tmp_path, head + "      amount: {}\n"))
    assert found.entities["cents"].by_column == {"amount": 3}
    rounded = diff(
        tmp_path, stores, mapping(tmp_path, head + "      amount: {type: 'decimal(12,0)', round: true}\n")
    )
    assert rounded.entities["cents"].value_mismatch_rows == 0  # rounded away, as the mapping says
