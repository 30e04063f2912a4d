"""SQLite: one file, read with ConnectorX; types are the declared ones, as ConnectorX reads them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from verify.errors import SourceError
from verify.sources.dialects.base import Dialect

if TYPE_CHECKING:
    from verify.sources.urls import SourceURL


@dataclass(frozen=True)
class SQLite(Dialect):
    family: ClassVar[str] = "sqlite"
    readers: ClassVar[tuple[str, ...]] = ("connectorx", "sqlalchemy")
    sample_in_sql: ClassVar[bool] = True  # no MD5 in its SQL: no checksums

    def probe(self, url: SourceURL) -> SQLite:
        """The file must exist and be a SQLite database (SQLite would create an empty one)."""
        path = url.sqlite_path or ""
        if path in ("", ":memory:"):
            return self
        if not os.path.isfile(path):
            raise SourceError(f"{url.masked}: there is no SQLite file {path}; check the path", url.masked)
        try:
            with open(path, "rb") as fh:
                head = fh.read(16)
        except OSError:
            head = b"?"
        # An empty file is a database SQLite makes on first write.
        if head not in (b"", b"SQLite format 3\x00"):
            raise SourceError(
                f"{url.masked}: {path} is not a SQLite database file; check the path", url.masked
            )
        return self

    def connectorx_url(self, url: SourceURL) -> str:
        return "sqlite://" + quote(url.sqlite_path or "")

    def tables(self, reader: Any) -> list[str]:
        rows = reader.read(
            "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        return [str(n) for (n,) in rows.iter_rows()]

    def unique_keys(self, reader: Any, table: str) -> list[tuple[str, ...]] | None:
        t = self.literal(table)
        primary = [
            str(c)
            for (c,) in reader.read(
                f"SELECT name FROM pragma_table_info({t}) WHERE pk > 0 ORDER BY pk"
            ).iter_rows()
        ]
        rows = reader.read(
            f"SELECT group_concat(ii.name, ',') FROM pragma_index_list({t}) il, "
            "pragma_index_info(il.name) ii "
            'WHERE il."unique" GROUP BY il.name'
        )
        return ([tuple(primary)] if primary else []) + [tuple(str(c).split(",")) for (c,) in rows.iter_rows()]

    def byte_order(self, column_sql: str) -> str:
        return f"{column_sql} COLLATE BINARY"

    def random(self) -> str:
        return "(abs(random()) / 9223372036854775807.0)"
