"""`make bench`: verify diff against the raw read of both sides and datacompy, in one run.

Builds the DFP -> F1 scenario (old in MariaDB, new in PostgreSQL) at each size, then times:
  raw       the fastest raw read of both sides in parallel (ConnectorX to Arrow, two threads)
  verify    `verify diff --entity line_item` as a real subprocess (wall time, peak RSS)
  CPU       of raw and verify: the client's CPU seconds plus both servers', since on two cores
            shared by all three, every CPU second anyone spends shows in the wall time
  datacompy datacompy's Polars compare of the same tables, loaded with ConnectorX
  dask      (up to 2M rows) the local executor with 2 threads vs --executor dask on a
            LocalCluster of 2 worker processes with 1 thread each (started before the clock)
Writes bench/results/latest.json and prints a table. Sizes: BENCH_ROWS (default 1000000,10000000);
BENCH_DB names the database dropped and rebuilt on both servers (default verify_bench).
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import connectorx as cx

ROOT = Path(__file__).resolve().parents[1]
VERIFY = str(Path(sys.executable).with_name("verify"))
DB = os.environ.get("BENCH_DB", "verify_bench")  # dropped and rebuilt on both servers
MYSQL = f"mysql+pymysql://root@127.0.0.1:3306/{DB}"
POSTGRES = f"postgresql+psycopg://root@127.0.0.1:5432/{DB}"
CX_MYSQL = f"mysql://root@127.0.0.1:3306/{DB}"
CX_POSTGRES = f"postgresql://root@127.0.0.1:5432/{DB}"
OLD_COLS = (
    "id, order_id, advertiser_id, name, status_code, line_type, start_time, end_time, "
    "budget_micros, cost_per_unit_micros, units_bought, deleted, updated_at"
)
NEW_COLS = (
    "advertiser_id, campaign_id, line_item_id, name, state, line_type, start_time, end_time, "
    "budget, cost_per_unit, units_bought, archived, updated_at"
)


def fresh_databases() -> None:
    import psycopg
    import pymysql

    with pymysql.connect(host="127.0.0.1", user="root", autocommit=True) as conn, conn.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS {DB}")
        cur.execute(f"CREATE DATABASE {DB} CHARACTER SET utf8mb4")
    with psycopg.connect("host=127.0.0.1 user=root dbname=postgres", autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
        conn.execute(f"CREATE DATABASE {DB}")


def timed(fn, *args):
    start = time.perf_counter()
    out = fn(*args)
    return time.perf_counter() - start, out


# ConnectorX cannot read MySQL's zero dates; the old side reads them as NULL, as verify does.
ZERO_DATE_GUARD = "CASE WHEN MONTH(end_time) = 0 OR DAYOFMONTH(end_time) = 0 THEN NULL ELSE end_time END"
OLD_SQL = f"SELECT {OLD_COLS.replace('end_time,', ZERO_DATE_GUARD + ' AS end_time,', 1)} FROM line_items"
NEW_SQL = f"SELECT {NEW_COLS} FROM line_item"
# The raw read reads every column the mapping compares, each the plainest way ConnectorX can.
OLD_EXTRA = ", settings, targeting, ST_AsBinary(geo) AS geo, CAST(flags AS UNSIGNED) AS flags"
NEW_EXTRA = ", settings::text AS settings, targeting, geo::text AS geo, flags"
RAW_OLD_SQL = OLD_SQL.replace(" FROM line_items", OLD_EXTRA + " FROM line_items")
RAW_NEW_SQL = NEW_SQL.replace(" FROM line_item", NEW_EXTRA + " FROM line_item")


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


def raw_read() -> tuple[float, float]:
    """Both sides read whole, in parallel, the fastest way we know (ConnectorX -> Arrow): wall
    seconds and CPU seconds (this process's and the servers')."""
    start, cpu = time.perf_counter(), time.process_time() + servers_cpu()
    with ThreadPoolExecutor(2) as pool:
        a = pool.submit(cx.read_sql, CX_MYSQL, RAW_OLD_SQL, return_type="arrow")
        b = pool.submit(cx.read_sql, CX_POSTGRES, RAW_NEW_SQL, return_type="arrow")
        rows = a.result().num_rows + b.result().num_rows
    assert rows > 0
    seconds = time.perf_counter() - start
    time.sleep(0.3)  # the servers' sessions end and are counted
    return seconds, time.process_time() + servers_cpu() - cpu


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


def run_with_peak_rss(argv: list[str]) -> tuple[float, int, int, float]:
    """Wall seconds, peak RSS (bytes, the kernel's high-water mark), the exit code, and the CPU
    seconds of the command and of both database servers.

    verify runs its segments on threads, so the process's own maximum resident set, as
    wait4() reports it, is the true peak: no sampling that could miss a short spike.
    """
    before = servers_cpu()
    proc = subprocess.run([sys.executable, "-c", _MEASURE, *argv], capture_output=True, cwd=ROOT)
    time.sleep(0.3)  # the servers' sessions end and are counted
    seconds, peak, code, cpu = proc.stdout.decode().split()[-4:]
    if int(code) not in (0, 1):
        raise SystemExit(f"verify diff failed ({code}): {proc.stderr.decode()[-2000:]}")
    return float(seconds), int(peak), int(code), float(cpu) + servers_cpu() - before


def verify_diff(out: Path, *extra: str) -> tuple[float, int, float]:
    """Wall seconds, peak RSS and CPU seconds (verify's and the servers') of `verify diff`."""
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
        "--out",
        str(out),
        *extra,
    ]
    seconds, peak, _, cpu = run_with_peak_rss(argv)
    return seconds, peak, cpu


BENCH_PYTHON = ROOT / ".venv-bench" / "bin" / "python"


def datacompy_compare() -> float:
    """datacompy's Polars compare, given frames already in the canonical shape it needs.

    Runs in .venv-bench (datacompy needs pandas; verify is measured without it, as installed).
    """
    proc = subprocess.run(
        [str(BENCH_PYTHON), __file__, "--datacompy"], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return float(proc.stdout.strip().splitlines()[-1])


STATES = {0: "DRAFT", 1: "READY", 2: "DELIVERING", 3: "PAUSED", 4: "COMPLETED", 5: "CANCELED"}


def _datacompy_inline() -> float:
    """datacompy compares the same ten columns verify does, on the same keys.

    The old side is brought to the new side's shape the way the mapping says (renamed keys,
    mapped states, New York local times to UTC, micros to units, deleted to archived), in
    Polars, and that preparation is timed too, as verify's canonicalization is.
    """
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
        local_s = verify_diff(local_dir, "--workers", "2")[0]
        dask_s = verify_diff(dask_dir, "--executor", "dask", "--scheduler", cluster.scheduler_address)[0]
    same = [json.loads((d / "summary.json").read_text())["entities"] for d in (local_dir, dask_dir)]
    if same[0] != same[1]:
        raise SystemExit("the Dask run's summary differs from the local run's")
    for d in (local_dir, dask_dir):
        subprocess.run(["rm", "-rf", str(d)], check=False)
    return {"local_2_threads_s": round(local_s, 2), "dask_2_workers_s": round(dask_s, 2)}


def main() -> None:
    sizes = [int(s) for s in os.environ.get("BENCH_ROWS", "1000000,10000000").split(",")]
    out_root = ROOT / "bench" / "results"
    out_root.mkdir(parents=True, exist_ok=True)
    results = []
    for rows in sizes:
        print(f"== {rows:,} line items: building the scenario (MariaDB old, PostgreSQL new)", flush=True)
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
        build_s = timed(functools.partial(subprocess.run, build, check=True, stdout=subprocess.DEVNULL))[0]
        entry: dict = {"rows": rows, "build_s": round(build_s, 2)}
        raw_read()  # warm both servers' caches so every contender reads from memory
        raw_s, raw_cpu = min(raw_read() for _ in range(2))
        entry["raw_read_s"], entry["raw_read_cpu_s"] = round(raw_s, 2), round(raw_cpu, 2)
        run_dir = out_root / f"run-{rows}-{int(time.time())}"
        seconds, peak, cpu = verify_diff(run_dir)
        entry["verify_s"], entry["verify_cpu_s"] = round(seconds, 2), round(cpu, 2)
        entry["verify_vs_raw_cpu"] = round(cpu / raw_cpu, 2)
        entry["verify_peak_rss_mb"] = round(peak / 2**20, 1)
        entry["verify_vs_raw"] = round(seconds / entry["raw_read_s"], 2)
        if rows <= 2_000_000:
            entry["datacompy_s"] = round(datacompy_compare(), 2)
            entry["datacompy_vs_verify"] = round(entry["datacompy_s"] / seconds, 2)
            # The throttle holds: a limit of a quarter of the unthrottled rate, per store.
            limit = round(rows / seconds / 4)
            slow_dir = out_root / f"run-throttled-{rows}"
            throttled = verify_diff(slow_dir, "--max-rows-per-second", str(limit))[0]
            entry["throttle_limit_rows_per_s"] = limit
            entry["throttle_achieved_rows_per_s"] = round(rows / throttled)
            subprocess.run(["rm", "-rf", str(slow_dir)], check=False)
            entry.update(local_vs_dask(out_root, rows))
        subprocess.run(["rm", "-rf", str(run_dir)], check=False)
        print(json.dumps(entry), flush=True)
        results.append(entry)
    print("== checksums: 1,000,000 orders, 0.01% and 5% of rows differing", flush=True)
    from bench import checksums

    fresh_databases()
    by_algorithm = checksums.compare(
        VERIFY, ROOT, MYSQL, POSTGRES, int(os.environ.get("BENCH_CHECKSUM_ROWS", 1_000_000))
    )
    (out_root / "latest.json").write_text(
        json.dumps({"sizes": results, "checksums": by_algorithm}, indent=2) + "\n"
    )
    nan = float("nan")
    print("\nrows        build   raw read   verify   ratio  peak RSS  datacompy  dc/verify")
    for e in results:
        print(
            f"{e['rows']:>10,}  {e['build_s']:>6.1f}s  {e['raw_read_s']:>7.2f}s  {e['verify_s']:>6.2f}s  "
            f"{e['verify_vs_raw']:>5.2f}x  {e['verify_peak_rss_mb']:>6.0f} MB  "
            f"{e.get('datacompy_s', nan):>8.2f}s  {e.get('datacompy_vs_verify', nan):>8.2f}x"
        )
    print("\nCPU seconds, client and both servers (the machine's two cores are shared by all three)")
    print("rows        raw read   verify   ratio")
    for e in results:
        print(
            f"{e['rows']:>10,}  {e['raw_read_cpu_s']:>7.2f}s  {e['verify_cpu_s']:>6.2f}s  "
            f"{e['verify_vs_raw_cpu']:>5.2f}x"
        )
    print("\nrows        local (2 threads)  dask (2 workers x 1 thread)")
    for e in results:
        if "dask_2_workers_s" in e:
            print(f"{e['rows']:>10,}  {e['local_2_threads_s']:>15.2f}s  {e['dask_2_workers_s']:>25.2f}s")
    print("\ndiffering  link         algorithm   time   rows read            MB moved")
    for e in by_algorithm:
        runs = [("loopback", a, e[a]) for a in ("rows", "checksum")]
        runs += [
            (f"{m} Mbit/s", a, e.get(f"{a}_{m}mbit"))
            for m in checksums.LINKS_MBIT
            for a in ("rows", "checksum")
        ]
        for link, algorithm, r in runs:
            if r is None:
                continue
            print(
                f"{e['differing']:>8.2%}  {link:<12} {algorithm:<9} {r['seconds']:>6.2f}s  "
                f"{r['rows_read']:>9,} ({r['rows_read_pct']:>5.1f}%)  {r['mb_moved']:>8.1f}"
            )


if __name__ == "__main__":
    if sys.argv[1:] == ["--datacompy"]:
        print(_datacompy_inline())
    else:
        main()
