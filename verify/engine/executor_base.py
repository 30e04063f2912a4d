"""What every executor shares: the `Executor` interface, a segment's outcome, and how a segment
runs and how Ctrl-C is told, the same on a thread of this process and on a Dask worker.

The executors (executors.py, dask_executor.py) import this module; it imports neither.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

from verify.engine.worker import SegmentResult, SegmentTask, run_segment
from verify.errors import RunError, VerifyError

Outcome = SegmentResult | BaseException

# Told, on Ctrl-C, how many segments being read the run waits for (the run shows it, see
# verify.engine.progress.Stopping); an executor is given one when it is made.
OnStop = Callable[[int], None]


class Executor(Protocol):
    """Runs segment tasks and yields each with its result (or the error it ended with)."""

    name: str

    def open(self, out_dir: str) -> None:
        """Get ready to write into the run directory `out_dir` (it exists); bad input raises."""

    @property
    def capacity(self) -> int:
        """How many segments run at once (the default number of reads per store)."""

    def run(self, tasks: list[SegmentTask]) -> Iterator[tuple[SegmentTask, Outcome]]:
        """Run the tasks; yield each as it finishes. KeyboardInterrupt propagates out of the
        iteration (after the tasks not started are cancelled and those running have finished;
        `stopping` tells how many those are). The same holds for a KeyboardInterrupt the
        caller throws in, and close() cancels and waits alike without telling: the run's loop
        relies on both (verify.engine.run._execute)."""

    def describe(self) -> dict[str, Any]:
        """What run.json records about the executor (no credentials)."""

    def close(self) -> None:
        """Let go of what `open` took (a cluster connection)."""


def stopping(running: int, on_stop: OnStop | None) -> None:
    """Tell, on Ctrl-C, why verify does not stop at once: the segments in flight finish first,
    so that each is written whole and `--resume` can count on it."""
    if running and on_stop is not None:
        on_stop(running)


def guarded(task: SegmentTask) -> Outcome:
    """Run one segment; a failure is returned (and recorded by the run), not raised."""
    try:
        return run_segment(task)
    except VerifyError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - a failed segment is recorded, the run goes on
        return RunError(f"{type(exc).__name__}: {exc}")
    except BaseException as exc:
        # A panic in a Rust library (Polars, ConnectorX) is a BaseException, so that `except
        # Exception` lets it through; each library has its own class of that name.
        if type(exc).__name__ != "PanicException":
            raise
        return RunError(f"a library verify reads with failed (a Rust panic): {exc}")
