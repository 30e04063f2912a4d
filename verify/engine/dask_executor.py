"""Segments as tasks on a dask.distributed cluster (`verify diff --executor dask`).

Only imported when a Dask executor is asked for: dask is an optional extra (verify[dask]).

- Workers read their segments from both stores themselves and write the mismatch parts and
  segment records straight into the run directory, which must be on storage every worker
  reaches; `open` checks that each worker sees a marker file written here.
- Credentials travel once per worker, in a worker plugin (`_RunSecrets`) that puts the URLs
  into a registry of the worker process under a random token. Tasks carry only the token: the
  URLs are never in a task's key, arguments or repr, so never in the scheduler's task list,
  its logs or the dashboard. A worker that joins later (or replaces one that died) gets the
  plugin from the scheduler before it runs a task.
- Limits (--max-connections, --max-rows-per-second) are for the whole cluster: each worker
  process gets an equal share of them (its own Throttle) for the workers present at the start.
- A task that runs twice (Dask retries it, or its worker died) writes the same part and the
  same record again; the totals are merged from the records, so it is counted once.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import secrets
import time
from collections.abc import Iterator
from typing import Any

from distributed import Client, WorkerPlugin, as_completed

from verify import __version__
from verify.engine.executor_base import OnStop, Outcome, guarded, stopping
from verify.engine.plan import EntityPlan
from verify.engine.throttle import Throttle
from verify.engine.worker import RunContext, SegmentTask
from verify.errors import RunDirError, RunError, UsageError

CONNECT_TIMEOUT = 15  # seconds to reach the scheduler
WORKERS_TIMEOUT = 60  # seconds to wait for a first worker to join
RETRIES = 2  # Dask's own retries of a task that raised; a dead worker's tasks are rescheduled anyway

# Worker side: token -> (URLs by side, this process's throttles by side); filled by _RunSecrets.
_SECRETS: dict[str, tuple[dict[str, str], dict[str, Throttle]]] = {}


class _RunSecrets(WorkerPlugin):
    """Gives each worker process the run's URLs and its share of the limits, under a token."""

    def __init__(self, token: str, urls: dict[str, str], limits: dict[str, tuple[int, float | None]]) -> None:
        self.token, self._urls, self._limits = token, dict(urls), dict(limits)

    def __repr__(self) -> str:
        return f"<verify run secrets {self.token}>"

    def setup(self, worker: Any) -> None:
        throttles = {side: Throttle(c, r) for side, (c, r) in self._limits.items()}
        _SECRETS[self.token] = (dict(self._urls), throttles)

    def teardown(self, worker: Any) -> None:
        _SECRETS.pop(self.token, None)


def _run_on_worker(token: str, task: SegmentTask) -> Outcome:
    """The Dask task: one segment, with the URLs and throttles of this worker process."""
    found = _SECRETS.get(token)
    if found is None:
        return RunError(
            "this Dask worker did not receive the run's connection details (see the worker's log "
            "for a failed plugin 'verify-run-…')"
        )
    urls, throttles = found
    local = dataclasses.replace(task, run=dataclasses.replace(task.run, urls=urls, throttles=throttles))
    outcome = guarded(local)
    if isinstance(outcome, BaseException):  # any error comes back as a plain, picklable RunError
        return RunError(str(outcome))
    return outcome


def _executing(suffix: str, dask_worker: Any = None) -> int:
    """On a worker: how many of a batch's tasks are running (also when cancelled meanwhile)."""
    return sum(1 for ts in dask_worker.state.executing if str(ts.key).endswith(suffix))


def _check_worker(marker: str, token: str) -> tuple[str, str | None]:
    """On a worker: (its verify version, a problem with the run directory or None)."""
    folder = os.path.dirname(marker)
    try:
        with open(marker, encoding="utf-8") as fh:
            seen = fh.read()
    except OSError:
        seen = None
    if seen != token:
        return __version__, f"does not see the run directory {folder}"
    probe = f"{marker}.{secrets.token_hex(4)}"
    try:
        with open(probe, "w", encoding="utf-8") as fh:
            fh.write(token)
        os.remove(probe)
    except OSError as exc:
        return __version__, f"cannot write into the run directory {folder} ({exc.strerror})"
    return __version__, None


