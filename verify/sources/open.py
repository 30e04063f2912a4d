"""Pick and open the reader for a source URL."""

from __future__ import annotations

import os
import threading
from typing import Any

from verify.errors import SourceError
from verify.sources.dialect import Dialect
from verify.sources.drivers import connect
from verify.sources.urls import SourceURL, mask_in_text

PROBE_TIMEOUT = 5  # seconds: a source that does not answer by then is reported, not waited for


def open_reader(url: SourceURL, kind: str = "auto") -> Any:
    """The fastest reader the URL allows (ConnectorX), or SQLAlchemy when asked or needed."""
    if kind == "connectorx" and url.family is None:
        raise SourceError(f"ConnectorX cannot read {url.masked}; use --reader sqlalchemy", url.masked)
    facts = probe(url)
    dialect = Dialect(url.family or "generic", mariadb=facts.get("mariadb", False))
    if kind == "connectorx" or (kind == "auto" and url.family is not None):
        from verify.sources.connectorx_reader import ConnectorXReader

        return ConnectorXReader(url, dialect)
    from verify.sources.sqlalchemy_reader import SQLAlchemyReader

    return SQLAlchemyReader(url, dialect)


def probe(url: SourceURL) -> dict[str, bool]:
    """Connect once with the plain driver and a short timeout, so that a wrong host, password
    or database is one clear error at once (ConnectorX's pool would retry for 30 s)."""
    if url.family == "sqlite":
        path = url.sqlite_path or ""
        if path not in ("", ":memory:") and not os.path.isfile(path):
            raise SourceError(f"{url.masked}: there is no SQLite file {path}; check the path", url.masked)
        if path not in ("", ":memory:") and not _is_sqlite_file(path):
            raise SourceError(
                f"{url.masked}: {path} is not a SQLite database file; check the path", url.masked
            )
        return {}
    if url.family is None:
        return _probe_sqlalchemy(url)
    conn = connect(url, PROBE_TIMEOUT, answer_timeout=True)
    try:
        if url.family != "mysql":
            return {}
        with conn.cursor() as cur:
            cur.execute("SELECT VERSION()")
            (version,) = cur.fetchone()
        return {"mariadb": "mariadb" in str(version).lower()}
    finally:
        conn.close()


def _is_sqlite_file(path: str) -> bool:
    """An empty file (SQLite makes it a database on first write) or one with SQLite's header."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    return head in (b"", b"SQLite format 3\x00")


def _probe_sqlalchemy(url: SourceURL) -> dict[str, bool]:
    """A dialect only SQLAlchemy knows: check that it loads and connects."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import NoSuchModuleError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    try:
        engine = create_engine(url.raw, poolclass=NullPool)
    except NoSuchModuleError:
        raise SourceError(
            f"{url.masked}: unknown database type '{url.drivername}'; use e.g. mysql+pymysql://, "
            "postgresql+psycopg:// or sqlite:///",
            url.masked,
        ) from None
    except ImportError as exc:
        raise SourceError(
            f"{url.masked}: its driver is not installed ({exc.name}); pip install it", url.masked
        ) from None
    try:
        with engine.connect():
            return {}
    except SQLAlchemyError as exc:
        orig = getattr(exc, "orig", None) or exc
        reason = str(orig.args[-1] if getattr(orig, "args", None) else orig).strip().splitlines()[0]
        raise SourceError(
            f"cannot connect to {url.masked}: {mask_in_text(reason)}; check the host, port, user, "
            "password and database in the URL",
            url.masked,
        ) from None
    finally:
        engine.dispose()


_cache: dict[tuple[str, str], Any] = {}
_cache_lock = threading.Lock()


def reader_for(raw_url: str, kind: str = "auto", side: str = "") -> Any:
    """One shared reader per URL and kind for the whole process (readers are thread-safe)."""
    with _cache_lock:
        if (raw_url, kind) not in _cache:
            _cache[(raw_url, kind)] = open_reader(SourceURL.parse(raw_url, side), kind)
        return _cache[(raw_url, kind)]
