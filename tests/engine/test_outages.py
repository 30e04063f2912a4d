"""Outages in the middle of a run, for real: the MariaDB server restarted (its daemon stopped and
started again), and the run directory's file system filling up. Each run must end with exactly
the rows an uninterrupted run finds: nothing lost, nothing counted twice.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import polars as pl
import pytest

from verify.engine.run import DiffOptions, run_diff

ROWS = 3000


def outcome(run_dir: Path) -> tuple[dict, list]:
    """What a run found: the entity's counts and its sorted mismatch records."""
    summary = json.loads((run_dir / "summary.json").read_text())["entities"]["t"]
    counts = {k: summary[k] for k in ("compared", "matched", "missing_in_new", "value_mismatch_rows")}
    parts = sorted((run_dir / "mismatches" / "t").glob("*.parquet"))
    records = pl.concat([pl.read_parquet(p) for p in parts]).sort("id").rows() if parts else []
    return counts, records


MAPPING = "version: 1\nentities:\n  t:\n    old: {table: t}\n    new: {table: t}\n    key: [id]\n"


# --- the MariaDB server restarted -----------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class PrivateMariaDB:
    """A MariaDB server of this test alone (its own data directory and port), so that stopping
    it disturbs no other test."""

    def __init__(self, folder: Path) -> None:
        self.folder, self.port = folder, _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        subprocess.run(
            [
                "mariadb-install-db",
                "--no-defaults",
                f"--datadir={folder / 'data'}",
                "--user=root",
                "--auth-root-authentication-method=normal",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [
                "mariadbd",
                "--no-defaults",
                f"--datadir={self.folder / 'data'}",
                f"--port={self.port}",
                f"--socket={self.folder / 'sock'}",
                "--bind-address=127.0.0.1",
                "--user=root",
                "--skip-log-bin",
                "--innodb-buffer-pool-size=32M",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        import pymysql

        deadline = time.monotonic() + 60
        while True:
            try:
                pymysql.connect(host="127.0.0.1", port=self.port, user="root", connect_timeout=1).close()
                return
            except pymysql.err.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        assert self.proc is not None
        self.proc.terminate()  # SIGTERM: a clean shutdown, as an operator's restart does
        self.proc.wait(timeout=60)

    @property
    def url(self) -> str:
        return f"mysql+pymysql://root@127.0.0.1:{self.port}/shop"


@pytest.fixture()
def private_mariadb(tmp_path):
    if shutil.which("mariadb-install-db") is None or shutil.which("mariadbd") is None:
        pytest.skip("MariaDB's server binaries are not installed")  # conftest fails a skip in CI
    server = PrivateMariaDB(tmp_path / "mariadb")
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None and server.proc.poll() is None:
            server.stop()


@pytest.mark.mysql
@pytest.mark.postgres
def test_a_mariadb_restart_mid_run_loses_and_doubles_nothing(
    tmp_path, private_mariadb, postgres_db, monkeypatch
):
    import pymysql

    conn = pymysql.connect(host="127.0.0.1", port=private_mariadb.port, user="root", autocommit=True)
    with conn.cursor() as cur:
        cur.execute("CREATE DATABASE shop")
        cur.execute("CREATE TABLE shop.t (id INT PRIMARY KEY, v INT)")
        cur.execute("INSERT INTO shop.t VALUES " + ", ".join(f"({i}, {i})" for i in range(1, ROWS + 1)))
    conn.close()
    postgres_db.execute(
        "DROP TABLE IF EXISTS t",
        "CREATE TABLE t (id INT PRIMARY KEY, v INT)",
        f"INSERT INTO t SELECT i, CASE WHEN i = 1234 THEN 0 ELSE i END FROM generate_series(1, {ROWS}) i "
        "WHERE i <> 2999",
    )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING)

    def diff(name: str, **extra) -> Path:
        out = tmp_path / name
        options = DiffOptions(
            str(mapping),
            private_mariadb.url,
            postgres_db.url,
            out_dir=str(out),
            workers=2,
            segment_rows=100,
            **extra,
        )
        result = run_diff(options)
        assert result.status == "complete", result.failures
        return out

    reference = outcome(diff("reference"))
    assert reference[0] == {
        "compared": ROWS,
        "matched": ROWS - 2,
        "missing_in_new": 1,
        "value_mismatch_rows": 1,
    }
    # The restart takes a few seconds: the reads that fail meanwhile are tried again later.
    monkeypatch.setenv("VERIFY_RETRY_DELAYS", "1,2,3,5,8")
    records = tmp_path / "restarted" / "segments" / "t"

    when: dict[str, float] = {}

    def restart() -> None:
        while not (records.is_dir() and len(list(records.glob("*.json"))) >= 3):
            time.sleep(0.02)
        when["stopped"] = time.monotonic()
        private_mariadb.stop()
        time.sleep(1)
        private_mariadb.start()
        when["started"] = time.monotonic()

    restarter = threading.Thread(target=restart, daemon=True)
    restarter.start()
    restarted = diff("restarted", max_rows_per_second=1000)  # 3 s a side: mid-run at the restart
    ended = time.monotonic()
    restarter.join(timeout=60)
    assert not restarter.is_alive() and when["stopped"] < when["started"] < ended, "not restarted mid-run"
    # Every segment, once (about 30: the count is sized from InnoDB's row estimate, not a count).
    planned = json.loads((tmp_path / "restarted" / "run.json").read_text())["plan"]["t"]["segments"]
    assert planned > 20 and len(list(records.glob("*.json"))) == planned
    assert outcome(restarted) == reference


# --- the run directory's file system full --------------------------------------------------------


def _sqlite_stores(folder: Path) -> tuple[str, str]:
    """old and new t (id, s): 3,000 rows, every tenth differing, so that every segment writes a part."""
    for name in ("old", "new"):
        with sqlite3.connect(folder / f"{name}.db") as c:
            c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT)")
            rows = [
                (i, ("x" * 60) + (f"-{i}" if name == "new" and i % 10 == 0 else ""))
                for i in range(1, ROWS + 1)
            ]
            c.executemany("INSERT INTO t VALUES (?, ?)", rows)
    return f"sqlite:///{folder / 'old.db'}", f"sqlite:///{folder / 'new.db'}"


@pytest.fixture()
def small_disk(tmp_path):
    """A 1 MB tmpfs, mounted for the test (root only, as CI runs)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)]).returncode
    ):
        pytest.skip("mounting a tmpfs needs root")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_mid_run_is_one_clear_error_and_resume_finishes(tmp_path, small_disk):
    old, new = _sqlite_stores(tmp_path)
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING)
    reference = run_diff(
        DiffOptions(str(mapping), old, new, out_dir=str(tmp_path / "reference"), segment_rows=100)
    )
    want = outcome(tmp_path / "reference")
    assert want[0]["value_mismatch_rows"] == 300 and reference.status == "complete"

    # Fill the disk once a few segments are written, as another process writing there would.
    out = small_disk / "run"
    filler = small_disk / "filler"
    records = out / "segments" / "t"

    def fill() -> None:
        while not (records.is_dir() and len(list(records.glob("*.json"))) >= 3):
            time.sleep(0.005)
        with contextlib.suppress(OSError), open(filler, "wb") as fh:  # until the disk is full
            while True:
                fh.write(b"\0" * 4096)
                fh.flush()

    filling = threading.Thread(target=fill, daemon=True)
    filling.start()
    env = {**os.environ, "VERIFY_OLD_URL": old, "VERIFY_NEW_URL": new}
    verify = [sys.executable, "-m", "verify.cli", "diff"]
    full = subprocess.run(
        [
            *verify,
            "--mapping",
            str(mapping),
            "--out",
            str(out),
            "--segment-rows",
            "100",
            "--workers",
            "1",
            "--max-rows-per-second",
            "3000",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    filling.join(timeout=30)
    assert full.returncode == 3, full.stdout + full.stderr
    assert full.stderr.count("\n") == 1 and full.stderr.startswith(
        f"error: cannot write the run directory {out}"
    )
    assert "No space left on device; make room there and finish the run with" in full.stderr
    assert f"verify diff --resume {out} --old URL --new URL" in full.stderr
    assert not list(small_disk.rglob("*.tmp-*")), "a half-written file was left behind"
    assert json.loads((out / "run.json").read_text())["status"] in ("running", "partial")

    filler.unlink()  # room again
    done = subprocess.run(
        [*verify, "--resume", str(out)], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 1, done.stdout + done.stderr
    assert json.loads((out / "run.json").read_text())["status"] == "complete"
    assert outcome(out) == want
