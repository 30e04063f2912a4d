"""Plain driver connections: one clear SourceError for every way a connection can fail.

The dialects say which driver and which arguments; this module says what went wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from verify.errors import SourceError
from verify.sources.urls import SourceURL, mask_in_text


def connecting(
    url: SourceURL, timeout: int, open_connection: Callable[[], Any], passes_parameters: bool = False
) -> Any:
    """Open a connection with `open_connection`; a failure is one SourceError naming the fix.

    `passes_parameters`: the connection is given the URL's parameters (libpq through ADBC is;
    the plain drivers' probes are not), so a failure may be one of them, and the fix names them."""
    try:
        return open_connection()
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
        fix = "check the host, port, user, password and database in the URL"
        if passes_parameters and url.query:
            fix += f", and its parameters ({', '.join(name for name, _ in url.query)})"
        raise SourceError(f"cannot connect to {url.masked}: {reason}; {fix}", url.masked) from None


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


def probe_sqlalchemy(url: SourceURL) -> None:
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
            return
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
