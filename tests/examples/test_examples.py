"""The pipeline examples: each YAML file is well-formed and valid for its tool, and every `verify`
command line in it parses with the real command line (options, choices, required options).

Schemas, offline: GitHub workflows against SchemaStore's schema as vendored by check-jsonschema;
the Argo Job and pod templates against Kubernetes' own (kubernetes-validate). Argo Rollouts
publishes no JSON schema in a package, so its own fields are checked structurally.
"""

from __future__ import annotations

import json
import re
import shlex
from importlib import resources
from pathlib import Path
from typing import Any

import click
import jsonschema
import kubernetes_validate
import pytest
import yaml

from verify.cli import main
from verify.gate.policy import load_policy

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
POLICY = ROOT / "scenarios" / "dfp_to_f1" / "rollout.yaml"
K8S = "1.30.0"


def load(path: Path) -> list[dict[str, Any]]:
    docs = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert docs and all(isinstance(d, dict) for d in docs)
    return docs


def verify_commands(script: str, stage: str) -> list[list[str]]:
    """Every `verify ...` command in a shell script, its variables filled in, split as the shell would."""
    commands = []
    for line in script.splitlines():
        line = line.strip()
        if not line.startswith("verify "):
            continue
        line = re.split(r"\s(?:\|\||&&|\||>)\s?", line)[0]  # the command only, not what follows
        line = line.replace("{{args.stage}}", stage).replace('"$STAGE"', stage)
        assert "$" not in line and "{{" not in line, line
        commands.append(shlex.split(line)[1:])
    return commands


def parses(argv: list[str]) -> click.Context:
    """Parse a command line with the real CLI, as `verify` would, without running it."""
    with main.make_context("verify", list(argv), resilient_parsing=False) as ctx:
        command = main.get_command(ctx, argv[0])
        assert command is not None, f"no command {argv[0]}"
        return command.make_context(argv[0], list(argv[1:]), parent=ctx)


@pytest.fixture(autouse=True)
def store_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    """The examples take the store URLs from the environment, as their secrets provide them."""
    monkeypatch.setenv("VERIFY_OLD_URL", "mysql+pymysql://verify@old-db/ads")
    monkeypatch.setenv("VERIFY_NEW_URL", "postgresql+psycopg://verify@new-db/ads")


def test_the_command_parser_is_strict():
    """The check below would catch a wrong option or a missing required one."""
    with pytest.raises(click.UsageError):
        parses(["gate", "--run", "r", "--policy", "p.yaml", "--stage", "1", "--colour", "red"])
    with pytest.raises(click.UsageError):
        parses(["gate", "--run", "r", "--stage", "1"])
    ctx = parses(["gate", "--run", "r", "--policy", "p.yaml", "--stage", "25"])
    assert ctx.params["stage"] == 25.0


# --- Argo Rollouts ------------------------------------------------------------------------------


def test_argo_analysis_template():
    (template,) = load(EXAMPLES / "argo" / "analysis-template.yaml")
    assert (template["apiVersion"], template["kind"]) == ("argoproj.io/v1alpha1", "AnalysisTemplate")
    assert template["metadata"]["name"] == "verify-gate"
    declared = {a["name"] for a in template["spec"]["args"]}
    (metric,) = template["spec"]["metrics"]
    assert set(metric) <= {"name", "count", "failureLimit", "provider", "interval", "successCondition"}
    job = metric["provider"]["job"]
    assert set(job) == {"metadata", "spec"}
    # The Job provider's spec is a batch/v1 JobSpec: hold it to Kubernetes' schema.
    kubernetes_validate.validate(
        {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "verify-gate"}, **job},
        K8S,
        strict=True,
    )
    assert job["spec"]["backoffLimit"] == 0  # a failed gate is not retried into a pass
    (container,) = job["spec"]["template"]["spec"]["containers"]
    env = {e["name"] for e in container["env"]}
    assert env == {"VERIFY_OLD_URL", "VERIFY_NEW_URL"}
    script = "\n".join(container["args"])
    used = set(re.findall(r"{{args\.(\w+)}}", script))
    assert used == declared == {"stage"}
    commands = verify_commands(script, "25")
    assert [c[0] for c in commands] == ["diff", "gate"]
    for argv in commands:
        parses(argv)
    assert "--stage" in commands[1] and "/work/run" in commands[0] and "/work/run" in commands[1]


