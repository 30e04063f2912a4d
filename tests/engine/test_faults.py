"""Faults on real servers: reading connections killed mid-segment, Ctrl-C, and --resume.

The old side is MariaDB and the new side PostgreSQL; one side's reads are slowed with a sleep
in its query so that another session can kill them while they run. Every run is compared with
an uninterrupted run of the same diff: no row lost, none counted twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest
from interrupts import interrupt_when

from verify.engine.run import DiffOptions, run_diff

pytestmark = [pytest.mark.mysql, pytest.mark.postgres]

ROWS = 40  # ids 1..40; 4 segments of 10 at --segment-rows 10
SLOW_MYSQL = "SELECT id, v FROM t WHERE SLEEP(0.01) = 0"
SLOW_POSTGRES = "SELECT id, v FROM t WHERE pg_sleep(0.01)::text = ''"


@pytest.fixture(scope="module")
def stores(mysql_db, postgres_db):
    """t(id, v) on both sides; new differs at ids 5 (value), 17 (missing) and 33 (value)."""
    rows = [(i, i * 10) for i in range(1, ROWS + 1)]
    mysql_db.execute(
        "CREATE TABLE t (id INT PRIMARY KEY, v INT)",
        "INSERT INTO t VALUES " + ", ".join(f"({i}, {v})" for i, v in rows),
    )
    changed = {5: 51, 33: 331}
    new_rows = [(i, changed.get(i, v)) for i, v in rows if i != 17]
    postgres_db.execute(
        "CREATE TABLE t (id INT PRIMARY KEY, v INT)",
        "INSERT INTO t VALUES " + ", ".join(f"({i}, {v})" for i, v in new_rows),
    )
    return mysql_db, postgres_db


def mapping(tmp_path: Path, old_query: str | None = None, new_query: str | None = None) -> str:
    old = f'{{query: "{old_query}"}}' if old_query else "{table: t}"
    new = f'{{query: "{new_query}"}}' if new_query else "{table: t}"
    path = tmp_path / "m.yaml"
    entity = f"  t:\n    old: {old}\n    new: {new}\n    key: [id]\n    columns: {{v: {{}}}}\n"
    path.write_text("version: 1\nentities:\n" + entity)
    return str(path)


def outcome(run_dir: Path) -> tuple[dict, list[tuple]]:
    """What a run found: the entity's counts and its sorted mismatch records."""
    summary = json.loads((run_dir / "summary.json").read_text())["entities"]["t"]
    counts = {
        k: summary[k]
        for k in ("compared", "matched", "missing_in_new", "value_mismatch_rows", "blocking_rows")
    }
    parts = sorted((run_dir / "mismatches" / "t").glob("*.parquet"))
    records = pl.concat([pl.read_parquet(p) for p in parts]).sort("id").rows() if parts else []
    return counts, records


EXPECTED_COUNTS = {
    "compared": 40,
    "matched": 37,
    "missing_in_new": 1,
    "value_mismatch_rows": 2,
    "blocking_rows": 3,
}


class Killer(threading.Thread):
    """Kills, from its own session, every segment read on its database whose query contains
    `marker` (and, if given, `segment`), up to `times` kills; planning queries are left alone."""

    def __init__(self, db, family: str, marker: str, times: int, segment: str | None = None) -> None:
        super().__init__(daemon=True)
        self.db, self.family, self.marker, self.times, self.segment = db, family, marker, times, segment
        self.killed = 0
        self.stop = threading.Event()

    def run(self) -> None:
        engine = self.db.engine()
        from sqlalchemy import text

        with engine.connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            while not self.stop.is_set() and self.killed < self.times:
                for pid, query in self._sessions(conn, text):
                    if self.killed >= self.times:
                        break
                    query = query or ""
                    segment_read = (
                        "verify_src WHERE" in query and "COUNT(" not in query and "MIN(" not in query
                    )
                    if (
                        segment_read
                        and self.marker in query
                        and (self.segment is None or self.segment in query)
                    ):
                        self._kill(conn, text, pid)
                        self.killed += 1
                time.sleep(0.005)
        engine.dispose()

    def _sessions(self, conn, text) -> list[tuple]:
        # Only sessions on this test's own database: tests on other xdist workers read alike.
        if self.family == "mysql":
            sql = (
                "SELECT ID, INFO FROM information_schema.PROCESSLIST "
                "WHERE ID <> CONNECTION_ID() AND DB = DATABASE()"
            )
        else:
            sql = (
                "SELECT pid, query FROM pg_stat_activity WHERE pid <> pg_backend_pid() "
                "AND state = 'active' AND datname = current_database()"
            )
        return list(conn.execute(text(sql)))

    def _kill(self, conn, text, pid: int) -> None:
        try:
            if self.family == "mysql":
                conn.execute(text(f"KILL {int(pid)}"))
            else:
                conn.execute(text(f"SELECT pg_terminate_backend({int(pid)})"))
        except Exception:  # noqa: BLE001 - the session may have ended on its own meanwhile
            pass


