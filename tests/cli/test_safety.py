"""Safety of the sources: verify reads as a user that may only SELECT, and never shows a password.

Each server gets a throwaway user whose password is recognizable (and has characters that
URLs must encode). The user may SELECT from three tables and do nothing else; the tests prove
that premise, diff as that user with the exact result, and then run check and diff every way
they can end (differences, a wrong database, a failed segment, --debug), with the URLs on the
command line and in VERIFY_OLD_URL / VERIFY_NEW_URL, and search every stream and every file
for the password.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import polars as pl
import pytest

from verify.sources.dialects import dialect_for
from verify.sources.urls import SourceURL

PASSWORD = "Sekr3t-p4ss/XYZZY@!"
# The password as given, as URLs encode it, and its most telling piece (a partial leak counts).
NEEDLES = (PASSWORD, quote(PASSWORD, safe=""), quote(PASSWORD, safe=" +"), "XYZZY")

# old_orders: ids 1..20. new_orders: 4 dropped, 9's amount and 13's name changed, 21 invented.
OLD_ROWS = [(i, f"n{i}", f"{i * 1.5:.2f}") for i in range(1, 21)]
NEW_ROWS = [
    (i, "changed" if i == 13 else name, "13.51" if i == 9 else amount)
    for i, name, amount in OLD_ROWS
    if i != 4
] + [(21, "n21", "31.50")]
EXPECTED = {
    "rows_old": 20,
    "rows_new": 20,
    "compared": 21,
    "matched": 17,
    "missing_in_new": 1,
    "extra_in_new": 1,
    "duplicate_keys": 0,
    "value_mismatch_rows": 2,
    "blocking_rows": 4,
    "by_column": {"amount": 1, "name": 1},
}
EXPECTED_MISMATCHES = {
    (4, "missing_in_new", None),
    (9, "value", "amount"),
    (13, "value", "name"),
    (21, "extra_in_new", None),
}

ORDERS = """\
version: 1
entities:
  orders:
    old: {table: old_orders}
    new: {table: new_orders}
    key: [id]
    columns: {name: {}, amount: {}}
