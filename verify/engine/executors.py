"""Where segments run: a pool of threads in this process, or a Dask cluster.

The engine sees one interface, `Executor` (executor_base.py); `make_executor` picks the
implementation from the options. Each finished segment writes its own record into the run
directory and the totals are merged from those records, so an executor may run a segment twice
(a retry, a worker that died) without counting it twice.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from typing import Any

from verify.engine.executor_base import Executor, OnStop, Outcome, guarded, stopping
from verify.engine.worker import SegmentTask
from verify.errors import UsageError


def make_executor(
    kind: str,
    workers: int,
    scheduler: str | None = None,
    max_connections: int | None = None,
    on_stop: OnStop | None = None,
) -> Executor:
    """The executor the options ask for; a Dask one only where dask.distributed is installed.

    `on_stop` is told, on Ctrl-C, how many segments in flight the executor waits for.
    """
    if kind == "local":
        return LocalExecutor(workers, on_stop)
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
    return DaskExecutor(scheduler, max_connections, on_stop)


class LocalExecutor:
    """Segments on a pool of worker threads in this process.

    Threads, not processes: the work is in ConnectorX and Polars, which release the GIL, so
    threads use the cores as well as processes do (see bench/), without paying each process's
    start-up and a copy of the libraries' memory.
    """

    name = "local"

    def __init__(self, workers: int, on_stop: OnStop | None = None) -> None:
        self.workers = workers
        self.on_stop = on_stop

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
                    stopping(sum(1 for f in futures if f.running()), self.on_stop)
                raise
