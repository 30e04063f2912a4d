"""`make bench`: verify diff against the raw read of both sides and datacompy, in one run.

Builds the DFP -> F1 scenario (old in MariaDB, new in PostgreSQL) at each size of BENCH_ROWS
(default 1000000,5000000,10000000), then, after one warm-up of each, runs these BENCH_ROUNDS
times (default 3), interleaved, in the order A B C, then C B A, and so on, so that a drift of
the machine's load favours none:
  raw process  `python -m bench.rawread`: a process of its own that reads both whole tables
               with ConnectorX to Arrow in two threads and exits (bench/rawread.py)
  raw in-proc  the same read in this process: the stricter baseline, with no process start
               and no imports to pay
  verify       `verify diff --entity line_item`, a process of its own
Both processes are timed from outside by the same small wrapper (_MEASURE): wall seconds, peak
RSS and CPU seconds of the process from wait4(). CPU is the client's plus both servers', since
on two cores shared by all three every CPU second anyone spends shows in the wall time.
Reported: the median wall and CPU of each, verify_vs_raw (median wall of verify over that of
the raw process), verify_vs_raw_cpu, verify_vs_raw_inproc(_cpu), and verify's peak RSS (the
highest of its rounds) at each size, with the highest over the lowest across sizes at the end:
near 1 when verify's memory is flat in the table's size.
Up to 2M rows also:
  datacompy    datacompy's Polars compare of the same tables, loaded with ConnectorX, once;
               verify_vs_datacompy is verify's median over it (the target is <= 0.4)
  throttle     --max-rows-per-second at a quarter of verify's rate, and the rate achieved
  dask         the local executor with 2 threads vs --executor dask on a LocalCluster of 2
               worker processes with 1 thread each (started before the clock)
Then bench/checksums.py: the MariaDB server's bytes sent by --algorithm checksum against
--algorithm rows (BENCH_CHECKSUM_ROWS orders, default 1000000). Last, in this process, the JSON
cells whose texts differ but whose values are equal (a MariaDB text against PostgreSQL's jsonb,
which orders keys by length): microseconds a pair, for documents of integers, with a bool, with a
fraction, and with a number too long for a double (the exact way); and naive times read in a
zone of their own row's (`timezone: {column: ...}`): milliseconds for 50,000 rows in 1, 10 and
100 zones.
Writes bench/results/latest.json and prints the tables. BENCH_DB names the database dropped
and rebuilt on both servers (default verify_bench).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import NamedTuple

from bench.rawread import CX_MYSQL, CX_POSTGRES, DB, NEW_SQL, OLD_SQL, read_both

ROOT = Path(__file__).resolve().parents[1]
VERIFY = str(Path(sys.executable).with_name("verify"))
MYSQL = f"mysql+pymysql://root@127.0.0.1:3306/{DB}"
POSTGRES = f"postgresql+psycopg://root@127.0.0.1:5432/{DB}"
BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"
DATACOMPY_MAX_ROWS = 2_000_000  # datacompy holds both tables in memory, several times over
VERIFY_VS_DATACOMPY_TARGET = 0.4
RSS_FLAT_MAX = 1.10  # issue 15: verify's peak RSS within 10% from 1M to 10M rows (max / min)


def _env_ints(name: str, default: str) -> list[int]:
    text = os.environ.get(name, default)
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise SystemExit(f"{name}={text!r}: not comma-separated whole numbers") from None
    if not all(v > 0 for v in values):
        raise SystemExit(f"{name}={text!r}: each must be > 0")
    return values


def _mysql(**kwargs):
    """A session on the MariaDB server (no database), or SystemExit saying it is down."""
    import pymysql

    try:
        return pymysql.connect(host="127.0.0.1", port=3306, user="root", connect_timeout=5, **kwargs)
    except pymysql.err.OperationalError as exc:
        raise SystemExit(f"MariaDB at 127.0.0.1:3306 (user root) is not reachable: {exc}") from None


def _postgres():
    """A session on the PostgreSQL server (database postgres), or SystemExit saying it is down."""
    import psycopg

    try:
        return psycopg.connect(
            "host=127.0.0.1 port=5432 user=root dbname=postgres connect_timeout=5", autocommit=True
        )
    except psycopg.OperationalError as exc:
        raise SystemExit(f"PostgreSQL at 127.0.0.1:5432 (user root) is not reachable: {exc}") from None


def require_servers() -> None:
    """SystemExit unless both servers answer and the tools the bench runs are installed."""
    _mysql().close()
    _postgres().close()
    if not Path(VERIFY).exists():
        raise SystemExit(f"{VERIFY} is missing: run the bench with the project's venv (make bench)")


def fresh_databases() -> None:
    with _mysql(autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB}")
        cur.execute(f"CREATE DATABASE {DB} CHARACTER SET utf8mb4")
    with _postgres() as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


def servers_cpu() -> float:
    """CPU seconds both database servers have used so far, their finished sessions included
    (PostgreSQL's backends are processes, counted in the postmaster's children once reaped)."""
    import psutil  # not in .venv-bench, where this file runs datacompy

    total = 0.0
    for proc in psutil.process_iter(["name"]):
        if proc.info["name"] in ("mariadbd", "mysqld", "postgres", "postmaster"):
            with contextlib.suppress(psutil.Error):
                t = proc.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
    return total


class Sample(NamedTuple):
    """One timed run: wall seconds, CPU seconds (the client's and both servers'), and the
    client's peak RSS in bytes (None when it ran in this process, whose peak is not its own)."""

    seconds: float
    cpu: float
    peak: int | None = None


