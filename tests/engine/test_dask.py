"""`--executor dask` on a real LocalCluster of worker processes: the DFP -> F1 scenario (old in
MariaDB, new in PostgreSQL) gives exactly the local executor's results, also when a worker
process is killed in the middle; the URLs' password never reaches a task key, a repr, the
task stream or a log; a run directory the workers cannot see, and dask missing, are one
clear error each (exit 2).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from click.testing import CliRunner
from interrupts import interrupt_when

from verify.cli import main
from verify.engine.run import DiffOptions, plan_run, run_diff
from verify.engine.worker import RunContext, SegmentTask
from verify.scenario import build

distributed = pytest.importorskip("distributed")

MAPPING = str(Path(__file__).resolve().parents[2] / "mappings" / "dfp_to_f1.yaml")
ROWS = 3000
SEGMENT_ROWS = 250  # a dozen segments of line items, a few of each other entity
RATES = ("dropped=0.005", "duplicated=0.005", "phantom=0.005", "dst_fallback=0.01", "zero_date=0.01")
PASSWORD = "Dask-Secret-7f3a"  # PostgreSQL trusts 127.0.0.1: any password connects


@pytest.fixture(scope="module")
def stores(mysql_db, postgres_db, tmp_path_factory):
    truth = tmp_path_factory.mktemp("truth") / "truth.parquet"
    build(
        "dfp_to_f1",
        old_url=mysql_db.url,
        new_url=postgres_db.url,
        rows=ROWS,
        seed=5,
        truth_path=str(truth),
        rates=RATES,
    )
    return mysql_db.url, postgres_db.url


@pytest.fixture(scope="module")
def cluster():
    """Two worker processes with one thread each, as a small real cluster has."""
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    with distributed.Client(cluster, set_as_default=False) as client:
        yield client


def options(stores, out: Path, **extra) -> DiffOptions:
    old, new = stores
    return DiffOptions(MAPPING, old, new, out_dir=str(out), segment_rows=SEGMENT_ROWS, **extra)


def outcome(run_dir: Path) -> tuple[dict, dict[str, list]]:
    """A run's summary counts per entity and its mismatch records, sorted, per entity."""
    entities = json.loads((run_dir / "summary.json").read_text())["entities"]
    records = {}
    for entity in entities:
        parts = sorted((run_dir / "mismatches" / entity).glob("part-*.parquet"))
        rows = pl.concat([pl.read_parquet(p) for p in parts]).rows() if parts else []
        records[entity] = sorted(rows, key=repr)
    return entities, records


@pytest.fixture(scope="module")
def reference(stores, tmp_path_factory):
    """The local executor's run of the scenario."""
    out = tmp_path_factory.mktemp("local") / "run"
    result = run_diff(options(stores, out, workers=2))
    assert result.status == "complete"
    found = outcome(out)
    assert sum(len(r) for r in found[1].values()) > 50  # the planted defects are there to compare
    return found


def on_servers(test):
    """MariaDB old, PostgreSQL new, and a few seconds of cluster."""
    return pytest.mark.mysql(pytest.mark.postgres(pytest.mark.slow(test)))


@on_servers
def test_dask_gives_the_local_executors_results(stores, cluster, reference, tmp_path):
    out = tmp_path / "run"
    result = run_diff(options(stores, out, executor="dask", scheduler=cluster.scheduler_address))
    assert result.status == "complete" and result.exit_code == 1
    assert outcome(out) == reference
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "complete"
    assert run["options"]["executor"] == "dask"
    assert run["options"]["scheduler"] == cluster.scheduler_address
    assert run["options"]["dask_workers"] == 2
    records = list((out / "segments").glob("*/*.json"))
    assert len(records) == run["segments"]["total"] > 10


