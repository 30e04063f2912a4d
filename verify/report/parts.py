"""Reading a run's mismatch Parquet parts lazily, with one clear error for a corrupt part."""

from __future__ import annotations

from typing import Any

from verify.errors import RunDirError


def scan_parts(parts: list[str]) -> Any:
    """A lazy scan of an entity's mismatch parts; a corrupt part is one clear RunDirError."""
    import polars as pl

    try:
        return pl.scan_parquet(parts)
    except Exception as exc:  # noqa: BLE001
        raise RunDirError(
            f"cannot read the mismatch parts {parts[0]}…: {exc}; run verify diff again"
        ) from None


def collect(lf: Any, what: str) -> Any:
    """Collect a lazy frame with the streaming engine; a corrupt part is one clear RunDirError."""
    try:
        return lf.collect(engine="streaming")
    except Exception as exc:  # noqa: BLE001 - Polars raises several kinds for a bad file
        raise RunDirError(f"cannot read the mismatch parts of {what}: {exc}; run verify diff again") from None
