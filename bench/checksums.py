"""Bytes the old server sends, rows read and wall time of `--algorithm rows` against
`--algorithm checksum`, on a pair of order tables (MariaDB old, PostgreSQL new) that differ in
a few of their rows: 0.01%, 0.1% and 1% by default (BENCH_CHECKSUM_DIFFERING, comma-separated
fractions), spread evenly over the table, so that as many checksum buckets as possible differ.

The tables have only columns whose values SQL can render identically on both sides, so the
whole entity can be summarized in the databases.

What is measured, for each run of `verify diff`:
  mariadb_bytes_sent  what the MariaDB server sent, from its global Bytes_sent counter read
                      before and after the run (global, since verify opens its own sessions),
                      less what reading the counter itself costs; bytes_sent_ratio is the
                      checksum run's over the rows run's. Another client of MariaDB adds to
                      the counter: a run is "quiet" if the counter stood still in the half
                      second before and after it (background_bytes_per_s) and, behind a paced
                      link, the link's own count of what MariaDB sent (link_bytes_from_mariadb,
                      exact, the second opinion) agrees; a run that is not is repeated, up to
                      BENCH_CHECKSUM_TRIES times (default 3), and the fewest bytes kept.
  mb_moved            every byte both stores' connections carried, both ways (over loopback:
                      the lo interface's count, so any other traffic on it too)
  rows_read, seconds  as verify's summary.json counts them, and the run's wall time.
The checksum run's result must be the rows run's: summary.json's entities must be equal, but
for rows_read, which is what the two algorithms differ in by design.

Here both servers share the client's two cores over loopback, where moving a row costs less
than hashing it. Stores a cutover verifies are usually across a network, so every pair is also
diffed with each store behind its own link of LINKS_MBIT (a proxy that paces the bytes the
server sends, in user space: this sandbox has no tc qdiscs).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import threading
import time
from collections.abc import Callable
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
DIFFERING = (0.0001, 0.001, 0.01)
# bytes_sent_ratio (checksum's MariaDB bytes over rows') to reach, by fraction of rows differing.
TARGETS = {0.001: 0.05, 0.0001: 0.01}
LINKS_MBIT = (100, 20)
ALGORITHMS = ("rows", "checksum")
TRIES = max(1, int(os.environ.get("BENCH_CHECKSUM_TRIES", 3)))  # runs of a measurement that others disturbed
QUIET_BYTES_PER_S = 1024  # what MariaDB may send to others while a run still counts as quiet


def differing_fractions() -> tuple[float, ...]:
    """BENCH_CHECKSUM_DIFFERING (comma-separated fractions of rows, 0 < f < 1) or DIFFERING."""
    text = os.environ.get("BENCH_CHECKSUM_DIFFERING")
    if not text:
        return DIFFERING
    try:
        fractions = tuple(float(f) for f in text.split(","))
    except ValueError:
        raise SystemExit(f"BENCH_CHECKSUM_DIFFERING={text!r}: not comma-separated fractions") from None
    if not all(0 < f < 1 for f in fractions):
        raise SystemExit(f"BENCH_CHECKSUM_DIFFERING={text!r}: each fraction must be > 0 and < 1")
    return fractions


def orders(rows: int, differing: float, seed: int = 3) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The old table and the new one, with `differing` of its rows' amounts changed.

    The changed rows are spread evenly over the key range, one every 1/differing rows (the
    middle one of each stretch), not drawn at random: random rows would fall some in the same
    checksum bucket and leave more buckets equal, flattering checksums.
    """
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
    count = round(rows * differing)
    changed = np.zeros(rows, dtype=bool)
    changed[((np.arange(count) + 0.5) * rows / max(count, 1)).astype(np.int64)] = True
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


