"""Settings that tune how long verify waits, from the environment.

    VERIFY_RETRY_DELAYS   seconds before each new attempt of a read that failed on a transient
                          error (a lost connection, a restarting server, a timeout), comma
                          separated; default 0.5,2,5 (three more attempts); "" for none
    VERIFY_PROBE_TIMEOUT  seconds a source has to answer the first connection; default 5

A bad value is one clear error naming the variable.
"""

from __future__ import annotations

import math
import os

from verify.errors import UsageError

RETRY_DELAYS = (0.5, 2.0, 5.0)
PROBE_TIMEOUT = 5


def _seconds(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 <= value < 3600:
        raise UsageError(
            f"{name}={os.environ.get(name)!r}: each value must be a number of seconds from 0 to 3600"
        )
    return value


def retry_delays() -> tuple[float, ...]:
    text = os.environ.get("VERIFY_RETRY_DELAYS")
    if text is None:
        return RETRY_DELAYS
    return tuple(_seconds("VERIFY_RETRY_DELAYS", part) for part in text.split(",") if part.strip())


def probe_timeout() -> int:
    text = os.environ.get("VERIFY_PROBE_TIMEOUT")
    return PROBE_TIMEOUT if text is None else max(1, math.ceil(_seconds("VERIFY_PROBE_TIMEOUT", text)))
