"""Source URLs: parsing, masking the password, and the forms each reader needs.

URLs are written as SQLAlchemy URLs (`dialect+driver://user:password@host:port/database?k=v`)
and parsed here with the same grammar, so that reading MySQL, PostgreSQL or SQLite never
imports SQLAlchemy; only a dialect that just SQLAlchemy can read brings it in.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, quote, unquote

from verify.errors import SourceError

# SQLAlchemy's own URL grammar (sqlalchemy.engine.url._parse_url).
_URL = re.compile(
    r"""
    (?P<name>[\w+]+)://
    (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
    (?:(?:\[(?P<ipv6host>[^/?]+)\]|(?P<ipv4host>[^/:?]+))?(?::(?P<port>[^/?]*))?)?
    (?:/(?P<database>[^?]*))?
    (?:\?(?P<query>.*))?
    """,
    re.X,
)


@dataclass(frozen=True)
class SourceURL:
    """A parsed source URL; `masked` is the only form that may be printed or stored."""

    raw: str
    drivername: str
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    host: str | None = None
    port: int | None = None
    database: str | None = None
    query: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, raw: str, side: str = "") -> SourceURL:
        where = f" for --{side} (or VERIFY_{side.upper()}_URL)" if side else ""
        m = _URL.fullmatch(raw.strip())
        port = m.group("port") if m else None
        if m is None or (port and not port.isdigit()):
            raise SourceError(
                f"'{mask(raw)}'{where} is not a database URL; "
                "write it as a SQLAlchemy URL, e.g. mysql+pymysql://user@host/db, "
                "postgresql+psycopg://user@host/db or sqlite:///path/to/file.db"
            )
        user, password = m.group("username"), m.group("password")
        return cls(
            raw=raw.strip(),
            drivername=m.group("name"),
            username=unquote(user) if user is not None else None,
            password=unquote(password) if password is not None else None,
            host=m.group("ipv6host") or m.group("ipv4host"),
            port=int(port) if port else None,
            database=m.group("database") or None,
            query=tuple(parse_qsl(m.group("query") or "", keep_blank_values=True)),
        )

    @property
    def backend(self) -> str:
        return self.drivername.split("+", 1)[0]

    @property
    def masked(self) -> str:
        return self.render(hide_password=True)

    @property
    def sqlite_path(self) -> str | None:
        if self.backend != "sqlite":
            return None
        db = self.database or ""
        return db if db in ("", ":memory:") else os.path.abspath(db)

    def render(self, scheme: str | None = None, hide_password: bool = False) -> str:
        """The URL as text (SQLAlchemy's rendering), under another scheme if given."""
        out = f"{scheme or self.drivername}://"
        if self.username is not None:
            out += quote(self.username, safe=" +")
            if self.password is not None:
                out += ":" + ("***" if hide_password else quote(self.password, safe=" +"))
            out += "@"
        if self.host is not None:
            out += f"[{self.host}]" if ":" in self.host else self.host
        if self.port is not None:
            out += f":{self.port}"
        if self.database is not None:
            out += "/" + self.database
        if self.query:
            out += "?" + "&".join(f"{k}={v}" for k, v in self.query)
        return out


def mask(raw: str) -> str:
    """Mask the password of anything that looks like a URL, even one that does not parse."""
    scheme, sep, rest = raw.partition("://")
    if not sep or "@" not in rest:
        return raw
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user}:***@{host}" if ":" in creds else raw


def mask_in_text(text: str) -> str:
    """Mask every password of a URL inside free text, such as a driver's error message."""
    return re.sub(r"://([^:/@\s]+):[^@/\s]*@", r"://\1:***@", text)
