"""The key-hashed sample: the same keys in SQL (MariaDB, PostgreSQL, SQLite) and in Polars, the
same keys every run, pushed into the sources where the key is an integer, and honest: on the
DFP -> F1 scenario the upper confidence bound of a 10% sample's rate covers the full run's rate.
"""

from __future__ import annotations

import sqlite3
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from verify.engine.run import DiffOptions, run_diff
from verify.engine.subset import M, Subset, make_subset, restrict, sample_sql
from verify.errors import UsageError
from verify.gate.stats import clopper_pearson_upper
from verify.scenario import build
from verify.sources.dialects import Dialect, MySQL, Postgres, SQLite

SIGNED = [0, 1, -1, 2, 7, M - 1, M, M + 1, -M, 2**31, -(2**31), 2**62, 2**63 - 1, -(2**63), *range(100, 3100)]
UNSIGNED = [k for k in SIGNED if k >= 0] + [2**63, 2**63 + 1, 2**64 - 1]
SUBSET = Subset(fraction=0.2, seed=5)


def kept_by_polars(keys: list[int], dtype: pl.DataType, subset: Subset = SUBSET) -> set[int]:
    values = [Decimal(k) for k in keys] if isinstance(dtype, pl.Decimal) else keys
    frame = pl.DataFrame({"k": pl.Series(values, dtype=dtype)})
    return {int(k) for k in restrict(frame, subset, ("k",)).get_column("k").to_list()}


def where(dialect: Dialect, subset: Subset = SUBSET) -> str:
    sql = sample_sql(subset, [dialect.quote("k")], dialect)
    assert sql is not None
    return sql


def test_the_sample_is_about_the_fraction_and_depends_on_the_seed():
    kept = kept_by_polars(SIGNED, pl.Int64)
    assert abs(len(kept) / len(SIGNED) - 0.2) < 0.02
    other = kept_by_polars(SIGNED, pl.Int64, Subset(fraction=0.2, seed=6))
    assert kept != other and abs(len(other) / len(SIGNED) - 0.2) < 0.02
    assert kept_by_polars(SIGNED, pl.Int64) == kept  # the same keys every time
    # a larger fraction keeps a superset: growing a sample never drops keys
    assert kept <= kept_by_polars(SIGNED, pl.Int64, Subset(fraction=0.5, seed=5))


def test_sqlite_keeps_the_keys_polars_keeps(tmp_path):
    db = tmp_path / "k.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE t (k INTEGER)")
        c.executemany("INSERT INTO t VALUES (?)", [(k,) for k in SIGNED])
        got = {k for (k,) in c.execute(f"SELECT k FROM t WHERE {where(SQLite())}")}
    assert got == kept_by_polars(SIGNED, pl.Int64)


@pytest.mark.mysql
def test_mariadb_keeps_the_keys_polars_keeps_bigint_unsigned_too(mysql_db):
    from sqlalchemy import text

    mysql_db.execute(
        "DROP TABLE IF EXISTS s_signed",
        "DROP TABLE IF EXISTS s_unsigned",
        "CREATE TABLE s_signed (k BIGINT)",
        "CREATE TABLE s_unsigned (k BIGINT UNSIGNED)",
        "INSERT INTO s_signed VALUES " + ", ".join(f"({k})" for k in SIGNED),
        "INSERT INTO s_unsigned VALUES " + ", ".join(f"({k})" for k in UNSIGNED),
    )
    d = MySQL(mariadb=True)
    engine = mysql_db.engine()
    with engine.connect() as conn:
        for table, keys, dtype in (("s_signed", SIGNED, pl.Int64), ("s_unsigned", UNSIGNED, pl.UInt64)):
            sql = f"SELECT CAST(k AS CHAR) FROM {table} WHERE {where(d)}"
            got = {int(k) for (k,) in conn.execute(text(sql))}
            assert got == kept_by_polars(keys, dtype), table
            # a key that is BIGINT UNSIGNED on one side and signed on the other is decimal(38,0)
            assert got == kept_by_polars(keys, pl.Decimal(38, 0)), table
            assert any(k >= 2**63 for k in got) or table == "s_signed"
    engine.dispose()


