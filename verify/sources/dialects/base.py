"""The dialect interface, with the generic SQL every family starts from.

A dialect owns everything a database family does differently: how to connect and open a
read-only session, quoting and literals, the byte order of strings, catalog reads and type
mapping (catalog type -> `SourceColumn`), how each column is read exactly, checksum renderings
and the sampling SQL. The engine never branches on a family; it asks the dialect.

Everything verify sends to a source is built here, from plain column names the mapping
validated; user-given SQL (`where`, `query`) is wrapped, never spliced into other clauses.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from verify.errors import SourceError
from verify.sources.columns import SourceColumn, from_polars

if TYPE_CHECKING:
    from verify.mapping.model import Side
    from verify.mapping.types import CanonicalType
    from verify.sources.urls import SourceURL

# Seconds any one query may run before the server cancels it: a segment reads in seconds, so a
# query running this long is stuck (a lock, a plan gone wrong) and is not left on a live store.
STATEMENT_TIMEOUT = 1800


@dataclass(frozen=True)
class Dialect:
    """Generic SQL, read through SQLAlchemy: what a family without a module of its own gets."""

    family: ClassVar[str] = "generic"
    default_port: ClassVar[int | None] = None
    # The readers that can read this family, the fastest first (`--reader auto` takes it):
    # adbc (sources/adbc_reader.py), connectorx, sqlalchemy.
    readers: ClassVar[tuple[str, ...]] = ("sqlalchemy",)
    checksums: ClassVar[bool] = False  # summaries (MD5 of rendered rows) can be computed in SQL
    sample_in_sql: ClassVar[bool] = False  # the key-hashed sample can be pushed into its SQL
    backslash_escapes: ClassVar[bool] = False  # string literals treat '\' as an escape
    # Words of a driver's error that say the connection or the server failed, not the query:
    # only such a read is tried again (a cast error or a division by zero would fail again).
    transient_words: ClassVar[tuple[str, ...]] = (
        "connection refused",
        "connection reset",
        "broken pipe",
        "timed out",
        "timeout expired",
        "unexpected eof",
        "connection closed",
        "closed the connection",
        "could not connect",
        "can't connect",
        "no route to host",
        "network is unreachable",
        "temporarily unavailable",
        "too many connections",
        "i/o error",
        "io error",
        "bytes remaining on stream",  # a stream cut mid-row
    )

    # -- connecting ---------------------------------------------------------------------------

    def probe(self, url: SourceURL) -> Dialect:
        """Connect once with a short timeout, so that a wrong host, password or database is one
        clear error at once; returns the dialect refined by what the server said (its flavour)."""
        from verify.sources.drivers import probe_sqlalchemy

        probe_sqlalchemy(url)
        return self

    def connectorx_url(self, url: SourceURL) -> str:
        raise SourceError(f"ConnectorX cannot read {url.masked}; use --reader sqlalchemy", url.masked)

    def adbc_uri(self, url: SourceURL) -> str:
        raise SourceError(f"ADBC cannot read {url.masked}; use --reader sqlalchemy", url.masked)

    def connect(self, url: SourceURL, timeout: int, answer_timeout: bool = False, **options: Any) -> Any:
        """A plain DB-API connection (probes, query descriptions, scenario loads)."""
        raise SourceError(f"{url.masked}: verify has no plain driver for {url.backend}", url.masked)

    def session_setup(self) -> list[str]:
        """Statements that open every reading session: read-only, bounded in time, in UTC."""
        return []

    def transient(self, reason: str) -> bool:
        """Whether a failed read may succeed when tried again (see `transient_words`)."""
        said = reason.lower()
        return any(word in said for word in self.transient_words)

    # -- SQL text -----------------------------------------------------------------------------

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def table(self, name: str) -> str:
        return ".".join(self.quote(part) for part in name.split("."))

    def literal(self, value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, (int, decimal.Decimal)):
            return str(value)
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, dt.datetime):
            text = value.isoformat(sep=" ")
        elif isinstance(value, dt.date):
            text = value.isoformat()
        else:
            text = str(value)
        text = text.replace("'", "''")
        if self.backslash_escapes:
            text = text.replace("\\", "\\\\")
        return f"'{text}'"

    def byte_order(self, column_sql: str) -> str:
        """The column compared by its UTF-8 bytes, with no padding: the same order everywhere.

        MySQL `_ci` collations and PAD SPACE, and PostgreSQL locales, order strings
        differently; bounding string keys this way puts every row in the same segment
        on both sides.
        """
        return column_sql

    def as_text(self, sql: str) -> str:
        return f"CAST({sql} AS TEXT)"

    def select(self, columns: list[str], table: str | None, query: str | None, conditions: list[str]) -> str:
        """One SELECT over a side's table or query; conditions are ANDed, each in parentheses."""
        base = f"({query}) verify_src" if query is not None else self.table(table or "")
        sql = f"SELECT {', '.join(columns)} FROM {base}"
        if conditions:
            sql += " WHERE " + " AND ".join(f"({c})" for c in conditions)
        return sql

    def random(self) -> str:
        """A random number in [0, 1) per row, for sampling string-key bounds."""
        return "RAND()"

    def sample_key(self, column_sql: str) -> str:
        """An integer key column as the sample hash's arithmetic may take it (see engine/subset)."""
        return column_sql

    # -- the catalog --------------------------------------------------------------------------

    def columns(self, reader: Any, side: Side) -> list[SourceColumn]:
        """Every column of a side, with what it holds; a side that cannot be read raises
        SourceError with the database's own words.

        Generic: the types a reader gives a query that reads no rows."""
        sql = self.select(["*"], side.table, side.query, [side.where] if side.where else [])
        return [from_polars(name, dtype) for name, dtype in reader.schema(sql).items()]

    def read_sql(self, column: SourceColumn) -> str:
        """The select-list item that reads one column exactly, under its own name."""
        q = self.quote(column.name)
        return q if column.select is None else f"{column.select.format(q)} AS {q}"

    def tables(self, reader: Any) -> list[str]:
        """The tables and views of the URL's database (schema-qualified outside the default one),
        for `verify init`; a family without a catalog query has none to list."""
        raise SourceError(
            f"verify cannot list the tables of {reader.masked_url} ({self.family}); "
            "name each pair with --table OLD=NEW",
            reader.masked_url,
        )

    def unique_keys(self, reader: Any, table: str) -> list[tuple[str, ...]] | None:
        """The column lists of the table's primary key and unique indexes, or None: not known."""
        return None

    def estimated_rows(self, reader: Any, table: str) -> int | None:
        """The catalog's row estimate of a whole table (to size segments), or None: count."""
        return None

    def arrow_type(self, description: Any, field: Any) -> Any:
        """The Arrow type of a driver's result column (SQLAlchemy reader), or None: infer it."""
        return None

    # -- checksums ----------------------------------------------------------------------------

    def render(self, column: SourceColumn, ctype: CanonicalType) -> str | None:
        """The column's canonical value as text in SQL, identical for equal values on every
        family that renders it; None where this family cannot render it exactly."""
        return None

    def concat(self, parts: list[str]) -> str:
        return " || ".join(parts)

    def md5(self, sql: str) -> str:
        return f"md5({sql})"

    def hash_total(self, hex_column: str) -> str:
        """The sum, as text, of the first 60 bits of each row's hex MD5."""
        raise NotImplementedError

    def bucket(self, partition: str, width: int) -> str:
        """The integer FLOOR(partition / width)."""
        return f"CAST(FLOOR({partition} / {width}.0) AS BIGINT)"

    def __str__(self) -> str:
        return self.family
