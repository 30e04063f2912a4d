"""One dialect class per database family, and the choice of one for a URL.

Adding a family (DuckDB, say) is one module here with a `Dialect` subclass, registered in
`FAMILIES` under its SQLAlchemy backend names, plus its tests; see the README.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from verify.sources.dialects.base import STATEMENT_TIMEOUT, Dialect
from verify.sources.dialects.mysql import MySQL
from verify.sources.dialects.postgres import Postgres
from verify.sources.dialects.sqlite import SQLite

if TYPE_CHECKING:
    from verify.sources.urls import SourceURL

# SQLAlchemy backend name -> the dialect that reads it; any other backend is read as Dialect
# (generic SQL through SQLAlchemy).
FAMILIES: dict[str, type[Dialect]] = {
    "mysql": MySQL,
    "mariadb": MySQL,
    "postgresql": Postgres,
    "sqlite": SQLite,
}

__all__ = [
    "FAMILIES",
    "STATEMENT_TIMEOUT",
    "Dialect",
    "MySQL",
    "Postgres",
    "SQLite",
    "dialect_for",
]


def dialect_for(url: SourceURL) -> Dialect:
    """The dialect of a URL, before the server has said anything (see Dialect.probe)."""
    return FAMILIES.get(url.backend, Dialect)()