@pytest.mark.postgres
def test_postgres_keeps_the_keys_polars_keeps_int4_too(postgres_db):
    from sqlalchemy import text

    small = [k for k in SIGNED if -(2**31) <= k < 2**31]
    postgres_db.execute(
        "DROP TABLE IF EXISTS s8",
        "DROP TABLE IF EXISTS s4",
        "CREATE TABLE s8 (k BIGINT)",
        "CREATE TABLE s4 (k INTEGER)",
        "INSERT INTO s8 VALUES " + ", ".join(f"({k})" for k in SIGNED),
        "INSERT INTO s4 VALUES " + ", ".join(f"({k})" for k in small),
    )
    d = Postgres()
    engine = postgres_db.engine()
    with engine.connect() as conn:
        for table, keys in (("s8", SIGNED), ("s4", small)):
            got = {k for (k,) in conn.execute(text(f"SELECT k FROM {table} WHERE {where(d)}"))}
            assert got == kept_by_polars(keys, pl.Int64), table
    engine.dispose()


def test_composite_keys_hash_every_column(tmp_path):
    pairs = [(a, b) for a in range(40) for b in range(-20, 20)]
    db = tmp_path / "k.db"
    d = SQLite()
    sql = sample_sql(SUBSET, [d.quote("a"), d.quote("b")], d)
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE t (a INTEGER, b INTEGER)")
        c.executemany("INSERT INTO t VALUES (?, ?)", pairs)
        got = set(c.execute(f"SELECT a, b FROM t WHERE {sql}"))
    frame = pl.DataFrame(pairs, schema={"a": pl.Int64, "b": pl.Int64}, orient="row")
    assert got == set(restrict(frame, SUBSET, ("a", "b")).iter_rows())
    assert len({a for a, _ in got}) == 40  # rows are sampled, not whole groups of the first column


# --- verify diff --sample ----------------------------------------------------------------------

ROWS = 20_000


def stores(folder: Path, key_type: str) -> tuple[str, str, str]:
    """Old and new stores of ROWS rows; every 50th row differs in new (a true rate of 2%)."""
    folder.mkdir(parents=True, exist_ok=True)
    key = (lambda i: f"k{i:06d}") if key_type == "TEXT" else (lambda i: i)
    for name, changed in (("old", False), ("new", True)):
        with sqlite3.connect(folder / f"{name}.db") as c:
            c.execute(f"CREATE TABLE t (id {key_type} PRIMARY KEY, v INTEGER)")
            rows = [(key(i), i + (1 if changed and i % 50 == 0 else 0)) for i in range(ROWS)]
            c.executemany("INSERT INTO t VALUES (?, ?)", rows)
    mapping = folder / "m.yaml"
    mapping.write_text(
        "version: 1\nentities:\n  t:\n    old: t\n    new: t\n    key: [id]\n    columns: {v: {}}\n"
    )
    return str(mapping), f"sqlite:///{folder / 'old.db'}", f"sqlite:///{folder / 'new.db'}"


def sampled_run(tmp_path: Path, name: str, urls: tuple[str, str, str], subset: Subset, **kw):
    mapping, old, new = urls
    out = tmp_path / name
    result = run_diff(DiffOptions(mapping, old, new, out_dir=str(out), subset=subset, **kw))
    keys = pl.concat([pl.read_parquet(p) for p in sorted((out / "mismatches" / "t").glob("*.parquet"))])
    return result, set(keys.get_column("id").to_list())


@pytest.mark.parametrize("key_type", ["INTEGER", "TEXT"])
def test_diff_sample_is_deterministic_and_compares_exactly_the_sampled_keys(tmp_path, key_type):
    urls = stores(tmp_path / "stores", key_type)
    subset = Subset(fraction=0.1, seed=3)
    one, keys_one = sampled_run(tmp_path, "one", urls, subset, segment_rows=1000, workers=2)
    two, keys_two = sampled_run(tmp_path, "two", urls, subset, segment_rows=1000, workers=1)
    t1, t2 = one.entities["t"], two.entities["t"]
    assert (t1.compared, t1.blocking_rows, keys_one) == (t2.compared, t2.blocking_rows, keys_two)
    # exactly the keys the hash keeps are compared, on both sides
    all_keys = pl.DataFrame({"id": [f"k{i:06d}" if key_type == "TEXT" else i for i in range(ROWS)]})
    kept = restrict(all_keys, subset, ("id",)).get_column("id").to_list()
    assert t1.rows_old == t1.rows_new == t1.compared == len(kept)
    planted = {k for i, k in enumerate(all_keys.get_column("id").to_list()) if i % 50 == 0}
    assert keys_one == planted & set(kept)
    assert abs(t1.compared / ROWS - 0.1) < 0.01
    where = "in the sources' SQL" if key_type == "INTEGER" else "after reading every row"
    assert any(where in n for n in one.notes), one.notes
    other, keys_other = sampled_run(tmp_path, "other", urls, Subset(fraction=0.1, seed=4))
    assert keys_other != keys_one


