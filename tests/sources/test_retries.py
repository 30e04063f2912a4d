"""Only what can succeed next time is tried again: a lost connection, a restarting server, a
timeout. A query's own error (a division by zero, a bad cast) fails its segment at once, with
the server's words. The delays and the probe timeout are settings (VERIFY_RETRY_DELAYS,
VERIFY_PROBE_TIMEOUT)."""

from __future__ import annotations

import time

import pytest

from verify.engine.run import DiffOptions, run_diff
from verify.errors import UsageError
from verify.settings import probe_timeout, retry_delays
from verify.sources.dialects import MySQL, Postgres

# What the drivers said, in the fault tests, when a session was killed or cut under a read.
TRANSIENT = {
    MySQL(): [
        "IoError { server disconnected }",
        "(2013, 'Lost connection to MySQL server during query')",
        "CodecError { IO error: `bytes remaining on stream' }",
        "(2006, 'MySQL server has gone away')",
        "Query execution was interrupted (max_statement_time exceeded)",
    ],
    Postgres(): [
        "db error: FATAL: terminating connection due to administrator command",
        "error communicating with the server: bytes remaining on stream",
        "server closed the connection unexpectedly",
        "db error: FATAL: the database system is starting up",
        "canceling statement due to statement timeout",
    ],
}
PERMANENT = {
    MySQL(): ["MySqlError { ERROR 1054 (42S22): Unknown column 'x' in 'field list' }", "Division by 0"],
    Postgres(): [
        "db error: ERROR: division by zero",
        'db error: ERROR: invalid input syntax for type integer: "x"',
        "permission denied for table t",
    ],
}


@pytest.mark.parametrize("dialect", list(TRANSIENT))
def test_transient_errors_are_told_from_the_querys_own(dialect):
    assert all(dialect.transient(reason) for reason in TRANSIENT[dialect])
    assert not any(dialect.transient(reason) for reason in PERMANENT[dialect])


def test_the_delays_and_the_probe_timeout_are_settings(monkeypatch):
    assert retry_delays() == (0.5, 2.0, 5.0) and probe_timeout() == 5
    monkeypatch.setenv("VERIFY_RETRY_DELAYS", "0.1, 1")
    monkeypatch.setenv("VERIFY_PROBE_TIMEOUT", "2")
    assert retry_delays() == (0.1, 1.0) and probe_timeout() == 2
    monkeypatch.setenv("VERIFY_RETRY_DELAYS", "")
    assert retry_delays() == ()
    monkeypatch.setenv("VERIFY_RETRY_DELAYS", "soon")
    with pytest.raises(
        UsageError, match="VERIFY_RETRY_DELAYS='soon': each value must be a number of seconds"
    ):
        retry_delays()


@pytest.mark.postgres
def test_a_query_error_fails_its_segment_at_once_with_the_servers_words(tmp_path, postgres_db, monkeypatch):
    monkeypatch.setenv("VERIFY_RETRY_DELAYS", "30")  # a retry would take 30 s: none may happen
    postgres_db.execute(
        "DROP TABLE IF EXISTS q",
        "CREATE TABLE q (id INT PRIMARY KEY, v INT)",
        "INSERT INTO q SELECT i, i FROM generate_series(1, 40) i",
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "version: 1\nentities:\n  q:\n    old: {table: q}\n"
        "    new: {query: 'SELECT id, v + 0 * (100 / (id - 35)) AS v FROM q'}\n    key: [id]\n"
    )
    started = time.monotonic()
    result = run_diff(
        DiffOptions(
            str(mapping), postgres_db.url, postgres_db.url, out_dir=str(tmp_path / "r"), segment_rows=10
        )
    )
    assert time.monotonic() - started < 20
    assert result.status == "partial" and result.entities["q"].segments_failed == 1
    assert "division by zero" in result.failures[0]