class MariaDBBytesSent:
    """The MariaDB server's global Bytes_sent counter, read over a session of our own.

    Reading it costs a few hundred bytes of its own (the result of SHOW GLOBAL STATUS): that
    cost, the least of a few back-to-back reads, is taken off every before/after difference.
    """

    QUERY = "SHOW GLOBAL STATUS LIKE 'Bytes_sent'"

    def __init__(self, host: str = "127.0.0.1", port: int = 3306) -> None:
        import pymysql

        try:
            self.conn = pymysql.connect(host=host, port=port, user="root", autocommit=True, connect_timeout=5)
        except pymysql.err.OperationalError as exc:
            raise SystemExit(f"MariaDB at {host}:{port} is not reachable: {exc}") from None
        self.cost = 0
        pairs = []
        for _ in range(5):
            first = self.counter()
            pairs.append(self.counter() - first)
        self.cost = min(pairs)

    def counter(self) -> int:
        with self.conn.cursor() as cur:
            cur.execute(self.QUERY)
            return int(cur.fetchone()[1])

    def since(self, before: int) -> int:
        """Bytes the server sent since `before` (a counter() value) to anyone but us."""
        return self.counter() - before - self.cost

    def background(self, seconds: float = 0.5) -> float:
        """Bytes a second the server sends to other clients while we do nothing."""
        before = self.counter()
        time.sleep(seconds)
        return self.since(before) / seconds

    def close(self) -> None:
        self.conn.close()