@on_servers
def test_a_worker_killed_mid_run_changes_nothing(stores, cluster, client, reference, tmp_path):
    out = tmp_path / "run"
    # Reads are throttled so that the run takes several seconds and a worker dies in the middle.
    slow = options(
        stores, out, executor="dask", scheduler=cluster.scheduler_address, max_rows_per_second=4000
    )
    total = sum(len(p.segments) for p in plan_run(slow)[0])
    box: dict = {}
    runner = threading.Thread(target=lambda: box.update(result=run_diff(slow)))
    runner.start()
    deadline = time.monotonic() + 120
    while len(list(out.glob("segments/*/*.json"))) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    # The victim is a worker busy with a segment: that task dies with it and runs again elsewhere.
    pids = client.run(os.getpid)
    busy = {w: keys for w, keys in client.processing().items() if any("verify-" in str(k) for k in keys)}
    assert busy, "no worker was running a segment"
    victim = pids[sorted(busy)[0]]
    done_at_kill = len(list(out.glob("segments/*/*.json")))
    os.kill(victim, signal.SIGKILL)
    runner.join(timeout=300)
    assert not runner.is_alive()
    assert 3 <= done_at_kill < total  # killed in the middle of the run
    result = box["result"]
    assert result.status == "complete", result.failures
    assert outcome(out) == reference
    client.wait_for_workers(2, timeout=60)  # the nanny started a new worker process
    assert victim not in client.run(os.getpid).values()