def test_argo_rollout_steps_are_the_policy_stages():
    (rollout,) = load(EXAMPLES / "argo" / "rollout.yaml")
    assert (rollout["apiVersion"], rollout["kind"]) == ("argoproj.io/v1alpha1", "Rollout")
    # the pod template is a Kubernetes PodTemplateSpec: validate it inside a Deployment
    kubernetes_validate.validate(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": rollout["metadata"]["name"]},
            "spec": {"selector": rollout["spec"]["selector"], "template": rollout["spec"]["template"]},
        },
        K8S,
        strict=True,
    )
    steps = rollout["spec"]["strategy"]["canary"]["steps"]
    assert all(len(s) == 1 and next(iter(s)) in ("analysis", "setWeight", "pause") for s in steps)
    policy = load_policy(str(POLICY))
    gated = []
    for i, step in enumerate(steps):
        if "analysis" in step:
            assert step["analysis"]["templates"] == [{"templateName": "verify-gate"}]
            (arg,) = step["analysis"]["args"]
            gated.append(float(arg["value"]))
            policy.stage(float(arg["value"]))  # a stage of the policy, or UsageError
            if i + 1 < len(steps):  # the gate comes before the weight it allows
                assert steps[i + 1] == {"setWeight": int(arg["value"])}
    assert gated == [s.percent for s in policy.stages]


# --- GitHub Actions -----------------------------------------------------------------------------


def github_schema() -> dict[str, Any]:
    vendor = resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads(vendor.joinpath("github-workflows.json").read_text())


def test_github_workflow_is_valid_for_github():
    # YAML 1.1 reads the key `on` as True; GitHub reads it as "on": load it as GitHub does.
    text = (EXAMPLES / "github" / "verify.yml").read_text()
    (workflow,) = load(EXAMPLES / "github" / "verify.yml")
    workflow = {("on" if k is True else k): v for k, v in workflow.items()}
    jsonschema.validate(workflow, github_schema())
    assert "on:" in text
    steps = workflow["jobs"]["verify"]["steps"]
    names = [s.get("name") for s in steps]
    assert names.index("Diff") < names.index("Gate") < names.index("Report")
    script = "\n".join(s.get("run", "") for s in steps)
    commands = verify_commands(script, "25")
    assert [c[0] for c in commands] == ["diff", "gate", "report"]
    for argv in commands:
        parses(argv)
    assert "$GITHUB_STEP_SUMMARY" in script and "--markdown" in commands[2]
    assert load_policy(str(ROOT / commands[1][commands[1].index("--policy") + 1]))
    env = workflow["jobs"]["verify"]["env"]
    assert env["VERIFY_OLD_URL"] == "${{ secrets.VERIFY_OLD_URL }}"  # never a URL in the file


def test_the_schema_check_is_real():
    """A workflow with a misspelt key fails the same validation."""
    (workflow,) = load(EXAMPLES / "github" / "verify.yml")
    workflow = {("on" if k is True else k): v for k, v in workflow.items()}
    workflow["jobs"]["verify"]["runs_on"] = workflow["jobs"]["verify"].pop("runs-on")
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(workflow, github_schema())


def test_the_kubernetes_check_is_real():
    """A Job with a misspelt field fails the same validation."""
    (template,) = load(EXAMPLES / "argo" / "analysis-template.yaml")
    job = template["spec"]["metrics"][0]["provider"]["job"]
    pod = job["spec"]["template"]["spec"]
    pod["restartPolicyy"] = pod.pop("restartPolicy")
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(
            {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "x"}, **job}, K8S, strict=True
        )
