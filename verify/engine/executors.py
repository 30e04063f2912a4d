"""Where segments run: a pool of threads in this process, or a Dask cluster.

The engine sees one interface, `Executor`; `make_executor` picks the implementation from the
options. Each finished segment writes its own record into the run directory and the totals are
merged from those records, so an executor may run a segment twice (a retry, a worker that died)
without counting it twice.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any, Protocol

from verify.engine.worker import SegmentResult, SegmentTask, run_segment
from verify.errors import RunError, UsageError, VerifyError

Outcome = SegmentResult | BaseException


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
        iteration (after the tasks not started are cancelled)."""

    def describe(self) -> dict[str, Any]:
        """What run.json records about the executor (no credentials)."""

    def close(self) -> None:
        """Let go of what `open` took (a cluster connection)."""


def make_executor(
    kind: str, workers: int, scheduler: str | None = None, max_connections: int | None = None
) -> Executor:
    """The executor the options ask for; a Dask one only where dask.distributed is installed."""
    if kind == "local":
        return LocalExecutor(workers)
    if kind != "dask":
        raise UsageError(f"unknown executor '{kind}'; choose local or dask")
    if not scheduler:
        raise UsageError(
            "--executor dask needs the address of a Dask scheduler: give --scheduler "
            "tcp://HOST:8786 or set VERIFY_DASK_SCHEDULER"
        )
    try:
        from verify.engine.dask_executor import DaskExecutor
    except ImportError as exc:
        if (exc.name or "").split(".")[0] not in ("dask", "distributed"):
            raise
        raise UsageError(
            "--executor dask needs dask.distributed, which is not installed here: "
            "pip install 'verify[dask]' (or use --executor local)"
        ) from None
    return DaskExecutor(scheduler, max_connections)


class LocalExecutor:
    """Segments on a pool of worker threads in this process.

    Threads, not processes: the work is in ConnectorX and Polars, which release the GIL, so
    threads use the cores as well as processes do (see bench/), without paying each process's
    start-up and a copy of the libraries' memory.
    """

    name = "local"

    def __init__(self, workers: int) -> None:
        self.workers = workers

    def open(self, out_dir: str) -> None:
        pass

    @property
    def capacity(self) -> int:
        return self.workers

    def describe(self) -> dict[str, Any]:
        return {"executor": self.name}

    def close(self) -> None:
        pass

    def run(self, tasks: list[SegmentTask]) -> Iterator[tuple[SegmentTask, Outcome]]:
        if self.workers <= 1 or len(tasks) <= 1:
            for task in tasks:
                yield task, guarded(task)
            return
        with ThreadPoolExecutor(min(self.workers, len(tasks)), thread_name_prefix="verify-segment") as pool:
            futures: dict[Future[Outcome], SegmentTask] = {pool.submit(guarded, t): t for t in tasks}
            try:
                for fut in as_completed(futures):
                    yield futures[fut], fut.result()
            except BaseException as exc:
                for fut in futures:
                    fut.cancel()
                if isinstance(exc, KeyboardInterrupt):
                    stopping(sum(1 for f in futures if f.running()))
                raise


def stopping(running: int) -> None:
    """Say, on Ctrl-C, why verify does not stop at once: the segments in flight finish first,
    so that each is written whole and `--resume` can count on it."""
    if running:
        sys.stderr.write(
            f"\nstopping: waiting for the {running} segment(s) being read to finish (they are kept, "
            "and --resume reads the rest)\n"
        )
        sys.stderr.flush()


def guarded(task: SegmentTask) -> Outcome:
    """Run one segment; a failure is returned (and recorded by the run), not raised."""
    try:
        return run_segment(task)
    except VerifyError as exc:
        return exc
    except Exception as exc:  # noqa: BLE001 - a failed segment is recorded, the run goes on
        return RunError(f"{type(exc).__name__}: {exc}")
