"""A gate verdict as text for people, JSON for machines, Prometheus text format for a textfile collector."""

from __future__ import annotations

import json

from verify.gate.verdict import INCONCLUSIVE, PASS, Verdict, number

VERDICTS = (PASS, "FAIL", INCONCLUSIVE)
FORMATS = ("text", "json", "prometheus")


def render_verdict(verdict: Verdict, fmt: str = "text") -> str:
    if fmt == "json":
        return json.dumps(verdict.to_dict(), indent=2)
    if fmt == "prometheus":
        return render_prometheus(verdict)
    return render_text(verdict)


def render_text(v: Verdict) -> str:
    stage = number(v.stage)
    failed = sum(e.verdict != PASS for e in v.entities.values())
    head = f"{v.verdict} at stage {stage}"
    if v.problems:
        head += " (fail-closed)"
    elif failed:
        head += f": {failed} of {len(v.entities)} entities did not pass"
    lines = [head]
    lines.extend(f"  - {p}" for p in v.problems)
    for e in v.entities.values():
        lines.append(f"  {e.verdict:<13}{e.reason}")
    run = [v.status or "no readable run.json"]
    if v.age_seconds is not None:
        run.append(f"ended {_ago(v.age_seconds)}")
    if v.status is None:
        pass
    elif v.sample is not None and v.sample < 1:
        run.append(
            f"sample {v.sample:g} (seed {v.seed}), judged on the upper {v.confidence * 100:g}% "
            f"bound ({v.interval})"
        )
    else:
        run.append("all rows compared")
    if v.cohort:
        run.append(f"cohort {v.cohort}")
    lines.append(f"run {v.run_dir}: {', '.join(run)}")
    highest = "none" if v.highest_passing_stage is None else f"{number(v.highest_passing_stage)}"
    lines.append(f"highest stage this run passes: {highest}")
    return "\n".join(lines)


def _ago(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m ago"
    return f"{seconds / 3600:.1f}h ago"


def _label(value: object) -> str:
    text = str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{text}"'


def _value(value: float) -> str:
    return repr(float(value))


def render_prometheus(v: Verdict) -> str:
    """Prometheus text exposition format (0.0.4): gauges for verdicts, rates and row counts."""
    stage = _label(number(v.stage))
    out: list[str] = []

    def metric(name: str, help_: str, samples: list[tuple[str, float]]) -> None:
        out.append(f"# HELP verify_gate_{name} {help_}")
        out.append(f"# TYPE verify_gate_{name} gauge")
        out.extend(f"verify_gate_{name}{{{labels}}} {_value(val)}" for labels, val in samples)

    metric(
        "verdict",
        "The gate's overall verdict at the stage: 1 for the verdict given, 0 for the others.",
        [(f"stage={stage},verdict={_label(x)}", float(v.verdict == x)) for x in VERDICTS],
    )
    metric("passed", "1 if the stage passed, else 0.", [(f"stage={stage}", float(v.verdict == PASS))])
    metric(
        "highest_passing_stage_percent",
        "The highest rollout stage the run passes, with every stage below it (0: none).",
        [("", v.highest_passing_stage or 0.0)],
    )
    metric("problems", "Fail-closed problems found with the run.", [(f"stage={stage}", len(v.problems))])
    metric(
        "entity_verdict",
        "Each entity's verdict at the stage: 1 for the verdict given, 0 for the others.",
        [
            (f"stage={stage},entity={_label(n)},verdict={_label(x)}", float(e.verdict == x))
            for n, e in v.entities.items()
            for x in VERDICTS
        ],
    )
    measured = {n: e for n, e in v.entities.items() if e.rate is not None}
    metric(
        "compared_rows",
        "Rows compared per entity.",
        [(f"entity={_label(n)}", e.compared) for n, e in measured.items()],
    )
    metric(
        "blocking_rate",
        "Rows with a counted (blocking) difference / rows compared, per entity.",
        [(f"entity={_label(n)}", e.rate or 0.0) for n, e in measured.items()],
    )
    metric(
        "blocking_rate_upper_bound",
        "The rate the gate judges: the confidence interval's upper bound for a sample, else the rate.",
        [(f"entity={_label(n)}", e.upper_bound or 0.0) for n, e in measured.items()],
    )
    metric(
        "allowed_rate",
        "The highest rate the stage allows, per entity.",
        [(f"stage={stage},entity={_label(n)}", e.allowed) for n, e in v.entities.items()],
    )
    metric(
        "rule_rate",
        "Rows a rule explains / rows compared, per entity and rule.",
        [
            (f"entity={_label(n)},rule={_label(r.rule)},severity={_label(r.severity)}", r.rate)
            for n, e in measured.items()
            for r in e.rules
        ],
    )
    metric(
        "sample_fraction",
        "The fraction of keys the run compared (1: all).",
        [("", v.sample if v.sample is not None else 1.0)],
    )
    if v.age_seconds is not None:
        metric("run_age_seconds", "Seconds since the run ended.", [("", v.age_seconds)])
    return "\n".join(line.replace("{}", "") for line in out) + "\n"
