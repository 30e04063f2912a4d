"""Plain driver connections (PyMySQL, psycopg) for probing sources and loading scenarios."""

from __future__ import annotations

from typing import Any

from verify.errors import SourceError
from verify.sources.urls import SourceURL, mask_in_text


def connect(url: SourceURL, timeout: int, **options: Any) -> Any:
    """A DB-API connection to a MySQL/MariaDB or PostgreSQL URL; a failure is one SourceError."""
    args = url.connect_args()
    try:
        if url.family == "mysql":
            import pymysql

            return pymysql.connect(**args, connect_timeout=timeout, **options)
        import psycopg

        return psycopg.connect(**args, connect_timeout=timeout, **options)
    except ImportError as exc:
        raise SourceError(f"{url.masked}: its driver is not installed ({exc.name}); pip install it") from None
    except Exception as exc:  # noqa: BLE001 - each driver has its own error tree; all mean "cannot connect"
        raise SourceError(
            f"cannot connect to {url.masked}: {_reason(exc)}; check the host, port, user, password and "
            "database in the URL",
            url.masked,
        ) from None


def _reason(exc: BaseException) -> str:
    """The driver's own words, on one line (PyMySQL puts them last in args)."""
    args = getattr(exc, "args", ())
    text = str(args[-1] if args and not isinstance(args[-1], Exception) else exc).strip()
    return mask_in_text(text.splitlines()[0]) if text else type(exc).__name__
