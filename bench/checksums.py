"""Rows read and bytes moved by `--algorithm rows` and `--algorithm checksum` on a pair of
1,000,000-row order tables (MariaDB old, PostgreSQL new) that differ in 0.01% and in 5% of rows.

The tables have only columns whose values SQL can render identically on both sides, so the
whole entity can be summarized in the databases. Bytes are what the loopback interface carried
during the run (both servers are on it), so they count every protocol byte, not only rows.

Here both servers share the client's two cores over loopback, where moving a row costs less
than hashing it. Stores a cutover verifies are usually across a network, so the 0.01% pair is
also diffed with each store behind its own link of LINKS_MBIT (a proxy that paces the bytes
the server sends, in user space: this sandbox has no tc qdiscs).
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import polars as pl
import psutil

from verify.scenario.load import _load_mysql, _load_postgres
from verify.sources.urls import SourceURL

MAPPING = """version: 1
entities:
  orders:
    old: {table: ck_orders}
    new: {table: ck_orders}
    key: [id]
    columns: "*"
"""
OLD_DDL = (
    "CREATE TABLE ck_orders (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, "
    "amount DECIMAL(12,2) NOT NULL, status VARCHAR(16) NOT NULL, created_at DATETIME(6) NOT NULL)"
)
NEW_DDL = (
    "CREATE TABLE ck_orders (id BIGINT PRIMARY KEY, customer_id BIGINT NOT NULL, "
    "amount NUMERIC(12,2) NOT NULL, status TEXT NOT NULL, created_at TIMESTAMPTZ NOT NULL)"
)


def orders(rows: int, differing: float, seed: int = 3) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The old table and the new one, with `differing` of its rows' amounts changed."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, rows + 1)
    since_2024 = rng.integers(0, 30_000_000, rows) * 1_000_000 + 1_704_067_200_000_000  # microseconds
    created = pl.Series(since_2024).cast(pl.Datetime("us"))
    old = pl.DataFrame(
        {
            "id": ids,
            "customer_id": rng.integers(1, 50_000, rows),
            "amount": (rng.integers(100, 10_000_000, rows) / 100).round(2),
            "status": rng.choice(["NEW", "PAID", "SHIPPED", "CANCELED"], rows),
            "created_at": created,
        }
    )
    changed = np.zeros(rows, dtype=bool)
    changed[rng.choice(rows, round(rows * differing), replace=False)] = True
    new = old.with_columns(
        pl.when(pl.Series(changed)).then(pl.col("amount") + 0.01).otherwise(pl.col("amount")).alias("amount")
    )
    return old, new


def load(mysql_url: str, postgres_url: str, rows: int, differing: float) -> None:
    old, new = orders(rows, differing)
    mysql_old = old.with_columns(pl.col("created_at").dt.to_string("%Y-%m-%d %H:%M:%S"))
    _load_mysql(SourceURL.parse(mysql_url), [OLD_DDL], [], {"ck_orders": mysql_old})
    new = new.with_columns(pl.col("created_at").dt.replace_time_zone("UTC"))
    _load_postgres(SourceURL.parse(postgres_url), [NEW_DDL], [], {"ck_orders": new})


def _loopback_bytes() -> int:
    return psutil.net_io_counters(pernic=True)["lo"].bytes_recv


def run(
    verify: str, root: Path, mysql_url: str, postgres_url: str, algorithm: str, moved_bytes=_loopback_bytes
) -> dict:
    mapping = root / "bench" / "results" / "orders.yaml"
    mapping.write_text(MAPPING)
    out = root / "bench" / "results" / f"run-orders-{algorithm}-{int(time.time())}"
    before = moved_bytes()
    start = time.perf_counter()
    argv = [verify, "diff", "--mapping", str(mapping), "--old", mysql_url, "--new", postgres_url]
    subprocess.run(
        [*argv, "--out", str(out), "--algorithm", algorithm], stdout=subprocess.DEVNULL, check=False
    )
    seconds = time.perf_counter() - start
    moved = moved_bytes() - before
    entity = json.loads((out / "summary.json").read_text())["entities"]["orders"]
    subprocess.run(["rm", "-rf", str(out)], check=False)
    return {
        "seconds": round(seconds, 2),
        "rows_read": entity["rows_read"],
        "rows_read_pct": round(100 * entity["rows_read"] / (entity["rows_old"] + entity["rows_new"]), 2),
        "mb_moved": round(moved / 2**20, 1),
        "differing_rows": entity["value_mismatch_rows"],
    }


LINKS_MBIT = (100, 20)


class Link(threading.Thread):
    """A TCP proxy to 127.0.0.1:`port` whose server-to-client bytes, over all its connections,
    flow at most `mbit` megabits a second: one store's network link."""

    def __init__(self, port: int, mbit: float) -> None:
        super().__init__(daemon=True)
        self.target, self.rate = port, mbit * 1e6 / 8
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock, self.free_at, self.moved = threading.Lock(), 0.0, 0  # bytes both ways

    def run(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(("127.0.0.1", self.target))
            for s in (client, server):  # pass small packets on at once, as a router would
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            threading.Thread(target=self.pump, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self.pump, args=(server, client, True), daemon=True).start()

    def pump(self, src: socket.socket, dst: socket.socket, paced: bool) -> None:
        try:
            while data := src.recv(65536):
                wait = 0.0
                with self.lock:
                    self.moved += len(data)
                    if paced:
                        now = time.perf_counter()
                        self.free_at = max(self.free_at, now) + len(data) / self.rate
                        wait = self.free_at - now
                time.sleep(wait)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        self.listener.close()


def _via(url: str, link: Link) -> str:
    """The URL with its port replaced by the link's."""
    user, rest = url.split("@", 1)
    return f"{user}@127.0.0.1:{link.port}/{rest.split('/', 1)[1]}"


def compare(verify: str, root: Path, mysql_url: str, postgres_url: str, rows: int = 1_000_000) -> list[dict]:
    mysql_url += "?prefer_socket=false"  # over TCP, so that loopback counts its bytes too
    results = []
    for differing in (0.0001, 0.05):
        load(mysql_url, postgres_url, rows, differing)
        entry: dict = {"rows": rows, "differing": differing}
        for algorithm in ("rows", "checksum"):
            entry[algorithm] = run(verify, root, mysql_url, postgres_url, algorithm)
        if differing == 0.0001:
            for mbit in LINKS_MBIT:
                links = [Link(3306, mbit), Link(5432, mbit)]
                for link in links:
                    link.start()
                old, new = _via(mysql_url, links[0]), _via(postgres_url, links[1])

                def moved() -> int:
                    return sum(link.moved for link in links)  # noqa: B023 - this iteration's links

                for algorithm in ("rows", "checksum"):
                    entry[f"{algorithm}_{mbit}mbit"] = run(verify, root, old, new, algorithm, moved)
                for link in links:
                    link.close()
        print(json.dumps(entry), flush=True)
        results.append(entry)
    return results
