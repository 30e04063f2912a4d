"""The command line: help and version, diff and check through CliRunner, and one real subprocess."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from verify import __version__
from verify.cli import main

MAPPING = """version: 1
entities:
  orders:
    old: {table: orders, timezone: America/New_York}
    new: {table: orders}
    key: [id]
    columns:
      name: {}
      amount: {old: "amount_micros / 1000000", new: amount, type: "decimal(18,6)"}
      created: {type: timestamp}
"""


@pytest.fixture()
def stores(tmp_path: Path) -> dict[str, str]:
    """Old and new SQLite stores with one changed amount and one row missing in new."""
    old, new = tmp_path / "old.db", tmp_path / "new.db"
    with sqlite3.connect(old) as c:
        c.execute("CREATE TABLE orders (id INTEGER, name TEXT, amount_micros INTEGER, created TEXT)")
        c.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [
                (1, "a", 1_500_000, "2024-01-01 10:00:00"),
                (2, "b", 2_000_001, "2024-07-01 10:00:00"),  # new says 2.000000: differs
                (3, "c", 3_000_000, "2024-01-01 10:00:00"),  # missing in new
            ],
        )
    with sqlite3.connect(new) as c:
        c.execute("CREATE TABLE orders (id INTEGER, name TEXT, amount TEXT, created TEXT)")
        c.executemany(
            "INSERT INTO orders VALUES (?, ?, ?, ?)",
            [
                (1, "a", "1.500000", "2024-01-01 15:00:00+00:00"),
                (2, "b", "2.000000", "2024-07-01 14:00:00+00:00"),
            ],
        )
    mapping = tmp_path / "m.yaml"
    mapping.write_text(MAPPING)
    return {
        "mapping": str(mapping),
        "old": f"sqlite:///{old}",
        "new": f"sqlite:///{new}",
        "out": str(tmp_path / "run"),
    }


def diff_argv(stores: dict[str, str], *extra: str) -> list[str]:
    """`verify diff` over the fixture's stores, with extra options."""
    return [
        "diff",
        "--mapping",
        stores["mapping"],
        "--old",
        stores["old"],
        "--new",
        stores["new"],
        "--out",
        stores["out"],
        *extra,
    ]


def test_help_and_version():
    runner = CliRunner()
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("diff", "check", "gate", "report", "scenario"):
        assert command in result.output
    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_diff_reports_blocking_differences_and_writes_the_run(stores):
    result = CliRunner().invoke(main, diff_argv(stores, "--format", "json", "--workers", "1"))
    assert result.exit_code == 1, result.output
    summary = json.loads(result.output)
    orders = summary["entities"]["orders"]
    assert (orders["compared"], orders["matched"], orders["missing_in_new"]) == (3, 1, 1)
    assert orders["by_column"] == {"amount": 1}
    run = json.loads(Path(stores["out"], "run.json").read_text())
    assert run["status"] == "complete"
    assert run["segments"]["done"] == run["segments"]["total"] == 1
    assert json.loads(Path(stores["out"], "summary.json").read_text())["entities"] == summary["entities"]


def test_urls_may_come_from_the_environment(stores):
    result = CliRunner().invoke(
        main,
        ["diff", "--mapping", stores["mapping"], "--out", stores["out"], "--workers", "1"],
        env={"VERIFY_OLD_URL": stores["old"], "VERIFY_NEW_URL": stores["new"]},
    )
    assert result.exit_code == 1, result.output
    assert "orders: 3 rows compared" in result.output


def test_check_describes_the_plan(stores):
    result = CliRunner().invoke(
        main, ["check", "--mapping", stores["mapping"], "--old", stores["old"], "--new", stores["new"]]
    )
    assert result.exit_code == 0, result.output
    assert "orders: ok" in result.output
    assert "amount decimal(18,6)" in result.output and "created timestamp(6)" in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--mapping", "nope.yaml"], "mapping file not found"),
        (["--old", "notaurl"], "is not a database URL"),
        (["--entity", "ghost"], "--entity ghost is not in"),
    ],
)
def test_bad_input_exits_2_with_one_message(stores, args, needle):
    base = {
        "--mapping": stores["mapping"],
        "--old": stores["old"],
        "--new": stores["new"],
        "--out": stores["out"],
    }
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    argv = ["diff", *[x for kv in base.items() for x in kv]]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "Traceback" not in result.output


def test_a_used_run_directory_is_refused(stores):
    argv = diff_argv(stores, "--workers", "1")
    assert CliRunner().invoke(main, argv).exit_code == 1
    again = CliRunner().invoke(main, argv)
    assert again.exit_code == 2 and "already holds files" in again.output


def test_password_is_masked_in_errors(stores):
    url = "mysql+pymysql://root:s3cr3t-pw@127.0.0.1:1/none"
    result = CliRunner().invoke(main, diff_argv({**stores, "old": url}))
    assert result.exit_code == 2, result.output
    assert "s3cr3t-pw" not in result.output
    assert "***" in result.output


