"""Keep a diff from loading a live store: at most N reads at a time and R rows a second per source."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


class Throttle:
    """The limits of one source, shared by every worker thread.

    `connections` reads may run at once. With `rows_per_second`, a worker that has just read
    rows waits until the rows read so far fit the rate since the first read, so the average
    rate never goes over it (a single segment is the largest burst).
    """

    def __init__(self, connections: int, rows_per_second: float | None = None) -> None:
        self.connections = connections
        self._slots = threading.BoundedSemaphore(connections)
        self.rows_per_second = rows_per_second
        self._lock = threading.Lock()
        self._start: float | None = None
        self._rows = 0

    @contextmanager
    def connection(self) -> Iterator[None]:
        with self._slots:
            with self._lock:
                if self._start is None:
                    self._start = time.monotonic()
            yield

    def account(self, rows: int) -> None:
        """Count rows just read; wait as long as the rate requires."""
        if not self.rows_per_second:
            return
        with self._lock:
            self._rows += rows
            assert self._start is not None
            due = self._start + self._rows / self.rows_per_second
        wait = due - time.monotonic()
        if wait > 0:
            time.sleep(wait)
