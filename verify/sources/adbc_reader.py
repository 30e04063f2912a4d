"""Reading PostgreSQL through ADBC: Apache Arrow's libpq driver (binary COPY straight to Arrow).

Sessions are pooled for the run, each set up once (read-only, UTC, statement timeout),
instead of one per query: a new PostgreSQL session costs the server a process and
milliseconds of CPU. A session whose read fails is closed and not used again, so the next
attempt of a read (see the worker's retries) starts from a fresh one.

The result stream is read batch by batch through the Arrow C interface (verify.sources.arrow_c),
with the GIL released while libpq waits on the server and decodes the COPY data, and handed to
Polars without a copy and without pyarrow.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
from typing import Any

import polars as pl

from verify.errors import SourceError
from verify.settings import probe_timeout
from verify.sources.arrow_c import read_stream
from verify.sources.base import first_row
from verify.sources.dialects import Dialect
from verify.sources.urls import SourceURL, mask_in_text

# Columns of types ADBC only knows as opaque bytes load as those bytes, without a warning per
# read (verify casts every type it compares to one ADBC knows; see the dialect's read_sql).
os.environ.setdefault("POLARS_UNKNOWN_EXTENSION_TYPE_BEHAVIOR", "load_as_storage")


class _StaleSession(Exception):
    """A session from the pool failed as a dropped connection fails."""


IDLE_SESSIONS = 8  # sessions kept open between reads; more, in a burst, are closed after use


class ADBCReader:
    """A reader over one PostgreSQL URL, with a pool of open sessions."""

    def __init__(self, url: SourceURL, dialect: Dialect) -> None:
        import adbc_driver_postgresql

        self.dialect = dialect
        self.url = url
        self.masked_url = url.masked
        self._driver = adbc_driver_postgresql._driver_path()
        self._uri = dialect.adbc_uri(url)
        self._setup = dialect.session_setup()
        self._lock = threading.Lock()
        self._idle: list[tuple[Any, Any]] = []  # (database, connection) pairs no read is using

    def probe(self) -> None:
        """Open the first session now, with the connect timeout of a probe: a wrong host,
        password or database is one clear error before anything is planned. The session stays
        in the pool for the catalog and the first segment, and psycopg is never loaded."""
        from verify.sources.drivers import connecting

        def open_session() -> tuple[Any, Any]:
            try:
                return self._take(fresh=True)[0]
            except ImportError:
                raise  # said as a driver that is not installed
            except Exception as exc:  # noqa: BLE001 - the driver's errors, in its own words
                raise ConnectionError(_clean(exc).removeprefix("Failed to connect: ")) from None

        self._give(connecting(self.url, probe_timeout(), open_session, passes_parameters=True))

    def schema(self, sql: str) -> pl.Schema:
        return self.read(f"SELECT * FROM ({sql}) verify_q LIMIT 0").schema

    def read(self, sql: str) -> pl.DataFrame:
        try:
            return self._read(sql, fresh=False)
        except _StaleSession:  # a pooled session the server dropped while idle: once more, anew
            return self._read(sql, fresh=True)

    def _read(self, sql: str, fresh: bool) -> pl.DataFrame:
        from adbc_driver_manager import AdbcStatement

        pair, reused = None, False
        try:
            pair, reused = self._take(fresh)
            statement = AdbcStatement(pair[1])
            try:
                statement.set_sql_query(sql)
                stream, _ = statement.execute_query()
                frame = read_stream(stream.__arrow_c_stream__())
            finally:
                statement.close()
        except BaseException as exc:  # the driver raises its own errors, Polars pyo3 panics
            if pair is not None:
                _close(pair)  # it may be broken: the next read opens a fresh session
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            reason = _clean(exc)
            if reused and self.dialect.transient(reason):
                raise _StaleSession from None
            raise SourceError(
                f"reading {self.masked_url} failed: {reason}\n  query: {sql}", self.masked_url, reason
            ) from None
        self._give(pair)
        return frame

    def row(self, sql: str) -> tuple[Any, ...]:
        return first_row(self.read(sql))

    def close(self) -> None:
        """Close the idle sessions (at the end of a run); a later read opens new ones."""
        with self._lock:
            idle, self._idle = self._idle, []
        for pair in idle:
            _close(pair)

    def _take(self, fresh: bool) -> tuple[tuple[Any, Any], bool]:
        """A session, and whether it was used before (from the pool)."""
        with self._lock:
            if self._idle and not fresh:
                return self._idle.pop(), True
        from adbc_driver_manager import AdbcConnection, AdbcDatabase, AdbcStatement

        database = AdbcDatabase(driver=self._driver, uri=self._uri)
        pair = (database, AdbcConnection(database))
        try:
            for setting in self._setup:
                statement = AdbcStatement(pair[1])
                statement.set_sql_query(setting)
                statement.execute_update()
                statement.close()
        except BaseException:
            _close(pair)
            raise
        return pair, False

    def _give(self, pair: tuple[Any, Any]) -> None:
        with self._lock:
            if len(self._idle) < IDLE_SESSIONS:
                self._idle.append(pair)
                return
        _close(pair)


def _close(pair: tuple[Any, Any]) -> None:
    for handle in reversed(pair):
        with contextlib.suppress(Exception):  # a broken session is gone either way
            handle.close()


def _clean(exc: BaseException) -> str:
    """The server's words on one line ('relation "x" does not exist'), without the driver's
    status code and steps ('NOT_FOUND: Failed to prepare query: ERROR:  ...'), the query it
    quotes, or passwords."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    text = re.sub(r"query '(?:[^']|'')*'", "query", text)
    said = text.partition("ERROR:")[2].strip() if "ERROR:" in text else text
    said = re.sub(r"^[A-Z_]+: ", "", said).removeprefix("[libpq] ")
    return mask_in_text(said or text)