def test_real_subprocess_run(stores):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [sys.executable, "-m", "verify.cli", *diff_argv(stores, "--workers", "2")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "orders: 3 rows compared" in proc.stdout
    assert "missing in new" in proc.stdout
    assert proc.stderr == ""


def test_a_terminal_gets_a_progress_bar(stores):
    """With stderr on a terminal (a pseudo-terminal here), verify draws its progress bar there;
    the summary on stdout is as without (test_real_subprocess_run: no terminal, no bar)."""
    pty = pytest.importorskip("pty")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    leader, follower = pty.openpty()
    with subprocess.Popen(
        [sys.executable, "-m", "verify.cli", *diff_argv(stores, "--workers", "1")],
        stdout=subprocess.PIPE,
        stderr=follower,
        text=True,
        env=env,
    ) as proc:
        os.close(follower)
        drawn = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # EIO: verify has exited, the terminal is closed
                break
            if not chunk:
                break
            drawn += chunk
        out = proc.stdout.read() if proc.stdout else ""
    os.close(leader)
    assert proc.returncode == 1, drawn
    assert "orders: 3 rows compared" in out
    bar = drawn.decode()
    assert bar.startswith("\r[########################] 1/1 segments  ") and "rows/s  ETA    0s " in bar, bar
    assert bar.endswith("\r\n"), bar  # the bar's line is ended (the terminal shows "\n" as "\r\n")


def test_a_failed_segment_makes_a_partial_run_with_exit_3(tmp_path):
    """A value that cannot be converted fails its segment only; the run says partial, exit 3."""
    db = tmp_path / "s.db"
    with sqlite3.connect(db) as c:
        c.execute("CREATE TABLE t (id INTEGER, qty TEXT)")
        c.executemany("INSERT INTO t VALUES (?, ?)", [(i, str(i)) for i in range(1, 41)])
        c.execute("UPDATE t SET qty = 'twelve' WHERE id = 35")  # lands in the last segment
    mapping = tmp_path / "m.yaml"
    mapping.write_text(
        "version: 1\nentities:\n  t:\n    old: {table: t}\n    new: {table: t}\n    key: [id]\n"
        "    columns:\n      qty: {type: int}\n"
    )
    out = tmp_path / "run"
    result = CliRunner().invoke(
        main,
        [
            "diff",
            "--mapping",
            str(mapping),
            "--old",
            f"sqlite:///{db}",
            "--new",
            f"sqlite:///{db}",
            "--out",
            str(out),
            "--segment-rows",
            "10",
            "--workers",
            "1",
        ],
    )
    assert result.exit_code == 3, result.output
    assert "'twelve'" in result.output and "PARTIAL" in result.output
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "partial"
    assert run["segments"]["done"] == run["segments"]["total"] - 1
    assert [f["index"] for f in run["segments"]["failed"]] == [run["segments"]["total"] - 1]
    assert json.loads((out / "summary.json").read_text())["status"] == "partial"


@pytest.mark.parametrize(
    ("url", "needle"),
    [
        ("mysql+pymysql://root:pw-s3cr3t@127.0.0.1:1/x", "Connection refused"),
        ("foo://x/y", "unknown database type 'foo'"),
        ("sqlite:///no/such/file.db", "there is no SQLite file"),
        pytest.param(
            "mysql+pymysql://root:pw-s3cr3t@127.0.0.1:3306/test", "Access denied", marks=pytest.mark.mysql
        ),
        pytest.param(
            "mysql+pymysql://root@127.0.0.1:3306/no_such_db_here", "Unknown database", marks=pytest.mark.mysql
        ),
        pytest.param(
            "postgresql+psycopg://root@127.0.0.1:5432/no_such_db_here",
            "does not exist",
            marks=pytest.mark.postgres,
        ),
    ],
)
def test_a_source_that_cannot_be_reached_is_one_clear_error(stores, url, needle):
    result = CliRunner().invoke(main, diff_argv({**stores, "old": url}))
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert "s3cr3t" not in result.output and "Traceback" not in result.output
    assert not Path(stores["out"]).exists()  # nothing written for a run that never started


def test_shell_completion_offers_commands_options_and_choices():
    """The README's completion line works: bash asks the real verify command what completes."""

    def complete(words: str) -> list[str]:
        env = {**os.environ, "_VERIFY_COMPLETE": "bash_complete", "COMP_WORDS": words}
        env["COMP_CWORD"] = str(len(words.split(" ")) - 1)
        verify = str(Path(sys.executable).with_name("verify"))  # the installed command, as a shell runs it
        out = subprocess.run([verify], env=env, capture_output=True, text=True, check=True).stdout
        return [line.split(",", 1)[1] for line in out.splitlines()]

    assert complete("verify di") == ["diff"]
    assert complete("verify diff --rea") == ["--reader"]
    assert complete("verify diff --reader ") == ["auto", "adbc", "connectorx", "sqlalchemy"]