def diff(tmp_path: Path, stores, name: str, mapping_path: str, **extra) -> tuple:
    mysql_db, postgres_db = stores
    out = tmp_path / name
    options = DiffOptions(
        mapping_path, mysql_db.url, postgres_db.url, out_dir=str(out), workers=2, segment_rows=10
    )
    for key, value in extra.items():
        options = DiffOptions(**{**options.__dict__, key: value})
    return run_diff(options), out


@pytest.fixture()
def quick_retries(monkeypatch):
    monkeypatch.setenv("VERIFY_RETRY_DELAYS", "0.05,0.05,0.05")


@pytest.mark.parametrize("family", ["mysql", "postgres"])
def test_a_killed_read_is_retried_and_nothing_is_lost(tmp_path, stores, quick_retries, family):
    slow = {"old_query": SLOW_MYSQL} if family == "mysql" else {"new_query": SLOW_POSTGRES}
    marker = "SLEEP(0.01)" if family == "mysql" else "pg_sleep(0.01)"
    m = mapping(tmp_path, **slow)
    killer = Killer(stores[0] if family == "mysql" else stores[1], family, marker, times=2)
    killer.start()
    result, out = diff(tmp_path, stores, "run", m)
    killer.stop.set()
    killer.join()
    assert killer.killed == 2  # two reads were cut in the middle
    failed = json.loads((out / "run.json").read_text())["segments"]["failed"]
    assert result.status == "complete" and result.exit_code == 1, failed
    assert outcome(out)[0] == EXPECTED_COUNTS
    assert outcome(out) == outcome(diff(tmp_path, stores, "reference", mapping(tmp_path))[1])


def test_a_segment_that_keeps_failing_leaves_a_partial_run_that_resume_finishes(
    tmp_path, stores, quick_retries
):
    m = mapping(tmp_path, old_query=SLOW_MYSQL)
    # Every read of the segment [21, 31) is killed, however often it is retried.
    killer = Killer(stores[0], "mysql", "SLEEP(0.01)", times=10_000, segment=">= 21")
    killer.start()
    result, out = diff(tmp_path, stores, "run", m)
    killer.stop.set()
    killer.join()
    assert result.status == "partial" and result.exit_code == 3
    assert len(result.failures) == 1 and "segment 2" in result.failures[0]
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "partial" and run["segments"]["done"] == 3
    finished = {p.name: p.stat().st_mtime_ns for p in (out / "segments" / "t").glob("*.json")}
    assert sorted(finished) == ["000000.json", "000001.json", "000003.json"]

    resumed, _ = diff(tmp_path, stores, "run", m, resume=True)
    assert resumed.status == "complete" and resumed.exit_code == 1
    # Finished segments were not read again: their records are untouched.
    for name, mtime in finished.items():
        assert (out / "segments" / "t" / name).stat().st_mtime_ns == mtime
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert outcome(out) == outcome(diff(tmp_path, stores, "reference", mapping(tmp_path))[1])
    assert outcome(out)[0] == EXPECTED_COUNTS


