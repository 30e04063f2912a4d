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
from verify.sources.dialect import Dialect
from verify.sources.urls import SourceURL, mask_in_text

BATCH_ROWS = 50_000

# PyMySQL FIELD_TYPE codes -> Arrow types (DECIMAL read at scale 10, as ConnectorX does).
_MYSQL = {
    0: pa.decimal128(38, 10),
    246: pa.decimal128(38, 10),
    1: pa.int64(),
    2: pa.int64(),
    3: pa.int64(),
    8: pa.int64(),
    9: pa.int64(),
    13: pa.int64(),
    4: pa.float64(),
    5: pa.float64(),
    7: pa.timestamp("us"),
    12: pa.timestamp("us"),
    10: pa.date32(),
    14: pa.date32(),
    15: pa.string(),
    253: pa.string(),
    254: pa.string(),
    247: pa.string(),
    252: pa.string(),
    16: pa.int64(),
}
# PostgreSQL type OIDs -> Arrow types.
_POSTGRES = {
    16: pa.bool_(),
    20: pa.int64(),
    21: pa.int64(),
    23: pa.int64(),
    26: pa.int64(),
    700: pa.float64(),
    701: pa.float64(),
    1700: pa.decimal128(38, 10),
    25: pa.string(),
    1042: pa.string(),
    1043: pa.string(),
    19: pa.string(),
    1082: pa.date32(),
    1114: pa.timestamp("us"),
    1184: pa.timestamp("us", tz="UTC"),
    2950: pa.string(),
}


class SQLAlchemyReader:
    """A reader over a SQLAlchemy engine; sessions are read-only and in UTC where the dialect allows."""

    def __init__(self, url: SourceURL, dialect: Dialect) -> None:
        self.dialect = dialect
        self.masked_url = url.masked
        self._family = url.family
        self._engine = create_engine(url.raw, pool_pre_ping=True)

    def _session_setup(self, conn: Any) -> None:
        for statement in self.dialect.session_setup():
            conn.exec_driver_sql(statement)

    def _arrow_type(self, column: Any, unsigned: bool) -> pa.DataType | None:
        """The Arrow type of a result column, from the driver's type code and its precision."""
        code = column[1]
        table = _MYSQL if self._family == "mysql" else _POSTGRES if self._family == "postgres" else {}
        arrow = table.get(code) if isinstance(code, int) else None
        if arrow is not None and pa.types.is_decimal(arrow):
            scale = column[5]
            return pa.decimal128(38, min(int(scale), 38) if scale is not None else 18)
        if unsigned and code == 8:  # BIGINT UNSIGNED
            return pa.uint64()
        return arrow

    @staticmethod
    def _unsigned(cursor: Any) -> list[bool]:
        """PyMySQL's UNSIGNED flag per result column (False for other drivers)."""
        fields = getattr(getattr(cursor, "_result", None), "fields", None) or []
        return [bool(f.flags & 32) for f in fields]

    def _batches(self, sql: str) -> tuple[pa.Schema | None, list[pa.RecordBatch]]:
        try:
            with self._engine.connect() as conn:
                self._session_setup(conn)
                result = conn.execution_options(stream_results=True).execute(text(sql))
                description = result.cursor.description
                names = [d[0] for d in description]
                unsigned = self._unsigned(result.cursor) or [False] * len(names)
                types = [self._arrow_type(d, u) for d, u in zip(description, unsigned, strict=True)]
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