"""
# counts: id 35 holds 'twelve', so the last of four segments fails (in the database itself on
# PostgreSQL, where the old side casts in its query; in the conversion to int on MariaDB).
COUNTS = {
    "mysql": "old: {table: counts}",
    "postgres": "old: {query: 'SELECT id, CAST(qty AS INTEGER) AS qty FROM counts'}",
}


@dataclass(frozen=True)
class Store:
    family: str
    url: str  # as the SELECT-only user, password in it
    root_url: str
    database: str
    user: str


def _tables(family: str) -> list[str]:
    text = "VARCHAR(20)"
    stmts = [
        f"CREATE TABLE old_orders (id INT PRIMARY KEY, name {text}, amount DECIMAL(10,2))",
        f"CREATE TABLE new_orders (id INT PRIMARY KEY, name {text}, amount DECIMAL(10,2))",
        f"CREATE TABLE counts (id INT PRIMARY KEY, qty {text})",
    ]
    for table, rows in (("old_orders", OLD_ROWS), ("new_orders", NEW_ROWS)):
        values = ", ".join(f"({i}, '{n}', {a})" for i, n, a in rows)
        stmts.append(f"INSERT INTO {table} VALUES {values}")
    counts = ", ".join(f"({i}, '{'twelve' if i == 35 else i}')" for i in range(1, 41))
    stmts.append(f"INSERT INTO counts VALUES {counts}")
    return stmts


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("mysql", marks=pytest.mark.mysql),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ],
)
def store(request: pytest.FixtureRequest) -> Iterator[Store]:
    """Three tables, and a user with SELECT on them and nothing else."""
    family = request.param
    db = request.getfixturevalue(f"{family}_db")
    user = f"vt_ro_{uuid.uuid4().hex[:8]}"
    if family == "mysql":
        grants = [
            f"CREATE USER '{user}'@'%' IDENTIFIED BY '{PASSWORD}'",
            *(
                f"GRANT SELECT ON `{db.name}`.`{t}` TO '{user}'@'%'"
                for t in ("old_orders", "new_orders", "counts")
            ),
        ]
        drop = f"DROP USER IF EXISTS '{user}'@'%'"
    else:
        grants = [
            f"CREATE ROLE {user} LOGIN PASSWORD '{PASSWORD}'",
            f"GRANT SELECT ON old_orders, new_orders, counts TO {user}",
        ]
        drop = f"DROP OWNED BY {user}; DROP ROLE IF EXISTS {user}"
    db.execute(*_tables(family), *grants)
    root = SourceURL.parse(db.url)
    url = f"{root.drivername}://{user}:{quote(PASSWORD, safe='')}@{root.host}:{root.port}/{db.name}"
    try:
        yield Store(family, url, db.url, db.name, user)
    finally:
        db.execute(*drop.split("; "))


def verify(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("verify")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "verify.cli"]
    clean = {k: v for k, v in os.environ.items() if k not in ("VERIFY_OLD_URL", "VERIFY_NEW_URL")}
    return subprocess.run(
        [*command, *argv], cwd=cwd, env={**clean, **(env or {})}, capture_output=True, text=True, timeout=120
    )


def test_the_user_may_only_select(store: Store) -> None:
    """The premise of the tests below: writing or creating anything as that user is refused."""
    u = SourceURL.parse(store.url)
    if store.family == "mysql":
        import pymysql

        conn = pymysql.connect(**dialect_for(u).connect_args(u), autocommit=True)
        errors: tuple[type[Exception], ...] = (pymysql.err.OperationalError, pymysql.err.ProgrammingError)
    else:
        import psycopg

        conn = psycopg.connect(**dialect_for(u).connect_args(u), autocommit=True)
        errors = (psycopg.errors.InsufficientPrivilege,)
    try:
        cur = conn.cursor()
        cur.execute("SELECT COUNT(*) FROM old_orders")
        assert cur.fetchone()[0] == 20
        for statement in (
            "INSERT INTO old_orders VALUES (99, 'x', 1)",
            "UPDATE new_orders SET name = 'x' WHERE id = 1",
            "DELETE FROM counts",
            "CREATE TABLE planted (id INT)",
        ):
            with pytest.raises(errors):
                cur.execute(statement)
    finally:
        conn.close()


@pytest.mark.parametrize("reader", ["auto", "sqlalchemy"])
def test_a_select_only_user_runs_the_whole_diff(store: Store, reader: str, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(ORDERS)
    argv = ["diff", "--mapping", "m.yaml", "--old", store.url, "--new", store.url, "--out", "run"]
    proc = verify([*argv, "--reader", reader, "--segment-rows", "8", "--workers", "2"], tmp_path)
    assert proc.returncode == 1, proc.stderr
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert run["status"] == "complete"
    assert run["segments"]["done"] == run["segments"]["total"] > 1
    orders = json.loads((tmp_path / "run" / "summary.json").read_text())["entities"]["orders"]
    assert {k: orders[k] for k in EXPECTED} == EXPECTED
    found = pl.read_parquet(tmp_path / "run" / "mismatches" / "orders" / "*.parquet")
    assert set(found.select("id", "kind", "column").iter_rows()) == EXPECTED_MISMATCHES
    assert set(found.get_column("severity")) == {"block"}


def test_the_password_is_never_shown_or_stored(store: Store, tmp_path: Path) -> None:
    bad_db = store.url.rsplit("/", 1)[0] + "/no_such_database"
    (tmp_path / "orders.yaml").write_text(ORDERS)
    (tmp_path / "counts.yaml").write_text(
        "version: 1\nentities:\n  counts:\n    " + COUNTS[store.family] + "\n    new: {table: counts}\n"
        "    key: [id]\n    columns: {qty: {type: int}}\n"
    )
    # (what, argv without URLs, old, new, expected exit code)
    runs = [
        ("check", ["check", "--mapping", "orders.yaml"], store.url, store.url, 0),
        ("differences", ["diff", "--mapping", "orders.yaml"], store.url, store.url, 1),
        ("json", ["diff", "--mapping", "orders.yaml", "--format", "json"], store.url, store.url, 1),
        (
            "sqlalchemy",
            ["diff", "--mapping", "orders.yaml", "--reader", "sqlalchemy"],
            store.url,
            store.url,
            1,
        ),
        ("wrong database", ["diff", "--mapping", "orders.yaml"], store.url, bad_db, 2),
        ("check, wrong database", ["check", "--mapping", "orders.yaml"], bad_db, store.url, 2),
        ("--debug, wrong database", ["--debug", "diff", "--mapping", "orders.yaml"], bad_db, store.url, 1),
        (
            "failed segment",
            ["diff", "--mapping", "counts.yaml", "--segment-rows", "10"],
            store.url,
            store.url,
            3,
        ),
        (
            "failed segment, sqlalchemy",
            ["diff", "--mapping", "counts.yaml", "--segment-rows", "10", "--reader", "sqlalchemy"],
            store.url,
            store.url,
            3,
        ),
    ]
    streams: list[str] = []
    for n, (what, argv, old, new, code) in enumerate(runs):
        for how in ("command line", "environment"):
            args = list(argv)
            if "diff" in argv and (what, how) != ("differences", "environment"):
                args += ["--out", f"runs/{n}-{how[0]}"]  # that one writes under .verify/runs/
            if how == "command line":
                proc = verify([*args, "--old", old, "--new", new], tmp_path)
            else:
                proc = verify(args, tmp_path, {"VERIFY_OLD_URL": old, "VERIFY_NEW_URL": new})
            assert proc.returncode == code, f"{what} ({how}): {proc.stdout}{proc.stderr}"
            streams += [proc.stdout, proc.stderr]
            if code == 2:
                assert "no_such_database" in proc.stderr and ":***@" in proc.stderr

    files = [Path(d, f) for d, _, names in os.walk(tmp_path) for f in names]
    assert len([p for p in files if p.suffix == ".parquet"]) >= 6  # 3 runs with differences x 2 ways
    assert len([p for p in files if p.name == "run.json"]) == 10  # 5 diff runs that started x 2 ways
    assert (tmp_path / ".verify" / "runs" / "latest" / "run.json").is_file()
    for p in files:
        data = p.read_bytes()
        for needle in NEEDLES:
            assert needle.encode() not in data, f"{needle!r} in {p}"
    for text in streams:
        for needle in NEEDLES:
            assert needle not in text, f"{needle!r} in output:\n{text}"
    # The URLs were recorded, masked: the runs above really used them.
    masked = SourceURL.parse(store.url).masked
    for p in files:
        if p.name == "run.json":
            run = json.loads(p.read_text())
            assert run["old_url"] == run["new_url"] == masked
