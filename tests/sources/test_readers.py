"""Both readers on the real servers: every session read-only and in UTC, rows as Polars frames."""

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
@pytest.mark.parametrize("kind", READERS)
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


@pytest.mark.postgres
def test_rows_arrive_as_typed_polars_frames_without_pyarrow(postgres_db):
    import subprocess
    import sys

    # A fresh interpreter: reading through ConnectorX must not import pyarrow (70 MB resident).
    code = (
        "import sys\n"
        "from verify.sources.open import open_reader\n"
        "from verify.sources.urls import SourceURL\n"
        f"r = open_reader(SourceURL.parse({postgres_db.url!r}), 'connectorx')\n"
        "df = r.read(\"SELECT 1::bigint AS a, 'x'::text AS b, 1.5::numeric(10,2) AS c\")\n"
        "print(df.dtypes, df.row(0), 'pyarrow' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "Int64" in out and "String" in out and "Decimal" in out
    assert out.strip().endswith("False")