@on_servers
def test_ctrl_c_on_dask_leaves_a_run_that_resume_finishes(stores, cluster, reference, tmp_path):
    old, new = stores
    out = tmp_path / "run"
    dask = ["--executor", "dask", "--scheduler", cluster.scheduler_address]
    verify = [sys.executable, "-m", "verify.cli", "diff", "--old", old, "--new", new, *dask]
    args = [*verify, "--mapping", MAPPING, "--out", str(out), "--segment-rows", str(SEGMENT_ROWS)]

    def two_segments_done() -> bool:
        return len(list(out.glob("segments/*/*.json"))) >= 2

    # Slow enough (about 7 s for the whole run) that the run is still reading when the signal
    # comes, also on a loaded machine: at 3,000 rows/s it could end before this test sent it.
    slow = [*args, "--max-rows-per-second", "500"]
    run = interrupt_when(slow, out, two_segments_done, 120, waits=True)
    assert run["segments"]["done"] < run["segments"]["total"], run["segments"]
    # The segments that were running were waited for: nothing writes into the run afterwards.
    records = sorted(out.glob("segments/*/*.json"))
    assert len(records) == run["segments"]["done"], (records, run["segments"])
    time.sleep(1.5)
    assert sorted(out.glob("segments/*/*.json")) == records, "a segment was written after the run ended"

    done = subprocess.run([*verify, "--resume", str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert outcome(out) == reference


@on_servers
def test_the_password_never_reaches_keys_reprs_the_task_stream_or_logs(stores, cluster, client, tmp_path):
    old, new = stores
    secret_new = new.replace("://root@", f"://root:{PASSWORD}@")
    assert PASSWORD in secret_new
    out = tmp_path / "run"
    opts = DiffOptions(
        MAPPING,
        old,
        secret_new,
        out_dir=str(out),
        segment_rows=SEGMENT_ROWS,
        entities=("line_item",),
        executor="dask",
        scheduler=cluster.scheduler_address,
    )
    with distributed.get_task_stream(client) as stream:
        result = run_diff(opts)
    assert result.status == "complete"
    keys = [t["key"] for t in stream.data]
    assert any(str(k).startswith("verify-line_item-") for k in keys)  # the run's tasks were seen
    assert not [k for k in keys if PASSWORD in str(k)]
    assert PASSWORD not in repr(stream.data)
    logs = repr(client.get_scheduler_logs(n=100_000)) + repr(client.get_worker_logs(n=100_000))
    assert "Registering Worker plugin verify-run-" in logs  # the URLs' journey is in these logs
    assert PASSWORD not in logs
    plans = plan_run(opts)[0]
    task = SegmentTask(plans[0], plans[0].segments[0], RunContext({"new": secret_new}, "auto", str(out), {}))
    assert "line_item" in repr(task) and PASSWORD not in repr(task)
    assert PASSWORD not in (out / "run.json").read_text()

    def runs_held() -> int:  # on each worker: the runs whose URLs it holds
        from verify.engine import dask_executor

        return len(dask_executor._SECRETS)

    # Once the run is over, the workers and the scheduler hold the URLs no more.
    assert list(client.run(runs_held).values()) == [0, 0]
    plugins = client.run_on_scheduler(lambda dask_scheduler: list(dask_scheduler.worker_plugins))
    assert "shuffle" in plugins and not [p for p in plugins if p.startswith("verify-run-")]


@on_servers
def test_usage_errors_are_one_clear_message(stores, cluster, tmp_path):
    old, new = stores
    base = ["diff", "--mapping", MAPPING, "--old", old, "--new", new, "--out", str(tmp_path / "run")]
    runner = CliRunner()
    cases = {
        "needs the address of a Dask scheduler": ["--executor", "dask"],
        "give it with --executor dask": ["--scheduler", cluster.scheduler_address],
        "leave --workers out": ["--executor", "dask", "--scheduler", "tcp://h:1", "--workers", "2"],
        "is less than the 2 workers": [
            "--executor",
            "dask",
            "--scheduler",
            cluster.scheduler_address,
            "--max-connections",
            "1",
        ],
    }
    for message, args in cases.items():
        r = runner.invoke(main, [*base, *args], env={"VERIFY_DASK_SCHEDULER": None})
        assert r.exit_code == 2, (args, r.output)
        assert message in r.output and "Traceback" not in r.output
        assert not (tmp_path / "run").exists()  # nothing left behind to trip the next run


@pytest.mark.slow
def test_a_run_directory_the_workers_cannot_see_is_refused(tmp_path):
    """A worker in its own mount namespace sees an empty tmpfs where the run directory is,
    as a worker on another machine without the shared volume would."""
    old, new = f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}"
    build("dfp_to_f1", old_url=old, new_url=new, rows=200, seed=1, truth_path=str(tmp_path / "t.parquet"))
    if subprocess.run(["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs `unshare -m` (root or user namespaces) to give a worker its own filesystem view")
    with distributed.LocalCluster(n_workers=0, processes=True, dashboard_address=":0") as cluster:
        worker = [sys.executable, "-m", "distributed.cli.dask_worker", cluster.scheduler_address]
        blind = subprocess.Popen(
            [
                "unshare",
                "-m",
                "sh",
                "-c",
                f'mount -t tmpfs none "{tmp_path}" && exec "$@"',
                "sh",
                *worker,
                "--nthreads",
                "1",
                "--no-dashboard",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            with distributed.Client(cluster, set_as_default=False) as client:
                client.wait_for_workers(1, timeout=60)
            out = tmp_path / "run"
            args = ["diff", "--mapping", MAPPING, "--old", old, "--new", new, "--out", str(out)]
            r = CliRunner().invoke(
                main, [*args, "--executor", "dask", "--scheduler", cluster.scheduler_address]
            )
        finally:
            blind.terminate()
            blind.wait(timeout=30)
    assert r.exit_code == 2, r.output
    assert f"does not see the run directory {out}" in r.output
    assert "--out must be on storage every worker reaches" in r.output
    assert "Traceback" not in r.output
    assert not out.exists()


BLOCK_DASK = """
import sys

class NoDask:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("dask", "distributed"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, NoDask())
from verify.cli import main
main()
"""


def test_without_dask_installed_the_message_says_what_to_install(tmp_path):
    args = ["diff", "--mapping", MAPPING, "--old", "sqlite:///a.db", "--new", "sqlite:///b.db"]
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            BLOCK_DASK,
            *args,
            "--executor",
            "dask",
            "--scheduler",
            "tcp://127.0.0.1:8786",
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=60,
    )
    assert proc.returncode == 2, proc.stderr
    assert "pip install 'verify[dask]'" in proc.stderr
    assert "Traceback" not in proc.stderr
    # The local executor does not need dask at all.
    local = subprocess.run(
        [sys.executable, "-c", BLOCK_DASK, "diff", "--help"], capture_output=True, text=True, timeout=60
    )
    assert local.returncode == 0 and "--executor [local|dask]" in local.stdout