def test_a_sample_in_sql_sizes_segments_by_the_rows_it_reads(tmp_path):
    import json

    urls = stores(tmp_path / "stores", "INTEGER")
    result, _ = sampled_run(tmp_path, "s", urls, Subset(fraction=0.1, seed=1), segment_rows=1000, workers=1)
    run = json.loads((tmp_path / "s" / "run.json").read_text())
    assert run["segments"]["total"] == 2  # 20,000 rows / 1,000 would be 20; 2,000 sampled rows make 2
    assert (run["options"]["sample"], run["options"]["seed"]) == (0.1, 1)
    summary = json.loads((tmp_path / "s" / "summary.json").read_text())
    assert summary["sample"] == {"fraction": 0.1, "seed": 1}
    assert result.entities["t"].compared == summary["entities"]["t"]["compared"]


def test_diff_sample_on_the_command_line(tmp_path):
    import json

    from click.testing import CliRunner

    from verify.cli import main

    mapping, old, new = stores(tmp_path / "stores", "INTEGER")
    argv = ["diff", "--mapping", mapping, "--old", old, "--new", new, "--out", str(tmp_path / "r")]
    result = CliRunner().invoke(main, [*argv, "--sample", "0.1", "--seed", "3", "--format", "json"])
    assert result.exit_code == 1, result.output
    out = json.loads(result.output)
    assert out["sample"] == {"fraction": 0.1, "seed": 3} and out["cohort"] is None
    kept = restrict(pl.DataFrame({"id": range(ROWS)}), Subset(0.1, 3), ("id",)).height
    assert out["entities"]["t"]["compared"] == kept
    bad = CliRunner().invoke(main, [*argv, "--sample", "0"])
    assert bad.exit_code == 2 and "0<x<=1" in bad.output


def test_subset_options():
    assert make_subset(None, 0, None, None) is None
    assert make_subset(1.0, 0, None, None) is None  # all of it is no sample
    assert make_subset(0.5, 2, None, None) == Subset(0.5, 2)
    with pytest.raises(UsageError, match="--stage and --policy go together"):
        make_subset(None, 0, 25, None)


# --- honest statistics on the scenario ----------------------------------------------------------


def coverage(old_url: str, new_url: str, tmp: Path, seeds: range) -> None:
    mapping = str(Path(__file__).resolve().parents[2] / "mappings" / "dfp_to_f1.yaml")
    full = run_diff(DiffOptions(mapping, old_url, new_url, out_dir=str(tmp / "full"), workers=2))
    assert full.status == "complete"
    for seed in seeds:
        sub = Subset(fraction=0.1, seed=seed)
        part = run_diff(
            DiffOptions(mapping, old_url, new_url, out_dir=str(tmp / f"s{seed}"), workers=2, subset=sub)
        )
        for name, e in full.entities.items():
            s = part.entities[name]
            true_rate = e.blocking_rows / e.compared
            if e.compared >= 1000:
                assert 0.08 < s.compared / e.compared < 0.12, (name, seed, s.compared)
            upper = clopper_pearson_upper(s.blocking_rows, s.compared, 0.95)
            assert upper >= true_rate, (name, seed, s.blocking_rows, s.compared, true_rate)
            # ... and the sample sees the differences too: the true rate is not below the
            # interval's lower end either (the upper bound of the rate of clean rows).
            lower = 1 - clopper_pearson_upper(s.compared - s.blocking_rows, s.compared, 0.95)
            assert lower <= true_rate, (name, seed, s.blocking_rows, s.compared, true_rate)


@pytest.mark.slow
def test_a_ten_percent_sample_covers_the_true_rate_sqlite(tmp_path):
    old, new = f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}"
    build("dfp_to_f1", old_url=old, new_url=new, rows=20_000, seed=1, truth_path=str(tmp_path / "t.parquet"))
    coverage(old, new, tmp_path, range(10))


@pytest.mark.slow
@pytest.mark.mysql
@pytest.mark.postgres
def test_a_ten_percent_sample_covers_the_true_rate_mariadb_to_postgres(mysql_db, postgres_db, tmp_path):
    build(
        "dfp_to_f1",
        old_url=mysql_db.url,
        new_url=postgres_db.url,
        rows=20_000,
        seed=1,
        truth_path=str(tmp_path / "t.parquet"),
    )
    coverage(mysql_db.url, postgres_db.url, tmp_path, range(2))