class DaskExecutor:
    """Segments as tasks on an existing dask.distributed cluster, reached at `scheduler`."""

    name = "dask"

    def __init__(
        self, scheduler: str, max_connections: int | None = None, on_stop: OnStop | None = None
    ) -> None:
        self.scheduler = scheduler
        self.max_connections = max_connections
        self.on_stop = on_stop
        self.client: Client | None = None
        self.workers = 0
        self.threads = 0
        self._shipped: dict[tuple[Any, ...], str] = {}  # run's URLs and limits -> token
        self._plugins: list[str] = []

    def open(self, out_dir: str) -> None:
        """Connect, wait for a worker, and check that every worker can use the run directory."""
        try:
            self.client = Client(self.scheduler, timeout=f"{CONNECT_TIMEOUT}s", set_as_default=False)
        except (OSError, TimeoutError, ValueError) as exc:
            raise UsageError(
                f"cannot reach the Dask scheduler at {self.scheduler} ({type(exc).__name__}: {exc}); "
                "check --scheduler / VERIFY_DASK_SCHEDULER (e.g. tcp://HOST:8786)"
            ) from None
        try:
            self.client.wait_for_workers(1, timeout=WORKERS_TIMEOUT)
        except TimeoutError:
            self.close()
            raise UsageError(
                f"the Dask cluster at {self.scheduler} has no workers (waited {WORKERS_TIMEOUT} s); "
                "start some (dask worker tcp://…) or scale the cluster up"
            ) from None
        workers = self.client.scheduler_info(n_workers=-1)["workers"]
        self.workers = len(workers)
        self.threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
        if self.max_connections is not None and self.max_connections < self.workers:
            self.close()
            raise UsageError(
                f"--max-connections {self.max_connections} is less than the {self.workers} workers of the "
                f"Dask cluster at {self.scheduler}; the limit is shared among the workers and each needs "
                f"one: give at least {self.workers}, or run on fewer workers"
            )
        self._check_run_dir(os.path.abspath(out_dir))

    def _check_run_dir(self, out_dir: str) -> None:
        assert self.client is not None
        token = secrets.token_hex(8)
        marker = os.path.join(out_dir, f".verify-shared-{token}")
        with open(marker, "w", encoding="utf-8") as fh:
            fh.write(token)
        try:
            answers = self.client.run(_check_worker, marker, token)
        except Exception as exc:  # noqa: BLE001 - whatever a worker cannot do, it is said once
            self.close()
            raise UsageError(
                f"the Dask workers at {self.scheduler} cannot run verify ({type(exc).__name__}: {exc}); "
                f"install verify {__version__} with the same Python packages on every worker"
            ) from None
        finally:
            with contextlib.suppress(OSError):
                os.remove(marker)
        other = sorted({(w, v) for w, (v, _) in answers.items() if v != __version__})
        if other:
            self.close()
            raise UsageError(
                f"the Dask worker {other[0][0]} runs verify {other[0][1]}, this client {__version__}; "
                "install the same version everywhere"
            )
        blind = sorted((w, problem) for w, (_, problem) in answers.items() if problem)
        if blind:
            self.close()
            more = f" (and {len(blind) - 1} more workers)" if len(blind) > 1 else ""
            raise RunDirError(
                f"the Dask worker {blind[0][0]} {blind[0][1]}{more}: on a cluster, --out must be on "
                "storage every worker reaches at the same path (NFS, a shared volume)"
            )

    @property
    def capacity(self) -> int:
        return max(self.threads, 1)

    def describe(self) -> dict[str, Any]:
        return {
            "executor": self.name,
            "scheduler": self.scheduler,
            "dask_workers": self.workers,
            "dask_threads": self.threads,
        }

    def run(self, tasks: list[SegmentTask]) -> Iterator[tuple[SegmentTask, Outcome]]:
        if not tasks:
            return
        assert self.client is not None, "open() the executor first"
        token = self._ship(tasks[0].run)
        batch = secrets.token_hex(4)  # a rerun of the same segments (a recheck) gets new keys
        plans: dict[str, EntityPlan] = {}
        public: dict[int, RunContext] = {}
        shipped = []
        for task in tasks:
            # Without the URLs and locks; and without the plan's list of every segment.
            plan = plans.setdefault(task.plan.name, dataclasses.replace(task.plan, segments=()))
            run = public.setdefault(id(task.run), _public(task.run))
            shipped.append(SegmentTask(plan, task.segment, run))
        keys = [f"verify-{t.plan.name}-{t.segment.index}-{batch}" for t in tasks]
        futures = self.client.map(_run_on_worker, [token] * len(tasks), shipped, key=keys, retries=RETRIES)
        by_key = {f.key: t for f, t in zip(futures, tasks, strict=True)}
        finished = as_completed(futures, loop=self.client.loop)
        try:
            for fut in finished:
                task = by_key[fut.key]
                try:
                    outcome = fut.result()
                except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker: the segment failed
                    outcome = RunError(f"the Dask task {fut.key} failed: {type(exc).__name__}: {exc}")
                fut.release()
                yield task, outcome
        except BaseException as exc:  # Ctrl-C, or the caller stopped early
            # As the local pool does: the segments not started are dropped, those running are
            # waited for, so that nothing writes into the run directory after the run ends.
            with contextlib.suppress(Exception):
                finished.clear()
                self.client.cancel(futures)
                told = not isinstance(exc, KeyboardInterrupt)  # a caller that stops hears nothing
                while running := sum(self.client.run(_executing, f"-{batch}").values()):
                    if not told:
                        stopping(running, self.on_stop)
                        told = True
                    time.sleep(0.1)
            raise

    def _ship(self, run: RunContext) -> str:
        """Register the run's URLs and per-worker limits with the cluster once; their token."""
        assert self.client is not None
        limits = {
            side: (
                max(1, t.connections // self.workers),
                t.rows_per_second / self.workers if t.rows_per_second else None,
            )
            for side, t in run.throttles.items()
        }
        identity = (tuple(sorted(run.urls.items())), tuple(sorted(limits.items())))
        if identity not in self._shipped:
            token = secrets.token_hex(8)
            name = f"verify-run-{token}"
            self.client.register_plugin(_RunSecrets(token, run.urls, limits), name=name)
            self._plugins.append(name)
            self._shipped[identity] = token
        return self._shipped[identity]

    def close(self) -> None:
        """Take the URLs off the workers and the scheduler, and disconnect."""
        if self.client is None:
            return
        for name in self._plugins:
            with contextlib.suppress(Exception):
                self.client.unregister_worker_plugin(name)
        self._plugins.clear()
        self._shipped.clear()
        with contextlib.suppress(Exception):
            self.client.close()
        self.client = None


def _public(run: RunContext) -> RunContext:
    """The run context as it travels: no URLs, no locks, an absolute run directory."""
    return dataclasses.replace(run, urls={}, throttles={}, out_dir=os.path.abspath(run.out_dir))