def raw_read() -> Sample:
    """The in-process baseline: bench.rawread.read_both() here, in this process, which has
    ConnectorX imported already; CPU is this process's and the servers'."""
    start, cpu = time.perf_counter(), time.process_time() + servers_cpu()
    try:
        old, new = read_both()
    except RuntimeError as exc:  # ConnectorX's errors: a server down, a table missing
        raise SystemExit(f"the in-process raw read failed: {exc}") from None
    if not (old and new):
        raise SystemExit(f"raw read: {old} rows old, {new} rows new: a table is empty")
    seconds = time.perf_counter() - start
    time.sleep(0.3)  # the servers' sessions end and are counted
    return Sample(seconds, time.process_time() + servers_cpu() - cpu)


# Runs the command and prints its wall seconds, peak RSS (bytes), exit code and CPU seconds. It is a process
# of its own, small and fresh: a child forked from the bench itself would inherit the bench's
# high-water mark (the raw read's tables), because the kernel carries a process's peak RSS
# across fork and exec.
_MEASURE = """
import os, subprocess, sys, time
start = time.perf_counter()
proc = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL)
_, status, usage = os.wait4(proc.pid, 0)
seconds = time.perf_counter() - start
cpu = usage.ru_utime + usage.ru_stime
print(seconds, usage.ru_maxrss * 1024, os.waitstatus_to_exitcode(status), cpu)
"""


def run_with_peak_rss(argv: list[str], ok: tuple[int, ...] = (0, 1)) -> tuple[Sample, int]:
    """The command's Sample (wall seconds from its start to its exit, CPU seconds of it and of
    both database servers, peak RSS) and its exit code; SystemExit if that is not in `ok`.

    verify runs its segments on threads, so the process's own maximum resident set, as
    wait4() reports it, is the true peak: no sampling that could miss a short spike.
    """
    before = servers_cpu()
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *argv], capture_output=True, cwd=ROOT)
    time.sleep(0.3)  # the servers' sessions end and are counted
    stderr = proc.stderr.decode(errors="replace")[-2000:]
    try:
        seconds, peak, code, cpu = proc.stdout.decode().split()[-4:]
    except ValueError:
        raise SystemExit(f"could not run {' '.join(argv[:3])}: {stderr}") from None
    if int(code) not in ok:
        raise SystemExit(f"{' '.join(argv[:3])} failed (exit {code}): {stderr}")
    return Sample(float(seconds), float(cpu) + servers_cpu() - before, int(peak)), int(code)


