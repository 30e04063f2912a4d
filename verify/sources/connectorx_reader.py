"""Reading through ConnectorX: Arrow straight from the wire for MySQL, PostgreSQL and SQLite."""

from __future__ import annotations

import re
from typing import Any

import connectorx as cx
import pyarrow as pa

from verify.errors import SourceError
from verify.sources.dialect import Dialect
from verify.sources.urls import SourceURL


class ConnectorXReader:
    """A reader over one ConnectorX URL; sessions are short and only ever run SELECTs."""

    def __init__(self, url: SourceURL, dialect: Dialect) -> None:
        self.url = url.connectorx()
        if url.family == "postgres":
            # Every session read-only and bounded, whatever the SQL: the server refuses writes.
            sep = "&" if "?" in self.url else "?"
            self.url += sep + "options=-c%20default_transaction_read_only%3Don"
        self.dialect = dialect
        self.masked_url = url.masked

    def schema(self, sql: str) -> pa.Schema:
        return self.read(f"SELECT * FROM ({sql}) verify_q LIMIT 0").schema

    def read(self, sql: str) -> pa.Table:
        try:
            table = cx.read_sql(self.url, sql, return_type="arrow")
        except BaseException as exc:  # ConnectorX raises pyo3 panics, which are BaseExceptions
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            raise SourceError(
                f"reading {self.masked_url} failed: {_clean(exc)}\n  query: {sql}", self.masked_url
            ) from None
        return table

    def row(self, sql: str) -> tuple[Any, ...]:
        table = self.read(sql)
        if table.num_rows == 0:
            return tuple(None for _ in table.column_names)
        return tuple(table.column(i)[0].as_py() for i in range(table.num_columns))


def _clean(exc: BaseException) -> str:
    """The driver's message on one line, without passwords or Rust backtraces."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return re.sub(r"://([^:/@]+):[^@/]*@", r"://\1:***@", text)
