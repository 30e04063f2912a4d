"""The reader interface: every way of reading a source answers these three questions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from verify.sources.dialects import Dialect
from verify.sources.urls import SourceURL

if TYPE_CHECKING:
    import polars as pl


class Reader(Protocol):
    """Reads one source as Arrow-backed Polars frames; the engine never calls a driver directly."""

    dialect: Dialect
    url: SourceURL
    masked_url: str

    def schema(self, sql: str) -> pl.Schema:
        """The types of a query's columns, taken from the database, reading no rows."""
        ...

    def read(self, sql: str) -> pl.DataFrame:
        """All rows of a query (a segment), as one frame."""
        ...

    def row(self, sql: str) -> tuple[Any, ...]:
        """The single row of a small query (counts, bounds, settings)."""
        ...


def first_row(frame: pl.DataFrame) -> tuple[Any, ...]:
    """A frame's first row, or a row of NULLs when it has none."""
    if frame.height == 0:
        return tuple(None for _ in frame.columns)
    return frame.row(0)
