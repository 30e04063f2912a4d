"""Pick and open the reader for a source URL."""

from __future__ import annotations

import threading
from typing import Any

from verify.errors import SourceError
from verify.sources.dialects import dialect_for
from verify.sources.urls import SourceURL


def open_reader(url: SourceURL, kind: str = "auto") -> Any:
    """The fastest reader the URL's family has (its dialect's `readers`), or the one asked for.

    The source is probed first with a short timeout, so that a wrong host, password or database
    is one clear error at once (ConnectorX's pool would retry for 30 s): with its plain driver,
    or, for ADBC, by opening the reader's first session.
    """
    dialect = dialect_for(url)
    if kind != "auto" and kind not in dialect.readers:
        raise SourceError(
            f"--reader {kind} cannot read {url.masked} ({dialect.family}); "
            f"use --reader {' or '.join(('auto', *dialect.readers))}",
            url.masked,
        )
    kind = dialect.readers[0] if kind == "auto" else kind
    if kind == "adbc":  # its first session is the probe (no dialect with ADBC refines itself in one)
        from verify.sources.adbc_reader import ADBCReader

        reader = ADBCReader(url, dialect)
        reader.probe()
        return reader
    dialect = dialect.probe(url)
    if kind == "connectorx":
        from verify.sources.connectorx_reader import ConnectorXReader

        return ConnectorXReader(url, dialect)
    from verify.sources.sqlalchemy_reader import SQLAlchemyReader

    return SQLAlchemyReader(url, dialect)


_cache: dict[tuple[str, str], Any] = {}
_cache_lock = threading.Lock()


def reader_for(raw_url: str, kind: str = "auto", side: str = "") -> Any:
    """One shared reader per URL and kind for the whole process (readers are thread-safe)."""
    with _cache_lock:
        if (raw_url, kind) not in _cache:
            _cache[(raw_url, kind)] = open_reader(SourceURL.parse(raw_url, side), kind)
        return _cache[(raw_url, kind)]


def close_readers() -> None:
    """Close the sessions readers keep open between reads (the end of a run); a reader opens
    new ones if it is used again."""
    with _cache_lock:
        readers = list(_cache.values())
    for reader in readers:
        close = getattr(reader, "close", None)
        if close is not None:
            close()
