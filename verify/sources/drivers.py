"""Plain driver connections (PyMySQL, psycopg) for probing sources and loading scenarios."""

from __future__ import annotations

from typing import Any

from verify.errors import SourceError
from verify.sources.urls import SourceURL, mask_in_text


def connect(url: SourceURL, timeout: int, answer_timeout: bool = False, **options: Any) -> Any:
    """A DB-API connection to a MySQL/MariaDB or PostgreSQL URL; a failure is one SourceError.

    `timeout` bounds the TCP connect. With `answer_timeout`, every read and write of the
    session is bounded too: a host that accepts the connection but never greets (a hung
    server, a firewall or proxy that swallows packets) fails after `timeout` seconds instead
    of hanging. libpq's connect_timeout already covers the whole PostgreSQL handshake.
    """
    args = url.connect_args()
    try:
        if url.family == "mysql":
            import pymysql

            if answer_timeout:
                options = {"read_timeout": timeout, "write_timeout": timeout, **options}
            return pymysql.connect(**args, connect_timeout=timeout, **options)
        import psycopg

        return psycopg.connect(**args, connect_timeout=timeout, **options)
    except ImportError as exc:
        raise SourceError(f"{url.masked}: its driver is not installed ({exc.name}); pip install it") from None
    except Exception as exc:  # noqa: BLE001 - each driver has its own error tree; all mean "cannot connect"
        reason = _reason(exc)
        if _timed_out(exc, reason):
            raise SourceError(
                f"cannot connect to {url.masked}: no answer within {timeout} s ({reason}); check the "
                "host and port in the URL, and that the server runs and a firewall lets you through",
                url.masked,
            ) from None
        raise SourceError(
            f"cannot connect to {url.masked}: {reason}; check the host, port, user, password and "
            "database in the URL",
            url.masked,
        ) from None


def _timed_out(exc: BaseException, reason: str) -> bool:
    """Whether the driver gave up waiting (PyMySQL: 'timed out'; libpq: 'timeout expired')."""
    if isinstance(exc, TimeoutError) or isinstance(exc.__context__, TimeoutError):
        return True
    return "timed out" in reason or "timeout expired" in reason


def _reason(exc: BaseException) -> str:
    """The driver's own words, on one line (PyMySQL puts them last in args)."""
    args = getattr(exc, "args", ())
    text = str(args[-1] if args and not isinstance(args[-1], Exception) else exc).strip()
    return mask_in_text(text.splitlines()[0]) if text else type(exc).__name__
