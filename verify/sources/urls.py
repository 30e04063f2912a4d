"""Source URLs: parsing, masking the password, and the forms each reader needs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from verify.errors import SourceError

# SQLAlchemy backend name -> the dialect family verify knows how to read and bound.
FAMILIES = {"mysql": "mysql", "mariadb": "mysql", "postgresql": "postgres", "sqlite": "sqlite"}


@dataclass(frozen=True)
class SourceURL:
    """A parsed source URL; `masked` is the only form that may be printed or stored."""

    raw: str
    url: URL

    @classmethod
    def parse(cls, raw: str, side: str = "") -> SourceURL:
        where = f" for --{side}" if side else ""
        try:
            url = make_url(raw)
        except ArgumentError:
            raise SourceError(
                f"'{mask(raw)}'{where} is not a database URL; "
                "write it as a SQLAlchemy URL, e.g. mysql+pymysql://user@host/db, "
                "postgresql+psycopg://user@host/db or sqlite:///path/to/file.db"
            ) from None
        return cls(raw, url)

    @property
    def backend(self) -> str:
        return self.url.get_backend_name()

    @property
    def family(self) -> str | None:
        """mysql, postgres or sqlite; None for a dialect only SQLAlchemy can read."""
        return FAMILIES.get(self.backend)

    @property
    def masked(self) -> str:
        return self.url.render_as_string(hide_password=True)

    @property
    def sqlite_path(self) -> str | None:
        if self.family != "sqlite":
            return None
        db = self.url.database or ""
        return db if db in ("", ":memory:") else os.path.abspath(db)

    def connectorx(self) -> str:
        """The URL in ConnectorX's form (no driver suffix, absolute SQLite path)."""
        u = self.url
        if self.family == "sqlite":
            return "sqlite://" + quote(self.sqlite_path or "")
        scheme = {"mysql": "mysql", "postgres": "postgresql"}[self.family or ""]
        u = u.set(drivername=scheme)
        return u.render_as_string(hide_password=False)


def mask(raw: str) -> str:
    """Mask the password of anything that looks like a URL, even one that does not parse."""
    try:
        return make_url(raw).render_as_string(hide_password=True)
    except Exception:
        scheme, sep, rest = raw.partition("://")
        if not sep or "@" not in rest:
            return raw
        creds, _, host = rest.rpartition("@")
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else raw
