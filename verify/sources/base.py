"""The reader interface: every way of reading a source answers these three questions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from verify.sources.dialect import Dialect

if TYPE_CHECKING:
    import pyarrow as pa


class Reader(Protocol):
    """Reads one source as Arrow; the engine never calls a driver directly."""

    dialect: Dialect
    masked_url: str

    def schema(self, sql: str) -> pa.Schema:
        """The Arrow types of a query's columns, taken from the database, reading no rows."""
        ...

    def read(self, sql: str) -> pa.Table:
        """All rows of a query (a segment), as one Arrow table."""
        ...

    def row(self, sql: str) -> tuple[Any, ...]:
        """The single row of a small query (counts, bounds, settings)."""
        ...
