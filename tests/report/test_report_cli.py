"""`verify report` on the command line: outputs, defaults, and one clear message for bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from report_fixtures import RUN_IDS

from verify.cli import main


def test_without_an_output_option_the_markdown_goes_to_stdout(runs):
    result = CliRunner().invoke(main, ["report", "--run", str(runs[2])])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# verify report")
    assert "| line\\_item | 🔴 BLOCKING | 10 |" in result.stdout


def test_every_format_to_its_file(runs, tmp_path):
    out = tmp_path / "out" / "deeper"
    argv = ["report", "--run", str(runs[2]), "--html", str(out / "r.html"), "--markdown", str(out / "r.md")]
    argv += ["--junit", str(out / "r.xml"), "--json", str(out / "r.json")]
    result = CliRunner().invoke(main, argv)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "r.html",
        "r.json",
        "r.md",
        "r.xml",
    ]  # no temp files left
    assert (out / "r.html").read_text().startswith("<!DOCTYPE html>")
    assert json.loads((out / "r.json").read_text())["verdict"] == "block"
    assert f"html report: {out / 'r.html'}" in result.stderr


def test_compare_to_and_no_compare(runs):
    result = CliRunner().invoke(main, ["report", "--run", str(runs[2]), "--compare-to", str(runs[0])])
    assert result.exit_code == 0, result.output
    assert f"## Since {RUN_IDS[0].replace('_', chr(92) + '_')} (--compare-to)" in result.stdout
    result = CliRunner().invoke(main, ["report", "--run", str(runs[2]), "--no-compare"])
    assert result.exit_code == 0 and "## Since" not in result.stdout
    result = CliRunner().invoke(main, ["report", "--run", str(runs[2]), "--compare-to", str(runs[2])])
    assert result.exit_code == 2 and "is the run itself" in result.output


def test_bad_run_directories_exit_2_with_one_message(runs, tmp_path):
    (runs[1] / "run.json").write_text("{broken")
    for run, needle in (
        (tmp_path / "nope", "does not exist"),
        (runs[1], "run.json is corrupt (invalid JSON at line 1"),
        (tmp_path, "is not a verify run directory (no run.json)"),
    ):
        result = CliRunner().invoke(main, ["report", "--run", str(run)])
        assert result.exit_code == 2, result.output
        assert needle in result.output and "Traceback" not in result.output
    result = CliRunner().invoke(main, ["report", "--run", str(runs[2]), "--markdown", "-", "--json", "-"])
    assert result.exit_code == 2 and "only one report can go to stdout" in result.output


def test_an_unwritable_output_is_one_clear_message(runs, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = CliRunner().invoke(main, ["report", "--run", str(runs[2]), "--html", str(blocker / "r.html")])
    assert result.exit_code == 2, result.output
    assert "cannot write --html" in result.output and "Traceback" not in result.output


def test_real_subprocess(runs):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "verify.cli",
            "report",
            "--run",
            str(runs[2].parent / "latest"),
            "--junit",
            "-",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    assert 'failures="1"' in proc.stdout


def test_the_gate_verdict_is_on_the_page_beside_the_reports_own(tmp_path):
    """The DFP demo's creative entity has blocking rows (BLOCKING here) under the 1% the gate
    allows at stage 1 (PASS there); with --policy and --stage the page says both, and why."""
    from verify.scenario import build

    old, new = f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}"
    build("dfp_to_f1", old_url=old, new_url=new, rows=20_000, seed=1)  # as `make demo`
    root = Path(__file__).resolve().parents[2]
    run_dir = tmp_path / "run"
    diff = ["diff", "--mapping", str(root / "mappings/dfp_to_f1.yaml"), "--old", old, "--new", new]
    assert CliRunner().invoke(main, [*diff, "--out", str(run_dir)]).exit_code == 1
    policy = str(root / "scenarios/dfp_to_f1/rollout.yaml")
    page = tmp_path / "r.html"
    args = ["report", "--run", str(run_dir), "--html", str(page), "--markdown", "-", "--policy", policy]
    result = CliRunner().invoke(main, [*args, "--stage", "1"])
    assert result.exit_code == 0, result.output
    html = page.read_text()
    assert '<section id="gate" data-verdict="FAIL"' in html
    assert "PASS         creative: blocking rate" in html and "counts every blocking row" in html
    assert "**Rollout gate at stage 1%: FAIL**" in result.output
    alone = CliRunner().invoke(main, ["report", "--run", str(run_dir), "--policy", policy])
    assert alone.exit_code == 2 and "--policy and --stage go together" in alone.output
