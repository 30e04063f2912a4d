"""Pick and open the reader for a source URL."""

from __future__ import annotations

import threading
from typing import Any

from verify.errors import SourceError
from verify.sources.dialect import Dialect
from verify.sources.urls import SourceURL


def open_reader(url: SourceURL, kind: str = "auto") -> Any:
    """The fastest reader the URL allows (ConnectorX), or SQLAlchemy when asked or needed."""
    from verify.sources.connectorx_reader import ConnectorXReader
    from verify.sources.sqlalchemy_reader import SQLAlchemyReader

    dialect = Dialect(url.family or "generic")
    use_cx = kind == "connectorx" or (kind == "auto" and url.family is not None)
    if kind == "connectorx" and url.family is None:
        raise SourceError(f"ConnectorX cannot read {url.masked}; use --reader sqlalchemy", url.masked)
    reader: Any = ConnectorXReader(url, dialect) if use_cx else SQLAlchemyReader(url, dialect)
    if url.family == "mysql":
        version, tz, system_tz = reader.row("SELECT VERSION(), @@session.time_zone, @@system_time_zone")
        dialect = Dialect("mysql", mariadb="mariadb" in str(version).lower())
        reader.dialect = dialect
        utc = tz in ("+00:00", "UTC") or (tz == "SYSTEM" and system_tz in ("UTC", "Etc/UTC"))
        if use_cx and not utc and kind == "auto":
            # ConnectorX cannot set the session zone; TIMESTAMP columns must be read in UTC.
            reader = SQLAlchemyReader(url, dialect)
    return reader


_cache: dict[tuple[str, str], Any] = {}
_cache_lock = threading.Lock()


def reader_for(raw_url: str, kind: str = "auto", side: str = "") -> Any:
    """One shared reader per URL and kind for the whole process (readers are thread-safe)."""
    with _cache_lock:
        if (raw_url, kind) not in _cache:
            _cache[(raw_url, kind)] = open_reader(SourceURL.parse(raw_url, side), kind)
        return _cache[(raw_url, kind)]
