"""`verify gate` through click: exit codes, the three formats, fail-closed messages, one subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from gate_fixtures import edit_json
from prometheus_client.parser import text_string_to_metric_families

from verify.cli import main


def gate(run: Path, policy: str, stage: str, *extra: str):
    return CliRunner().invoke(main, ["gate", "--run", str(run), "--policy", policy, "--stage", stage, *extra])


def test_pass_is_exit_0_and_says_the_highest_stage(runs, policy):
    result = gate(runs["clean"], policy(), "1")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("PASS at stage 1\n")
    assert "PASS         t: blocking rate 0% <= 1% allowed at stage 1 (2,000 rows compared)" in result.output
    assert "all rows compared" in result.output
    assert result.output.rstrip().endswith("highest stage this run passes: 5")


def test_fail_is_exit_1_with_the_reason(runs, policy):
    result = gate(runs["dirty"], policy(), "5")
    assert result.exit_code == 1
    assert "FAIL at stage 5: 1 of 1 entities did not pass" in result.output
    assert "t: blocking rate 0.5% > 0.1% allowed at stage 5" in result.output
    assert "highest stage this run passes: 1" in result.output


def test_inconclusive_fails_unless_told_to_pass(runs, policy):
    assert gate(runs["clean"], policy(), "25").exit_code == 1
    result = gate(runs["clean"], policy(), "25", "--inconclusive", "pass")
    assert result.exit_code == 0 and result.output.startswith("INCONCLUSIVE at stage 25")
    # --inconclusive pass never lets a FAIL through
    assert gate(runs["dirty"], policy(), "25", "--inconclusive", "pass").exit_code == 1


def test_json_is_the_design_contract(runs, policy):
    result = gate(runs["dirty"], policy(), "5", "--format", "json")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert (out["verdict"], out["stage"], out["highest_passing_stage"]) == ("FAIL", 5, 1)
    t = out["entities"]["t"]
    assert (t["verdict"], t["rate"], t["upper_bound"], t["allowed"]) == ("FAIL", 0.005, 0.005, 0.001)
    assert t["reason"] == "t: blocking rate 0.5% > 0.1% allowed at stage 5"
    assert out["reasons"] == [t["reason"]]


def test_prometheus_metrics_parse(runs, policy, tmp_path):
    result = gate(runs["dirty"], policy(), "5", "--format", "prometheus")
    assert result.exit_code == 1
    families = {f.name: f for f in text_string_to_metric_families(result.output)}
    samples = {
        (f.name, tuple(sorted(s.labels.items()))): s.value for f in families.values() for s in f.samples
    }
    assert samples[("verify_gate_verdict", (("stage", "5"), ("verdict", "FAIL")))] == 1
    assert samples[("verify_gate_verdict", (("stage", "5"), ("verdict", "PASS")))] == 0
    assert samples[("verify_gate_passed", (("stage", "5"),))] == 0
    assert samples[("verify_gate_blocking_rate", (("entity", "t"),))] == 0.005
    assert samples[("verify_gate_compared_rows", (("entity", "t"),))] == 2000
    assert samples[("verify_gate_allowed_rate", (("entity", "t"), ("stage", "5")))] == 0.001
    rule = (("entity", "t"), ("rule", "unexplained"), ("severity", "block"))
    assert samples[("verify_gate_rule_rate", rule)] == 0.005
    assert samples[("verify_gate_highest_passing_stage_percent", ())] == 1
    assert samples[("verify_gate_sample_fraction", ())] == 1
    assert all(f.type == "gauge" for f in families.values())


def test_fail_closed_is_exit_1_and_says_why(run_copy, policy):
    run = run_copy("clean")
    edit_json(run / "run.json", lambda r: r.update(status="partial"))
    result = gate(run, policy(), "1", "--format", "json")
    assert result.exit_code == 1
    out = json.loads(result.output)
    assert out["verdict"] == "FAIL" and out["highest_passing_stage"] is None
    assert out["problems"] == [
        "the run is partial: some segments failed or were not run; only a complete run can pass"
    ]
    text = gate(run, policy(), "1")
    assert "FAIL at stage 1 (fail-closed)\n  - the run is partial" in text.output


def test_bad_input_is_exit_2(runs, policy):
    result = gate(runs["clean"], policy(), "10")
    assert result.exit_code == 2
    assert (
        "error: --stage 10 is not a stage of" in result.output and "stages there: 1, 5, 25" in result.output
    )
    result = gate(runs["clean"], "missing.yaml", "1")
    assert result.exit_code == 2 and "policy file not found" in result.output
    result = gate(runs["clean"], policy(), "ten")
    assert result.exit_code == 2 and "'ten' is not a valid float" in result.output
    assert "Traceback" not in result.output


def test_real_subprocess(runs, policy):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    argv = [
        "gate",
        "--run",
        str(runs["dirty"]),
        "--policy",
        policy(),
        "--stage",
        "1",
        "--format",
        "prometheus",
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "verify.cli", *argv], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 0, proc.stderr
    assert 'verify_gate_passed{stage="1"} 1.0' in proc.stdout
    assert proc.stderr == ""
