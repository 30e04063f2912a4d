"""Reading through SQLAlchemy with a server-side cursor: any dialect, never a buffered table.

Types come from the driver's result description (the database's own column types); only
a driver verify does not know falls back to Arrow's inference, per batch.
"""

from __future__ import annotations

from typing import Any

import polars as pl
import pyarrow as pa
from sqlalchemy import create_engine, text
from sqlalchemy.exc import SQLAlchemyError

from verify.errors import SourceError
from verify.sources.base import first_row
from verify.sources.dialects import Dialect
from verify.sources.urls import SourceURL, mask_in_text

BATCH_ROWS = 50_000


class SQLAlchemyReader:
    """A reader over a SQLAlchemy engine; sessions are read-only and in UTC where the dialect allows."""

    def __init__(self, url: SourceURL, dialect: Dialect) -> None:
        self.dialect = dialect
        self.url = url
        self.masked_url = url.masked
        self._engine = create_engine(url.raw, pool_pre_ping=True)

    def _session_setup(self, conn: Any) -> None:
        for statement in self.dialect.session_setup():
            conn.exec_driver_sql(statement)

    @staticmethod
    def _fields(cursor: Any) -> list[Any]:
        """The driver's own per-column metadata where it has some (PyMySQL's flags and charset)."""
        return list(getattr(getattr(cursor, "_result", None), "fields", None) or [])

    def _batches(self, sql: str) -> tuple[pa.Schema | None, list[pa.RecordBatch]]:
        try:
            with self._engine.connect() as conn:
                self._session_setup(conn)
                result = conn.execution_options(stream_results=True).execute(text(sql))
                description = result.cursor.description
                names = [d[0] for d in description]
                fields = self._fields(result.cursor) or [None] * len(names)
                types = [self.dialect.arrow_type(d, f) for d, f in zip(description, fields, strict=True)]
                schema = (
                    pa.schema(list(zip(names, types, strict=True)))
                    if all(t is not None for t in types)
                    else None
                )
                batches = []
                while rows := result.fetchmany(BATCH_ROWS):
                    cols = list(zip(*rows, strict=True))
                    arrays = [
                        pa.array(col, type=schema.field(i).type if schema else None)
                        for i, col in enumerate(cols)
                    ]
                    batches.append(pa.RecordBatch.from_arrays(arrays, names=names))
                return schema or (batches[0].schema if batches else None), batches
        except SQLAlchemyError as exc:
            first = mask_in_text(str(getattr(exc, "orig", None) or exc).strip().splitlines()[0])
            raise SourceError(
                f"reading {self.masked_url} failed: {first}\n  query: {sql}", self.masked_url, first
            ) from None

    def _arrow_schema(self, sql: str) -> pa.Schema:
        schema, _ = self._batches(f"SELECT * FROM ({sql}) verify_q LIMIT 0")
        if schema is None:  # a driver with no type codes: ask for one row and infer
            schema, _ = self._batches(f"SELECT * FROM ({sql}) verify_q LIMIT 1")
        return schema or pa.schema([])

    def schema(self, sql: str) -> pl.Schema:
        return self._frame(self._arrow_schema(sql).empty_table()).schema

    def read(self, sql: str) -> pl.DataFrame:
        schema, batches = self._batches(sql)
        if not batches:
            return self._frame((schema or self._arrow_schema(sql)).empty_table())
        return self._frame(pa.Table.from_batches(batches))

    def row(self, sql: str) -> tuple[Any, ...]:
        return first_row(self.read(sql))

    @staticmethod
    def _frame(table: pa.Table) -> pl.DataFrame:
        frame = pl.from_arrow(table)
        assert isinstance(frame, pl.DataFrame)
        return frame