@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_leaves_a_resumable_run_and_exits_130(tmp_path, stores, workers):
    mysql_db, postgres_db = stores
    m = mapping(tmp_path, old_query=SLOW_MYSQL.replace("0.01", "0.05"))
    out = tmp_path / "run"
    verify = [sys.executable, "-m", "verify.cli", "diff", "--old", mysql_db.url, "--new", postgres_db.url]
    rows = "10" if workers == 1 else "4"  # more segments than workers: some are not started
    args = [*verify, "--mapping", m, "--out", str(out), "--workers", str(workers), "--segment-rows", rows]
    records = out / "segments" / "t"
    ready = lambda: records.is_dir() and any(records.glob("*.json"))  # noqa: E731
    run = interrupt_when(args, out, ready, 60, waits=workers > 1)
    assert 1 <= run["segments"]["done"] < run["segments"]["total"]

    done = subprocess.run([*verify, "--resume", str(out)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert outcome(out)[0] == EXPECTED_COUNTS


def test_a_run_is_resumed_only_with_its_own_mapping_and_stores(tmp_path, stores, quick_retries):
    mysql_db, postgres_db = stores
    m = mapping(tmp_path, old_query=SLOW_MYSQL)
    killer = Killer(mysql_db, "mysql", "SLEEP(0.01)", times=10_000, segment=">= 21")
    killer.start()
    _, out = diff(tmp_path, stores, "run", m)
    killer.stop.set()
    killer.join()
    env = {**os.environ, "VERIFY_OLD_URL": mysql_db.url, "VERIFY_NEW_URL": postgres_db.url}
    resume = [sys.executable, "-m", "verify.cli", "diff", "--resume", str(out)]

    other = subprocess.run(
        [*resume, "--new", postgres_db.url.rsplit("/", 1)[0] + "/postgres"],
        capture_output=True,
        text=True,
        env=env,
    )
    assert other.returncode == 2 and "resume it with the same stores" in other.stderr

    Path(m).write_text(Path(m).read_text() + "\n# edited\n")
    changed = subprocess.run(resume, capture_output=True, text=True, env=env)
    assert changed.returncode == 2 and "changed since the run" in changed.stderr

    nothing = subprocess.run([*resume[:-1], str(tmp_path / "nope")], capture_output=True, text=True, env=env)
    assert nothing.returncode == 2 and "not a run directory" in nothing.stderr
    assert "Traceback" not in other.stderr + changed.stderr + nothing.stderr


# --- sparing a live store: connections and rows per second ---------------------------------------


class Watcher(threading.Thread):
    """Counts, from its own session, the most segment reads running at once on MariaDB."""

    def __init__(self, db, marker: str) -> None:
        super().__init__(daemon=True)
        self.db, self.marker, self.most = db, marker, 0
        self.stop = threading.Event()

    def run(self) -> None:
        from sqlalchemy import text

        engine = self.db.engine()
        with engine.connect() as conn:
            while not self.stop.is_set():
                rows = conn.execute(text("SELECT INFO FROM information_schema.PROCESSLIST")).scalars().all()
                running = [
                    q for q in rows if q and self.marker in q and "verify_src WHERE" in q and "MIN(" not in q
                ]
                self.most = max(self.most, len(running))
                time.sleep(0.005)
        engine.dispose()


@pytest.mark.parametrize(("limit", "most"), [(1, 1), (4, 4)])
def test_max_connections_bounds_the_reads_at_once_per_store(tmp_path, stores, limit, most):
    m = mapping(tmp_path, old_query=SLOW_MYSQL.replace("0.01", "0.03"))
    watcher = Watcher(stores[0], "SLEEP(0.03)")
    watcher.start()
    result, out = diff(tmp_path, stores, "run", m, workers=4, max_connections=limit)
    watcher.stop.set()
    watcher.join()
    assert watcher.most == most  # 4 segments, 4 workers: all at once unless limited
    assert outcome(out)[0] == EXPECTED_COUNTS
    assert json.loads((out / "run.json").read_text())["options"]["max_connections"] == limit


def test_max_rows_per_second_holds_on_average(tmp_path, stores):
    start = time.monotonic()
    result, out = diff(tmp_path, stores, "run", mapping(tmp_path), max_rows_per_second=20.0)
    elapsed = time.monotonic() - start
    # 40 rows a side at 20 rows/s: the first segment (10 rows) may come at once, the rest
    # only as the rate allows, so at least 30 / 20 = 1.5 s. Unthrottled this takes ~0.3 s.
    assert elapsed >= 1.5
    assert outcome(out)[0] == EXPECTED_COUNTS


# --- the network cut by a proxy in the middle of a segment --------------------------------------


class CuttingProxy(threading.Thread):
    """A TCP proxy to a database server that cuts, once, the first connection to carry more
    than `after` bytes from the server: a segment read, not a planning query."""

    def __init__(self, port: int, after: int) -> None:
        super().__init__(daemon=True)
        import socket

        self.target, self.after, self.cuts = ("127.0.0.1", port), after, 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.lock = threading.Lock()

    def run(self) -> None:
        import socket

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            threading.Thread(target=self.pipe, args=(client, upstream, False), daemon=True).start()
            threading.Thread(target=self.pipe, args=(upstream, client, True), daemon=True).start()

    def pipe(self, src, dst, from_server: bool) -> None:
        import socket

        sent = 0
        try:
            while data := src.recv(65536):
                dst.sendall(data)
                sent += len(data)
                if from_server and sent > self.after:
                    with self.lock:
                        cut, self.cuts = self.cuts == 0, self.cuts + 1 if self.cuts == 0 else self.cuts
                    if cut:
                        for s in (src, dst):
                            s.shutdown(socket.SHUT_RDWR)
                        return
        except OSError:
            pass
        finally:
            self.most = max(getattr(self, "most", 0), sent)
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.close()

    def close(self) -> None:
        self.server.close()


@pytest.fixture(scope="module")
def big_stores(mysql_db, postgres_db):
    """big(id, s) with 20,000 rows of 40-byte strings on both sides; new differs at id 777."""
    for db in (mysql_db, postgres_db):
        db.execute("DROP TABLE IF EXISTS big", "CREATE TABLE big (id INT PRIMARY KEY, s VARCHAR(64))")
    for start in range(1, 20_001, 5000):
        values = ", ".join(f"({i}, '{'x' * 36}{i:04d}')" for i in range(start, start + 5000))
        mysql_db.execute(f"INSERT INTO big VALUES {values}")
        postgres_db.execute(f"INSERT INTO big VALUES {values}")
    postgres_db.execute("UPDATE big SET s = 'changed' WHERE id = 777")
    return mysql_db, postgres_db


@pytest.mark.parametrize("side", ["old", "new"])
def test_a_connection_cut_mid_segment_by_the_network_is_retried(tmp_path, big_stores, quick_retries, side):
    mysql_db, postgres_db = big_stores
    port = 3306 if side == "old" else 5432
    # A 10,000-row segment is ~500 kB on the wire; a new ADBC session first loads the server's
    # type catalogue (~175 kB), which is no segment read.
    proxy = CuttingProxy(port, after=300_000)
    proxy.start()
    urls = {"old": mysql_db.url, "new": postgres_db.url}
    urls[side] = urls[side].replace(f"127.0.0.1:{port}", f"127.0.0.1:{proxy.port}")
    if side == "old":  # else the MySQL client of ConnectorX switches to the server's Unix socket
        urls[side] += "?prefer_socket=false"
    m = tmp_path / "big.yaml"
    m.write_text(
        "version: 1\nentities:\n  big:\n    old: {table: big}\n    new: {table: big}\n    key: [id]\n"
    )
    out = tmp_path / "run"
    # verify runs as a process of its own: a driver may hold the GIL while it waits on the
    # network, which this proxy, a thread of the test's process, must carry.
    verify = [sys.executable, "-m", "verify.cli", "diff", "--mapping", str(m), "--out", str(out)]
    argv = [*verify, "--old", urls["old"], "--new", urls["new"], "--workers", "2", "--segment-rows", "10000"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    proxy.close()
    assert proxy.cuts >= 1, getattr(proxy, "most", None)
    assert proc.returncode == 1, proc.stderr
    summary = json.loads((out / "summary.json").read_text())
    assert summary["status"] == "complete"
    big = summary["entities"]["big"]
    assert (big["compared"], big["matched"], big["value_mismatch_rows"]) == (20_000, 19_999, 1)
    assert pl.read_parquet(out / "mismatches" / "big" / "*.parquet")["id"].to_list() == [777]


def test_a_rust_panic_in_a_segment_fails_that_segment_not_the_run(monkeypatch):
    # A panic in Polars (or ConnectorX) is a BaseException, past `except Exception`: it once
    # ended `verify diff` with a traceback. Here a real one, from Polars, in place of a segment.
    import polars as pl

    from verify.engine import executor_base
    from verify.errors import RunError

    def panics(task):  # noqa: ANN001, ANN202
        return pl.select(pl.lit(9 * 10**18).cast(pl.Datetime("us")).dt.to_string("%Y"))

    monkeypatch.setattr(executor_base, "run_segment", panics)
    outcome = executor_base.guarded(None)  # type: ignore[arg-type]
    assert isinstance(outcome, RunError)
    assert "a Rust panic" in str(outcome) and "out-of-range datetime" in str(outcome)

    def interrupted(task):  # noqa: ANN001, ANN202
        raise KeyboardInterrupt

    monkeypatch.setattr(executor_base, "run_segment", interrupted)
    with pytest.raises(KeyboardInterrupt):  # Ctrl-C still stops the run
        executor_base.guarded(None)  # type: ignore[arg-type]
