"""Reading through ConnectorX: Arrow straight from the wire for MySQL, PostgreSQL and SQLite.

ConnectorX hands over each column chunk as a pair of Arrow C Data Interface pointers; they go
to Polars without a copy and without pyarrow (verify.sources.arrow_c).
"""

from __future__ import annotations

from typing import Any

import connectorx as cx
import polars as pl
from connectorx import _read_sql  # the call under cx.read_sql, minus its pyarrow wrapping

from verify.errors import SourceError
from verify.sources.arrow_c import chunk
from verify.sources.base import first_row
from verify.sources.dialects import Dialect
from verify.sources.urls import SourceURL, mask_in_text


class ConnectorXReader:
    """A reader over one ConnectorX URL; sessions are short and only ever run SELECTs."""

    def __init__(self, url: SourceURL, dialect: Dialect) -> None:
        self.conn, self.protocol = cx.rewrite_conn(dialect.connectorx_url(url), None)
        # Every session read-only and in UTC, whatever the SQL: the server refuses writes.
        self.setup = dialect.session_setup() or None
        self.dialect = dialect
        self.url = url
        self.masked_url = url.masked

    def schema(self, sql: str) -> pl.Schema:
        return self.read(f"SELECT * FROM ({sql}) verify_q LIMIT 0").schema

    def read(self, sql: str) -> pl.DataFrame:
        try:
            names, chunks = _read_sql(
                self.conn,
                "arrow",
                queries=[sql],
                protocol=self.protocol,
                partition_query=None,
                pre_execution_queries=self.setup,
            )
        except BaseException as exc:  # ConnectorX raises pyo3 panics, which are BaseExceptions
            if isinstance(exc, (KeyboardInterrupt, SystemExit)):
                raise
            reason = _clean(exc)
            raise SourceError(
                f"reading {self.masked_url} failed: {reason}\n  query: {sql}", self.masked_url, reason
            ) from None
        columns = []
        for i, name in enumerate(names):
            parts = [chunk(name, *pointers[i]) for pointers in chunks] or [pl.Series(name, [])]
            column = parts[0] if len(parts) == 1 else pl.concat(parts, rechunk=False)
            columns.append(column.alias(name))
        return pl.DataFrame(columns)

    def row(self, sql: str) -> tuple[Any, ...]:
        return first_row(self.read(sql))


def _clean(exc: BaseException) -> str:
    """The driver's message on one line, without passwords or Rust backtraces."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return mask_in_text(text)