def raw_process() -> Sample:
    """The whole-process raw read, `python -m bench.rawread`, timed as verify is."""
    return run_with_peak_rss([sys.executable, "-m", "bench.rawread"], ok=(0,))[0]


def verify_diff(out: Path, *extra: str) -> Sample:
    """`verify diff --entity line_item` of the scenario, its run directory written to `out`."""
    argv = [
        VERIFY,
        "diff",
        "--mapping",
        str(ROOT / "mappings/dfp_to_f1.yaml"),
        "--old",
        MYSQL,
        "--new",
        POSTGRES,
        "--entity",
        "line_item",
        "--algorithm",
        "rows",  # not auto: the rounds before must not change what is measured
        "--out",
        str(out),
        *extra,
    ]
    return run_with_peak_rss(argv)[0]


def datacompy_compare() -> float:
    """datacompy's Polars compare, given frames already in the canonical shape it needs.

    Runs in .venv-bench (datacompy needs pandas; verify is measured without it, as installed).
    """
    if not BENCH_PYTHON.exists():
        raise SystemExit(f"{BENCH_PYTHON} is missing: make .venv-bench/.installed-stamp")
    proc = subprocess.run(
        [str(BENCH_PYTHON), "-m", "bench.run", "--datacompy"], capture_output=True, text=True, cwd=ROOT
    )
    if proc.returncode != 0:
        raise SystemExit(f"the datacompy compare failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return float(proc.stdout.strip().splitlines()[-1])


STATES = {0: "DRAFT", 1: "READY", 2: "DELIVERING", 3: "PAUSED", 4: "COMPLETED", 5: "CANCELED"}


def _datacompy_inline() -> float:
    """datacompy compares the same ten columns verify does, on the same keys.

    The old side is brought to the new side's shape the way the mapping says (renamed keys,
    mapped states, New York local times to UTC, micros to units, deleted to archived), in
    Polars, and that preparation is timed too, as verify's canonicalization is.
    """
    import connectorx as cx
    import datacompy
    import polars as pl

    start = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(cx.read_sql, CX_MYSQL, OLD_SQL, return_type="polars")
        b = pool.submit(cx.read_sql, CX_POSTGRES, NEW_SQL, return_type="polars")
        old, new = a.result(), b.result()

    def local(col: str) -> pl.Expr:
        zoned = pl.col(col).dt.replace_time_zone("America/New_York", ambiguous="earliest")
        return zoned.dt.convert_time_zone("UTC")

    old = old.select(
        pl.col("advertiser_id"),
        pl.col("order_id").alias("campaign_id"),
        pl.col("id").cast(pl.Int64).alias("line_item_id"),
        pl.col("name"),
        pl.col("status_code").replace_strict(STATES, default=None).alias("state"),
        pl.col("line_type"),
        local("start_time"),
        local("end_time"),
        (pl.col("budget_micros") / 1e6).alias("budget"),
        (pl.col("cost_per_unit_micros") / 1e6).alias("cost_per_unit"),
        pl.col("units_bought"),
        (pl.col("deleted") != 0).alias("archived"),
        pl.col("updated_at").dt.replace_time_zone("UTC"),
    )
    new = new.with_columns(pl.col("budget").cast(pl.Float64), pl.col("cost_per_unit").cast(pl.Float64))
    compare = datacompy.PolarsCompare(old, new, join_columns=["advertiser_id", "campaign_id", "line_item_id"])
    compare.matches()
    compare.report()
    return time.perf_counter() - start


def local_vs_dask(out_root: Path, rows: int) -> dict:
    """Wall time of the same diff on the local executor (2 threads) and on Dask (2 workers)."""
    from distributed import LocalCluster

    local_dir, dask_dir = out_root / f"run-local-{rows}", out_root / f"run-dask-{rows}"
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster:
        local_s = verify_diff(local_dir, "--workers", "2").seconds
        dask_s = verify_diff(dask_dir, "--executor", "dask", "--scheduler", cluster.scheduler_address).seconds
    same = [json.loads((d / "summary.json").read_text())["entities"] for d in (local_dir, dask_dir)]
    if same[0] != same[1]:
        raise SystemExit("the Dask run's summary differs from the local run's")
    for d in (local_dir, dask_dir):
        subprocess.run(["rm", "-rf", str(d)], check=False)
    return {"local_2_threads_s": round(local_s, 2), "dask_2_workers_s": round(dask_s, 2)}


def build_scenario(rows: int, out_root: Path) -> float:
    """Wall seconds to build the DFP -> F1 scenario of `rows` line items into fresh databases."""
    fresh_databases()
    build = [
        VERIFY,
        "scenario",
        "build",
        "dfp_to_f1",
        "--old",
        MYSQL,
        "--new",
        POSTGRES,
        "--rows",
        str(rows),
        "--seed",
        "7",
        "--truth",
        str(out_root / f"truth-{rows}.parquet"),
    ]
    run = functools.partial(subprocess.run, build, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    seconds, proc = timed(run)
    if proc.returncode != 0:
        raise SystemExit(f"verify scenario build failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return seconds


def alternating_rounds(rows: int, out_root: Path, rounds: int) -> dict[str, list[Sample]]:
    """The raw process, the in-process raw read and verify diff: one warm-up of each (both
    servers' caches then hold the tables, so every contender reads from memory), then `rounds`
    rounds of all three, in the order of the dict in even rounds and reversed in odd ones."""

    def verify_once() -> Sample:
        run_dir = out_root / f"run-{rows}-{time.time_ns()}"
        try:
            return verify_diff(run_dir)
        finally:
            subprocess.run(["rm", "-rf", str(run_dir)], check=False)

    contenders: dict[str, Callable[[], Sample]] = {
        "raw_process": raw_process,
        "raw_inproc": raw_read,
        "verify": verify_once,
    }
    for run in contenders.values():
        run()
    samples: dict[str, list[Sample]] = {name: [] for name in contenders}
    for i in range(rounds):
        order = list(contenders) if i % 2 == 0 else list(reversed(contenders))
        for name in order:
            samples[name].append(contenders[name]())
    return samples


def measure_size(rows: int, out_root: Path, rounds: int) -> dict:
    """Every measurement of one size: the medians and ratios, each round's samples, and up to
    DATACOMPY_MAX_ROWS the datacompy, throttle and Dask comparisons."""
    entry: dict = {"rows": rows, "build_s": round(build_scenario(rows, out_root), 2), "rounds": rounds}
    samples = alternating_rounds(rows, out_root, rounds)
    wall = {name: statistics.median(s.seconds for s in runs) for name, runs in samples.items()}
    cpu = {name: statistics.median(s.cpu for s in runs) for name, runs in samples.items()}
    for name in samples:
        entry[f"{name}_s"], entry[f"{name}_cpu_s"] = round(wall[name], 3), round(cpu[name], 3)
    entry["verify_vs_raw"] = round(wall["verify"] / wall["raw_process"], 3)
    entry["verify_vs_raw_cpu"] = round(cpu["verify"] / cpu["raw_process"], 3)
    entry["verify_vs_raw_inproc"] = round(wall["verify"] / wall["raw_inproc"], 3)
    entry["verify_vs_raw_inproc_cpu"] = round(cpu["verify"] / cpu["raw_inproc"], 3)
    for name in ("verify", "raw_process"):
        entry[f"{name}_peak_rss_mb"] = round(max(s.peak or 0 for s in samples[name]) / 2**20, 1)
    entry["samples"] = {
        name: [
            {
                "s": round(s.seconds, 3),
                "cpu_s": round(s.cpu, 3),
                "peak_rss_mb": s.peak and round(s.peak / 2**20, 1),
            }
            for s in runs
        ]
        for name, runs in samples.items()
    }
    if rows <= DATACOMPY_MAX_ROWS:
        entry["datacompy_s"] = round(datacompy_compare(), 3)
        entry["verify_vs_datacompy"] = round(wall["verify"] / entry["datacompy_s"], 3)
        # The throttle holds: a limit of a quarter of the unthrottled rate, per store.
        limit = round(rows / wall["verify"] / 4)
        slow_dir = out_root / f"run-throttled-{rows}"
        throttled = verify_diff(slow_dir, "--max-rows-per-second", str(limit)).seconds
        entry["throttle_limit_rows_per_s"] = limit
        entry["throttle_achieved_rows_per_s"] = round(rows / throttled)
        subprocess.run(["rm", "-rf", str(slow_dir)], check=False)
        entry.update(local_vs_dask(out_root, rows))
    return entry


def rss_flatness(results: list[dict]) -> dict:
    """verify's peak RSS across sizes: lowest, highest and highest / lowest (1 = flat)."""
    peaks = [e["verify_peak_rss_mb"] for e in results]
    return {
        "min_mb": min(peaks),
        "max_mb": max(peaks),
        "max_over_min": round(max(peaks) / min(peaks), 2) if min(peaks) else None,
    }


def _table(title: str, header: list[str], rows: list[list[str]], left: int = 1) -> None:
    """Print a titled table, each column as wide as its widest cell, the first `left` of them
    left-aligned and the others right-aligned."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    for r in [header, *rows]:
        cells = [
            c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))
        ]
        print("  ".join(cells).rstrip())


def _s(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}s"


def _x(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def json_spellings(pairs: int = 50_000) -> dict[str, float]:
    """Microseconds a pair to find that reordered JSON documents hold equal values, by kind."""
    import random

    import polars as pl

    from verify.engine.jsonvalues import same_json_values

    rng = random.Random(1)
    extra = {
        "integers": lambda: rng.randint(1, 20),
        "a bool": lambda: rng.random() < 0.5,
        "a fraction": lambda: round(rng.random() * 10, 2),
        "a long number (exact way)": lambda: rng.randint(10**19, 10**20),
    }
    out = {}
    for kind, value in extra.items():
        docs = [
            {
                "pacing": rng.choice(["ASAP", "EVEN"]),
                "frequency_cap": {"per_day": rng.randint(1, 20)},
                "v": value(),
            }
            for _ in range(pairs)
        ]
        jsonb = [dict(sorted(d.items(), key=lambda kv: (len(kv[0]), kv[0]))) for d in docs]
        old, new = (pl.Series([json.dumps(d) for d in side]) for side in (docs, jsonb))
        seconds, same = timed(same_json_values, old, new)
        if not all(same):
            raise SystemExit(f"JSON documents with {kind}, only reordered, compared unequal")
        out[kind] = round(seconds / pairs * 1e6, 2)
    return out


def zones_per_row(rows: int = 50_000) -> dict[str, float]:
    """Milliseconds to read `rows` naive times each in its own row's zone, by number of zones."""
    import datetime as dt
    import random
    import zoneinfo

    import polars as pl

    from verify.engine.normalize import SideRecipe, convert
    from verify.mapping.types import CanonicalType

    names = sorted(zoneinfo.available_timezones())[:200:2]
    rng = random.Random(1)
    times = [dt.datetime(2024, 1, 1) + dt.timedelta(minutes=rng.randint(0, 500_000)) for _ in range(rows)]
    out = {}
    for zones in (1, 10, 100):
        raw = pl.DataFrame({"t": times, "tz": [rng.choice(names[:zones]) for _ in range(rows)]})
        recipe = SideRecipe("old", "bench", (), None, "tz")
        seconds, _ = timed(convert, raw.get_column("t"), CanonicalType("timestamp"), recipe, raw, "t")
        out[f"{zones} zone{'s' if zones > 1 else ''}"] = round(seconds * 1000, 1)
    return out


def print_tables(
    results: list[dict],
    rss: dict,
    by_algorithm: list[dict],
    spellings: dict[str, float],
    zones: dict[str, float],
) -> None:
    """The final tables: wall, CPU, peak RSS, throttle and Dask, checksums, JSON and zones."""
    from bench import checksums

    rounds = results[0]["rounds"] if results else 0
    rows = []
    for e in results:
        dc = e.get("verify_vs_datacompy")
        rows.append(
            [
                f"{e['rows']:,}",
                f"{e['build_s']:.1f}s",
                _s(e["raw_process_s"]),
                _s(e["raw_inproc_s"]),
                _s(e["verify_s"]),
                _x(e["verify_vs_raw"]),
                _x(e["verify_vs_raw_inproc"]),
                _s(e.get("datacompy_s")),
                "-" if dc is None else f"{dc:.2f}x {_verdict(dc <= VERIFY_VS_DATACOMPY_TARGET)}",
            ]
        )
    _table(
        f"Wall seconds, median of {rounds} rounds; ratios are verify's median over the other's",
        ["rows", "build", "raw process", "raw in-proc", "verify", "v/raw", "v/raw in-proc", "datacompy"]
        + [f"v/datacompy (<= {VERIFY_VS_DATACOMPY_TARGET})"],
        rows,
    )
    _table(
        f"CPU seconds of the client and both servers (sharing the two cores), median of {rounds} rounds",
        ["rows", "raw process", "raw in-proc", "verify", "v/raw", "v/raw in-proc"],
        [
            [
                f"{e['rows']:,}",
                _s(e["raw_process_cpu_s"]),
                _s(e["raw_inproc_cpu_s"]),
                _s(e["verify_cpu_s"]),
                _x(e["verify_vs_raw_cpu"]),
                _x(e["verify_vs_raw_inproc_cpu"]),
            ]
            for e in results
        ],
    )
    _table(
        f"Peak RSS, the highest of {rounds} rounds",
        ["rows", "verify", "raw process"],
        [
            [f"{e['rows']:,}", f"{e['verify_peak_rss_mb']:.0f} MB", f"{e['raw_process_peak_rss_mb']:.0f} MB"]
            for e in results
        ],
    )
    flat = rss["max_over_min"] is not None and rss["max_over_min"] <= RSS_FLAT_MAX
    print(
        f"verify's peak RSS across sizes: {rss['min_mb']:.0f} MB to {rss['max_mb']:.0f} MB, "
        f"max / min = {rss['max_over_min']}: {'flat' if flat else 'NOT flat'} (flat: <= {RSS_FLAT_MAX})"
    )
    _table(
        "Throttle (a quarter of verify's rate) and executors",
        ["rows", "limit rows/s", "achieved rows/s", "local (2 threads)", "dask (2 workers x 1 thread)"],
        [
            [
                f"{e['rows']:,}",
                f"{e['throttle_limit_rows_per_s']:,}",
                f"{e['throttle_achieved_rows_per_s']:,}",
                _s(e["local_2_threads_s"]),
                _s(e["dask_2_workers_s"]),
            ]
            for e in results
            if "dask_2_workers_s" in e
        ],
    )
    links = [("loopback", "", "loopback")]
    links += [(f"{m} Mbit/s", f"_{m}mbit", f"{m}mbit") for m in checksums.LINKS_MBIT]
    rows = []
    for e in by_algorithm:
        target = e.get("target_bytes_sent_ratio")
        for link, suffix, ratio_key in links:
            for algorithm in checksums.ALGORITHMS:
                r = e[f"{algorithm}{suffix}"]
                ratio, by_link, verdict = "", "", ""
                if algorithm == "checksum":
                    value = e["bytes_sent_ratio"][ratio_key]
                    ratio = f"{value:.2%}"
                    if ratio_key in e["bytes_sent_ratio_link_count"]:
                        by_link = f"{e['bytes_sent_ratio_link_count'][ratio_key]:.2%}"
                    verdict = "" if target is None else f"< {target:.0%} {_verdict(value < target)}"
                rows.append(
                    [
                        f"{e['differing']:.2%}",
                        link,
                        algorithm,
                        _s(r["seconds"]),
                        f"{r['rows_read']:,} ({r['rows_read_pct']:.1f}%)",
                        f"{r['mb_moved']:.1f}",
                        f"{r['mariadb_bytes_sent'] / 2**20:.3f} MB" + ("" if r["quiet"] else " *"),
                        ratio,
                        by_link,
                        verdict,
                    ]
                )
    _table(
        "Checksums: MariaDB's bytes sent (its global Bytes_sent before and after), checksum over rows",
        ["differing", "link", "algorithm", "time", "rows read", "MB moved", "MariaDB sent", "ratio"]
        + ["ratio (link count)", "target"],
        rows,
        left=3,
    )
    noisy = [f"{e['differing']:.2%} {k}" for e in by_algorithm for k, r in e.items() if _disturbed(r)]
    if noisy:
        print(
            f"* not quiet in {checksums.TRIES} tries (another client used MariaDB meanwhile; its "
            f"fewest bytes are shown, an upper bound): {', '.join(noisy)}"
        )
    _table(
        "JSON cells of equal values in other key orders (MariaDB text against jsonb), 50,000 pairs",
        ["documents with", "us a pair"],
        [[kind, f"{us:.2f}"] for kind, us in spellings.items()],
    )
    _table(
        "Naive times read each in its own row's zone, 50,000 rows",
        ["rows in", "ms"],
        [[kind, f"{ms:.1f}"] for kind, ms in zones.items()],
    )


def _disturbed(run: object) -> bool:
    """Whether `run` is a checksums run whose Bytes_sent others may have added to."""
    return isinstance(run, dict) and run.get("quiet") is False


def main() -> None:
    sizes = _env_ints("BENCH_ROWS", "1000000,5000000,10000000")
    rounds = _env_ints("BENCH_ROUNDS", "3")[0]
    checksum_rows = _env_ints("BENCH_CHECKSUM_ROWS", "1000000")[0]
    require_servers()
    if min(sizes) <= DATACOMPY_MAX_ROWS and not BENCH_PYTHON.exists():
        raise SystemExit(f"{BENCH_PYTHON} is missing: make .venv-bench/.installed-stamp")
    out_root = ROOT / "bench" / "results"
    out_root.mkdir(parents=True, exist_ok=True)
    results = []
    for rows in sizes:
        print(f"== {rows:,} line items: MariaDB old, PostgreSQL new; {rounds} rounds", flush=True)
        entry = measure_size(rows, out_root, rounds)
        print(json.dumps({k: v for k, v in entry.items() if k != "samples"}), flush=True)
        results.append(entry)
    rss = rss_flatness(results)
    from bench import checksums

    fractions = ", ".join(f"{f:.2%}" for f in checksums.differing_fractions())
    print(f"== checksums: {checksum_rows:,} orders, {fractions} of rows differing", flush=True)
    fresh_databases()
    by_algorithm = checksums.compare(VERIFY, ROOT, MYSQL, POSTGRES, checksum_rows)
    spellings, zones = json_spellings(), zones_per_row()
    latest = {
        "sizes": results,
        "verify_peak_rss": rss,
        "checksums": by_algorithm,
        "json_us_per_pair": spellings,
        "zones_per_row_ms": zones,
    }
    (out_root / "latest.json").write_text(json.dumps(latest, indent=2) + "\n")
    print_tables(results, rss, by_algorithm, spellings, zones)


if __name__ == "__main__":
    if sys.argv[1:] == ["--datacompy"]:
        print(_datacompy_inline())
    else:
        main()
