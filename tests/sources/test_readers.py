"""The readers on the real servers: every session read-only and in UTC, rows as Polars frames,
PostgreSQL sessions pooled for a run (the first one opened by the probe) and replaced when the
server drops them."""

from __future__ import annotations

import datetime as dt

import pytest

from verify.errors import SourceError
from verify.sources.dialects import STATEMENT_TIMEOUT
from verify.sources.open import open_reader
from verify.sources.urls import SourceURL

READERS = ["connectorx", "sqlalchemy"]


@pytest.mark.mysql
@pytest.mark.parametrize("kind", READERS)
def test_mysql_sessions_are_read_only_and_utc(mysql_db, kind):
    # The table is written in a +05:00 session: 10:00 there is 05:00 UTC.
    mysql_db.execute(
        "DROP TABLE IF EXISTS ts",
        "CREATE TABLE ts (id INT PRIMARY KEY, at TIMESTAMP NULL)",
        "SET time_zone = '+05:00'",
        "INSERT INTO ts VALUES (1, '2024-01-01 10:00:00')",
    )
    reader = open_reader(SourceURL.parse(mysql_db.url), kind)
    settings = "SELECT @@session.time_zone, @@session.tx_read_only, @@session.max_statement_time AS t"
    assert reader.row(settings) == ("+00:00", 1, STATEMENT_TIMEOUT)
    (at,) = reader.row("SELECT at FROM ts")
    assert at.replace(tzinfo=None) == dt.datetime(2024, 1, 1, 5, 0)
    with pytest.raises(SourceError, match="READ ONLY"):
        reader.read("SELECT id FROM ts FOR UPDATE")


@pytest.mark.postgres
@pytest.mark.parametrize("kind", ["adbc", *READERS])
def test_postgres_sessions_are_read_only_and_utc(postgres_db, kind):
    postgres_db.execute("DROP TABLE IF EXISTS ts", "CREATE TABLE ts (id INT PRIMARY KEY)")
    reader = open_reader(SourceURL.parse(postgres_db.url), kind)
    settings = (
        "SELECT current_setting('TimeZone') AS tz, current_setting('transaction_read_only') AS ro, "
        "current_setting('statement_timeout') AS t"
    )
    assert reader.row(settings) == ("UTC", "on", f"{STATEMENT_TIMEOUT // 60}min")
    with pytest.raises(SourceError, match="read-only"):
        reader.read("SELECT id FROM ts FOR UPDATE")
    # A pooled session is set up once, and stays so after a failed read replaced it.
    assert reader.row(settings) == ("UTC", "on", f"{STATEMENT_TIMEOUT // 60}min")


@pytest.mark.postgres
def test_adbc_sessions_are_pooled_and_one_the_server_dropped_is_replaced(postgres_db):
    reader = open_reader(SourceURL.parse(postgres_db.url), "adbc")
    (first,) = reader.row("SELECT pg_backend_pid()")
    assert reader.row("SELECT pg_backend_pid()") == (first,)  # the same session, kept between reads
    postgres_db.execute(f"SELECT pg_terminate_backend({first})")
    (second,) = reader.row("SELECT pg_backend_pid()")  # the dead session is replaced, not an error
    assert second != first
    reader.close()
    (third,) = reader.row("SELECT pg_backend_pid()")
    assert third not in (first, second)


@pytest.mark.postgres
def test_the_adbc_probe_is_the_first_session_and_loads_no_second_driver(postgres_db):
    import subprocess
    import sys

    from sqlalchemy import text

    # A fresh interpreter: probing through ADBC must not import psycopg, and the session the
    # probe opened (there before any read) is the one the first read uses.
    code = (
        "import sys\n"
        "from verify.sources.open import open_reader\n"
        "from verify.sources.urls import SourceURL\n"
        f"r = open_reader(SourceURL.parse({postgres_db.url!r}), 'adbc')\n"
        "print('psycopg' in sys.modules, flush=True)\n"
        "sys.stdin.readline()\n"
        "print(r.row('SELECT pg_backend_pid()')[0], flush=True)\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdin is not None
    assert proc.stdout.readline().strip() == "False"
    engine = postgres_db.engine()
    query = "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    try:
        with engine.connect() as conn:
            open_before_any_read = {pid for (pid,) in conn.execute(text(query))}
    finally:
        engine.dispose()
    proc.stdin.write("\n")
    proc.stdin.flush()
    pid = int(proc.stdout.readline())
    assert proc.wait(timeout=30) == 0
    assert pid in open_before_any_read


@pytest.mark.mysql
def test_a_reader_a_family_does_not_have_is_refused_with_the_ones_it_has(mysql_db):
    with pytest.raises(
        SourceError,
        match=r"--reader adbc cannot read .* \(mysql\); use --reader auto or connectorx or sqlalchemy",
    ):
        open_reader(SourceURL.parse(mysql_db.url), "adbc")


@pytest.mark.postgres
@pytest.mark.parametrize("kind", ["connectorx", "adbc"])
def test_rows_arrive_as_typed_polars_frames_without_pyarrow(postgres_db, kind):
    import subprocess
    import sys

    # A fresh interpreter: reading must not import pyarrow and numpy (60 MB resident): both
    # readers hand their batches to Polars through the Arrow C interface.
    code = (
        "import sys\n"
        "from verify.sources.open import open_reader\n"
        "from verify.sources.urls import SourceURL\n"
        f"r = open_reader(SourceURL.parse({postgres_db.url!r}), {kind!r})\n"
        "df = r.read(\"SELECT 1::bigint AS a, 'x'::text AS b, 1.5::numeric(10,2)::text AS c, now() AS d\")\n"
        "print(df.dtypes, df.row(0), 'pyarrow' in sys.modules or 'numpy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "[Int64, String, String, Datetime(time_unit='us', time_zone='UTC')] (1, 'x', '1.50'" in out
    assert out.strip().endswith("False")
