"""What a run tells about its progress while it reads segments: events for a display to draw.

The engine only sends them, to `DiffOptions.on_progress`; the CLI draws them on the terminal
(verify.report.terminal.ProgressDisplay).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SegmentsRead:
    """How far the run's reads are: `done` of the `total` segments this run reads (those a resumed
    run finished earlier are in neither) have been read whole, `rows` rows (both sides) by them.

    Sent as the reads start (done 0), after each segment read whole (not after a failed one),
    and once as they end (`ended`; also after Ctrl-C).
    """

    done: int
    total: int
    rows: int
    ended: bool = False


@dataclass(frozen=True)
class Stopping:
    """Ctrl-C: the run waits for the `in_flight` segments being read; they are kept, and
    `--resume` reads the rest."""

    in_flight: int


ProgressEvent = SegmentsRead | Stopping
OnProgress = Callable[[ProgressEvent], None]