def _attempt(
    argv: list[str],
    out: Path,
    sent: MariaDBBytesSent,
    moved_bytes: Callable[[], int],
    link_from_mariadb: Callable[[], int] | None,
) -> tuple[dict, dict]:
    """One `verify diff` run: its measurements, and summary.json's entities."""
    background_before = sent.background()
    before_link = link_from_mariadb() if link_from_mariadb else 0
    before_moved, before_sent = moved_bytes(), sent.counter()
    start = time.perf_counter()
    proc = subprocess.run([*argv, "--out", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds = time.perf_counter() - start
    time.sleep(0.3)  # the servers see the sessions end and count their last bytes
    mariadb_sent, moved = sent.since(before_sent), moved_bytes() - before_moved
    background = max(background_before, sent.background())
    if proc.returncode not in (0, 1):
        raise SystemExit(
            f"{' '.join(argv[:2])} {' '.join(argv[-2:])} failed (exit {proc.returncode}): "
            f"{proc.stderr.decode(errors='replace')[-2000:]}"
        )
    entities = json.loads((out / "summary.json").read_text())["entities"]
    subprocess.run(["rm", "-rf", str(out)], check=False)
    entity = entities["orders"]
    result = {
        "seconds": round(seconds, 2),
        "rows_read": entity["rows_read"],
        "rows_read_pct": round(100 * entity["rows_read"] / (entity["rows_old"] + entity["rows_new"]), 2),
        "mb_moved": round(moved / 2**20, 2),
        "mariadb_bytes_sent": mariadb_sent,
        "background_bytes_per_s": round(background),
        "differing_rows": entity["value_mismatch_rows"],
    }
    quiet = background <= QUIET_BYTES_PER_S
    if link_from_mariadb:
        link = result["link_bytes_from_mariadb"] = link_from_mariadb() - before_link
        quiet = quiet and abs(mariadb_sent - link) <= 0.01 * link + 1024
    result["quiet"] = quiet
    return result, entities


def run(
    verify: str,
    root: Path,
    mysql_url: str,
    postgres_url: str,
    algorithm: str,
    sent: MariaDBBytesSent,
    moved_bytes: Callable[[], int] = _loopback_bytes,
    link_from_mariadb: Callable[[], int] | None = None,
) -> tuple[dict, dict]:
    """`verify diff --algorithm ALGORITHM` of the orders pair: its measurements, and
    summary.json's entities.

    Another client of MariaDB can only add to the global Bytes_sent, never take from it. So a
    run that was not quiet (the counter moved in the half second before or after it, or, behind
    a link, the link's count of what MariaDB sent disagrees with it) is run again, up to TRIES
    times, and the run with the fewest bytes is kept; "quiet" says whether that one was quiet,
    "attempts" how many runs there were.
    """
    mapping = root / "bench" / "results" / "orders.yaml"
    mapping.write_text(MAPPING)
    argv = [verify, "diff", "--mapping", str(mapping), "--old", mysql_url, "--new", postgres_url]
    argv += ["--algorithm", algorithm]
    attempts: list[tuple[dict, dict]] = []
    while len(attempts) < TRIES:
        out = root / "bench" / "results" / f"run-orders-{algorithm}-{time.time_ns()}"
        attempts.append(_attempt(argv, out, sent, moved_bytes, link_from_mariadb))
        if attempts[-1][0]["quiet"]:
            break
    result, entities = min(attempts, key=lambda a: a[0]["mariadb_bytes_sent"])
    result["attempts"] = len(attempts)
    return result, entities


def _results_only(entities: dict) -> dict:
    """summary.json's entities less rows_read: what was found, not how much had to be read."""
    return {name: {k: v for k, v in e.items() if k != "rows_read"} for name, e in entities.items()}


class Link(threading.Thread):
    """A TCP proxy to 127.0.0.1:`port` whose server-to-client bytes, over all its connections,
    flow at most `mbit` megabits a second: one store's network link."""

    def __init__(self, port: int, mbit: float) -> None:
        super().__init__(daemon=True)
        self.target, self.rate = port, mbit * 1e6 / 8
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lock, self.free_at = threading.Lock(), 0.0
        self.moved, self.from_server = 0, 0  # bytes both ways; bytes the server sent

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
                        self.from_server += len(data)
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


def _pair(
    verify: str, root: Path, mysql_url: str, postgres_url: str, sent: MariaDBBytesSent, **how
) -> dict[str, dict]:
    """The rows run and the checksum run over one link, their results checked to be equal."""
    runs, found = {}, {}
    for algorithm in ALGORITHMS:
        runs[algorithm], found[algorithm] = run(verify, root, mysql_url, postgres_url, algorithm, sent, **how)
    if _results_only(found["checksum"]) != _results_only(found["rows"]):
        raise SystemExit(
            "--algorithm checksum found other differences than --algorithm rows:\n"
            f"  rows:     {json.dumps(found['rows'], sort_keys=True)}\n"
            f"  checksum: {json.dumps(found['checksum'], sort_keys=True)}"
        )
    return runs


def _ratio(runs: dict[str, dict], key: str = "mariadb_bytes_sent") -> float:
    """The checksum run's bytes over the rows run's."""
    rows_sent = runs["rows"][key]
    return round(runs["checksum"][key] / rows_sent, 5) if rows_sent > 0 else float("nan")


def compare(verify: str, root: Path, mysql_url: str, postgres_url: str, rows: int = 1_000_000) -> list[dict]:
    """For each fraction of differing_fractions(): the rows and the checksum run over loopback
    and over each of LINKS_MBIT, with bytes_sent_ratio for each link and its target, if any.

    Keys of each entry: "rows"/"checksum" (loopback), "rows_<m>mbit"/"checksum_<m>mbit",
    "bytes_sent_ratio" {"loopback": r, "<m>mbit": r} from Bytes_sent, the same ratio from what
    each paced link counted MariaDB sending, "bytes_sent_ratio_link_count" {"<m>mbit": r},
    and "target_bytes_sent_ratio" (None where there is none).
    """
    mysql_url += "?prefer_socket=false"  # over TCP, so that loopback counts its bytes too
    sent = MariaDBBytesSent()
    results = []
    try:
        for differing in differing_fractions():
            load(mysql_url, postgres_url, rows, differing)
            entry: dict = {"rows": rows, "differing": differing}
            entry.update(_pair(verify, root, mysql_url, postgres_url, sent))
            ratios, by_link = {"loopback": _ratio(entry)}, {}
            for mbit in LINKS_MBIT:
                links = [Link(3306, mbit), Link(5432, mbit)]
                for link in links:
                    link.start()
                old, new = _via(mysql_url, links[0]), _via(postgres_url, links[1])

                def moved() -> int:
                    return sum(link.moved for link in links)  # noqa: B023 - this iteration's links

                def from_mariadb() -> int:
                    return links[0].from_server  # noqa: B023 - this iteration's links

                runs = _pair(verify, root, old, new, sent, moved_bytes=moved, link_from_mariadb=from_mariadb)
                for link in links:
                    link.close()
                entry.update({f"{algorithm}_{mbit}mbit": r for algorithm, r in runs.items()})
                ratios[f"{mbit}mbit"] = _ratio(runs)
                by_link[f"{mbit}mbit"] = _ratio(runs, "link_bytes_from_mariadb")
            entry["bytes_sent_ratio"] = ratios
            entry["bytes_sent_ratio_link_count"] = by_link
            entry["target_bytes_sent_ratio"] = TARGETS.get(differing)
            print(json.dumps(entry), flush=True)
            results.append(entry)
    finally:
        sent.close()
    return results
