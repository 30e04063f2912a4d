"""The gate: a run directory and a rollout policy become a verdict for one stage.

It fails closed. A run that is not complete, a missing or corrupt run file, a mapping that
changed since the run, results older than the policy allows, a run of another cohort than the
stage serves, an entity the policy names but the run did not compare: each is a FAIL that says
why, never a PASS. A sampled run is judged on the upper bound of its rate's confidence
interval, never on the point estimate.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import os
from dataclasses import dataclass, field
from typing import Any

from verify.errors import MappingError, VerifyError
from verify.gate.policy import RolloutPolicy, Stage, load_policy
from verify.gate.stats import upper_bound
from verify.mapping import load_mapping
from verify.results import rundir
from verify.results.info import RunInfo
from verify.results.summary import EntitySummary

PASS, FAIL, INCONCLUSIVE = "PASS", "FAIL", "INCONCLUSIVE"
SEVERITIES = ("accept", "warn", "block")
FUTURE_SLACK = dt.timedelta(minutes=5)  # clocks of the diff's and the gate's machine may differ


def pct(rate: float) -> str:
    """A rate as a percentage with three significant digits: 0.12%, 0.0501%, 5%."""
    x = rate * 100
    if x == 0:
        return "0%"
    decimals = max(2, 2 - math.floor(math.log10(abs(x))))
    return f"{x:.{decimals}f}".rstrip("0").rstrip(".") + "%"


def number(value: float) -> int | float:
    """25.0 as 25 (stages read as people wrote them), 0.5 as 0.5."""
    return int(value) if float(value).is_integer() else value


@dataclass(frozen=True)
class RuleRate:
    """One rule's share of an entity's compared rows, and the limit it is held to, if any."""

    rule: str
    severity: str
    rows: int
    rate: float
    upper_bound: float
    allowed: float | None
    counts: bool  # counts against the entity's blocking rate

    def to_dict(self) -> dict[str, Any]:
        return {
            "severity": self.severity,
            "rows": self.rows,
            "rate": self.rate,
            "upper_bound": self.upper_bound,
            "allowed": self.allowed,
            "counts": self.counts,
        }


@dataclass(frozen=True)
class EntityVerdict:
    """The verdict on one entity at one stage, with the numbers it rests on."""

    entity: str
    verdict: str
    reason: str
    compared: int = 0
    counted_rows: int = 0
    rate: float | None = None
    upper_bound: float | None = None
    allowed: float = 0.0
    min_compared: int = 0
    rules: tuple[RuleRate, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "rate": self.rate,
            "upper_bound": self.upper_bound,
            "allowed": self.allowed,
            "reason": self.reason,
            "compared": self.compared,
            "counted_rows": self.counted_rows,
            "min_compared": self.min_compared,
            "rules": {r.rule: r.to_dict() for r in self.rules},
        }


@dataclass(frozen=True)
class Verdict:
    """What `verify gate` returns: the overall verdict, per entity, and how far the run would go."""

    verdict: str
    stage: float
    entities: dict[str, EntityVerdict]
    highest_passing_stage: float | None
    problems: tuple[str, ...]  # fail-closed reasons about the run as a whole
    run_dir: str
    policy_path: str
    confidence: float
    interval: str
    sample: float | None = None  # the sampled fraction; None for a full run
    seed: int | None = None
    cohort: str | None = None
    age_seconds: float | None = None
    status: str | None = None

    @property
    def reasons(self) -> list[str]:
        """Why the verdict is what it is: run problems first, then every entity that did not pass."""
        return list(self.problems) + [e.reason for e in self.entities.values() if e.verdict != PASS]

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "stage": number(self.stage),
            "entities": {name: e.to_dict() for name, e in self.entities.items()},
            "highest_passing_stage": None
            if self.highest_passing_stage is None
            else number(self.highest_passing_stage),
            "reasons": self.reasons,
            "problems": list(self.problems),
            "run": {
                "dir": self.run_dir,
                "status": self.status,
                "age_seconds": None if self.age_seconds is None else round(self.age_seconds, 1),
                "sample": self.sample,
                "seed": self.seed,
                "cohort": self.cohort,
            },
            "policy": {"path": self.policy_path, "confidence": self.confidence, "interval": self.interval},
        }


@dataclass(frozen=True)
class EntityCounts:
    """What the gate needs of one entity's summary."""

    compared: int
    blocking_rows: int
    warning_rows: int | None  # rows whose worst difference is a warning, where the run says
    by_rule: dict[str, tuple[str, int]]  # rule -> (severity, rows)
    segments_failed: int = 0


@dataclass
class RunFacts:
    """The parts of the run record and the summary (rundir) the gate relies on, checked as read."""

    status: str | None = None
    ended_at: dt.datetime | None = None
    mapping_path: str | None = None
    mapping_sha256: str | None = None
    sample: float | None = None
    seed: int | None = None
    stage: float | None = None
    cohort: str | None = None
    entities: dict[str, EntityCounts] = field(default_factory=dict)
    summary_read: bool = False  # entities is what the summary holds (not: it could not be read)
    problems: list[str] = field(default_factory=list)


def gate_run(
    run_dir: str,
    policy_path: str,
    stage: float,
    mapping_path: str | None = None,
    now: dt.datetime | None = None,
) -> Verdict:
    """The whole `verify gate`: load the policy, read the run, judge it at `stage`.

    A broken policy or an unknown stage raises (bad input); anything wrong with the run is a
    FAIL verdict that says what.
    """
    policy = load_policy(policy_path)
    facts = read_run(run_dir)
    chosen = policy.stage(stage)
    if facts.summary_read:  # a run that cannot be read fails closed; its names are not known
        unknown = unknown_names(policy, facts, mapping_path or facts.mapping_path)
        if unknown:
            raise MappingError(policy.path, unknown)
    return judge(facts, run_dir, policy, chosen, mapping_path, now)


def unknown_names(policy: RolloutPolicy, facts: RunFacts, mapping_path: str | None) -> list[tuple[int, str]]:
    """Names in the policy that match nothing in the run or its mapping: a typo would otherwise
    judge nothing (a limit on no rule holds for every run). Bad input, with the valid names."""
    entities, rules = set(facts.entities), {"unexplained", "transient"}
    for counts in facts.entities.values():
        rules.update(counts.by_rule)
    if mapping_path:
        try:
            mapping = load_mapping(mapping_path)
        except (VerifyError, OSError):  # a mapping that moved or changed is the gate's own problem
            pass
        else:
            entities.update(mapping.entities)
            rules.update(r.name for e in mapping.entities.values() for r in e.rules)
    known = {"entity": ("entities", entities), "rule": ("rules", rules)}
    out = []
    for kind, name, line in policy.named():
        plural, names = known[kind]
        if name not in names:
            valid = ", ".join(sorted(names)) or "none"
            out.append((line, f"{kind} '{name}' is not in the run or its mapping; {plural} there: {valid}"))
    return out


def judge(
    facts: RunFacts,
    run_dir: str,
    policy: RolloutPolicy,
    stage: Stage,
    mapping_path: str | None = None,
    now: dt.datetime | None = None,
) -> Verdict:
    """The verdict on a read run at one stage of a policy."""
    now = now or dt.datetime.now(dt.UTC)
    problems = list(facts.problems)
    age = None
    if facts.ended_at is not None:
        age = (now - facts.ended_at).total_seconds()
        problems.extend(_age_problems(facts.ended_at, now, policy))
    if facts.mapping_sha256 is not None:
        problems.extend(_mapping_problems(facts, mapping_path))
    if facts.status is not None:
        problems.extend(_cohort_problems(facts, policy, stage))
    entities = judge_entities(facts, policy, stage)
    verdicts = [e.verdict for e in entities.values()]
    if problems or FAIL in verdicts:
        overall = FAIL
    elif INCONCLUSIVE in verdicts:
        overall = INCONCLUSIVE
    else:
        overall = PASS
    highest = None
    if not problems:
        for s in policy.stages:
            if any(e.verdict != PASS for e in judge_entities(facts, policy, s).values()):
                break
            highest = s.percent
    return Verdict(
        verdict=overall,
        stage=stage.percent,
        entities=entities,
        highest_passing_stage=highest,
        problems=tuple(problems),
        run_dir=run_dir,
        policy_path=policy.path,
        confidence=policy.confidence,
        interval=policy.interval,
        sample=facts.sample,
        seed=facts.seed,
        cohort=facts.cohort,
        age_seconds=age,
        status=facts.status,
    )


def judge_entities(facts: RunFacts, policy: RolloutPolicy, stage: Stage) -> dict[str, EntityVerdict]:
    """Every entity of the run, and every entity the policy requires, judged at one stage."""
    out = {name: judge_entity(name, counts, facts, policy, stage) for name, counts in facts.entities.items()}
    for name in policy.required_entities():
        if name not in out and facts.summary_read:
            out[name] = EntityVerdict(
                name,
                FAIL,
                f"{name}: named by the policy but not in the run; run verify diff without --entity, "
                f"or with --entity {name}",
                allowed=stage.allowed(name),
                min_compared=stage.minimum(name),
            )
    return out


def judge_entity(
    name: str, counts: EntityCounts, facts: RunFacts, policy: RolloutPolicy, stage: Stage
) -> EntityVerdict:
    """PASS, FAIL or INCONCLUSIVE for one entity: its rate, each rule's rate, its row count."""
    sampled = facts.sample is not None and facts.sample < 1
    allowed, minimum, n = stage.allowed(name), stage.minimum(name), counts.compared
    at = f"at stage {stage.label}"
    ci = f"upper {policy.confidence * 100:g}% bound"

    def bound(rows: int) -> float:
        if not sampled:
            return rows / n  # every row was compared: the rate is exact
        return upper_bound(rows, n, policy.confidence, policy.interval)

    counted = counts.blocking_rows
    if policy.warn_counts:
        if counts.warning_rows is not None:
            counted += counts.warning_rows
        else:  # rows with a warning, some perhaps blocking too: at most this many more
            counted += sum(rows for sev, rows in counts.by_rule.values() if sev == "warn")
        counted = min(counted, n)
    what = "blocking or warning rate" if policy.warn_counts else "blocking rate"
    failures: list[str] = []
    if counts.segments_failed:
        failures.append(f"{name}: {counts.segments_failed} segment(s) failed; its rows were not all compared")
    rules: list[RuleRate] = []
    rate = up = None
    if n:
        rate, up = counted / n, bound(counted)
        shown = f"{what} {pct(rate)}" + (f" ({ci} {pct(up)})" if sampled else "")
        if up > allowed:
            failures.append(f"{name}: {shown} > {pct(allowed)} allowed {at}")
        for rule, (severity, rows) in counts.by_rule.items():
            counts_against = severity == "block" or (severity == "warn" and policy.warn_counts)
            limit = stage.max_rule_rates.get(rule, stage.max_rule_rate if counts_against else None)
            r = RuleRate(rule, severity, rows, rows / n, bound(rows), limit, counts_against)
            rules.append(r)
            if limit is not None and r.upper_bound > limit:
                rshown = f"{pct(r.rate)} of rows" + (f" ({ci} {pct(r.upper_bound)})" if sampled else "")
                failures.append(
                    f"{name}: rule {rule} [{severity}] {rshown} > {pct(limit)} allowed for one rule {at}"
                )
    if failures:
        verdict, reason = FAIL, "; ".join(failures)
    elif n < max(minimum, 1):
        verdict = INCONCLUSIVE
        reason = f"{name}: {n:,} rows compared, fewer than the {max(minimum, 1):,} needed {at}"
        if sampled:
            reason += "; sample a larger fraction"
    else:
        assert rate is not None and up is not None
        verdict = PASS
        shown = f"{what} {pct(rate)}" + (f" ({ci} {pct(up)})" if sampled else "")
        reason = f"{name}: {shown} <= {pct(allowed)} allowed {at} ({n:,} rows compared)"
    return EntityVerdict(name, verdict, reason, n, counted, rate, up, allowed, minimum, tuple(rules))


def _age_problems(ended_at: dt.datetime, now: dt.datetime, policy: RolloutPolicy) -> list[str]:
    age = (now - ended_at).total_seconds()
    if ended_at - now > FUTURE_SLACK:
        return [f"the run ended at {ended_at.isoformat()}, after now ({now.isoformat()}); check the clocks"]
    if policy.max_age_seconds is not None and age > policy.max_age_seconds:
        return [
            f"the results are {_duration(age)} old; the policy allows {policy.max_age}; run verify diff again"
        ]
    return []


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def _mapping_problems(facts: RunFacts, mapping_path: str | None) -> list[str]:
    """The mapping file must still be the one the run used (sha256 of its bytes, as load_mapping)."""
    path = mapping_path or facts.mapping_path
    if not path:
        return [f"{rundir.RUN} does not name its mapping file; pass --mapping FILE"]
    try:
        with open(path, "rb") as fh:
            digest = hashlib.sha256(fh.read()).hexdigest()
    except OSError as exc:
        return [
            f"cannot check the run's mapping {path}: {exc.strerror or exc}; run the gate where the "
            "diff ran, or pass --mapping FILE"
        ]
    if digest != facts.mapping_sha256:
        return [
            f"the mapping {path} changed since the run (sha256 {str(facts.mapping_sha256)[:12]}… then, "
            f"{digest[:12]}… now); run verify diff again"
        ]
    return []


def _stage(value: Any) -> str:
    return f"{value:g}" if isinstance(value, (int, float)) else "?"


def _cohort_problems(facts: RunFacts, policy: RolloutPolicy, stage: Stage) -> list[str]:
    """A policy with a cohort needs a run of exactly that stage's cohort; one without, a full run."""
    expected = policy.cohort_sql(stage.percent)
    if facts.cohort == expected:
        return []
    if expected is None:
        return [
            f"the run compared only the cohort '{facts.cohort}' (stage {_stage(facts.stage)}); "
            f"{policy.path} has no cohort, so it needs a run of all rows"
        ]
    if facts.cohort is None:
        return [
            f"stage {stage.label} serves the cohort '{expected}', but the run compared all rows; run "
            f"verify diff --stage {stage.label} --policy {policy.path}"
        ]
    return [
        f"the run compared the cohort '{facts.cohort}', but stage {stage.label} serves '{expected}'; run "
        f"verify diff --stage {stage.label} --policy {policy.path}"
    ]


# --- reading the run directory ------------------------------------------------------------


def read_run(run_dir: str) -> RunFacts:
    """The run record and the summary, each fact checked; every problem found is kept, not raised."""
    facts = RunFacts()
    if not os.path.isdir(run_dir):
        facts.problems.append(f"no run directory at {run_dir}; did verify diff run?")
        return facts
    info = _read(rundir.read_info, run_dir, facts)
    summary = _read(rundir.read_summary, run_dir, facts)
    if info is not None:
        _run_facts(info, facts)
    if summary is not None:
        _summary_facts(summary, facts, info)
    return facts


def _read(read: Any, run_dir: str, facts: RunFacts) -> Any:
    try:
        return read(run_dir)
    except rundir.RunFileError as exc:
        if exc.kind == "missing":
            facts.problems.append(f"{exc.path} is missing; the run did not finish writing it")
        else:
            facts.problems.append(f"{exc.path} is unreadable or corrupt ({exc.detail})")
        return None


def _run_facts(info: RunInfo, facts: RunFacts) -> None:
    status = info.status
    facts.status = status
    if status != "complete":
        why = {
            "running": "is still running, or stopped without finishing",
            "partial": "is partial: some segments failed or were not run",
            "failed": "failed",
        }.get(str(status), f"has status {status!r}")
        facts.problems.append(f"the run {why}; only a complete run can pass")
    if info.mapping_sha256 is not None:
        facts.mapping_sha256, facts.mapping_path = info.mapping_sha256, info.mapping_path
    else:
        facts.problems.append(f"{rundir.RUN} has no mapping sha256; the mapping it used cannot be checked")
    facts.ended_at = info.ended
    if facts.ended_at is None and status == "complete":
        facts.problems.append(f"{rundir.RUN} has no valid ended_at ({info.ended_at!r}); its age is unknown")
    sample = info.options.get("sample")
    if sample is not None:
        if isinstance(sample, (int, float)) and not isinstance(sample, bool) and 0 < sample <= 1:
            facts.sample = float(sample)
            facts.seed = info.options.get("seed")
        else:
            facts.problems.append(f"{rundir.RUN} has an invalid sample fraction {sample!r}")
    facts.stage = info.options.get("stage")
    cohort = info.options.get("cohort")
    facts.cohort = cohort if isinstance(cohort, str) else None
    segments = info.segments
    if status == "complete" and segments:
        done, total = segments.get("done"), segments.get("total")
        if done != total or segments.get("failed"):
            facts.problems.append(
                f"{rundir.RUN} says complete but {done} of {total} segments are done; "
                "the run directory is corrupt"
            )


def _summary_facts(summary: dict[str, Any], facts: RunFacts, info: RunInfo | None) -> None:
    entities = summary.get("entities")
    if not isinstance(entities, dict):
        facts.problems.append(f"{rundir.SUMMARY} has no 'entities'; it is corrupt")
        return
    facts.summary_read = True
    if info is not None:
        if info.entities is not None and sorted(info.entities) != sorted(entities):
            facts.problems.append(
                f"{rundir.SUMMARY} holds {sorted(entities)} but {rundir.RUN} ran "
                f"{sorted(info.entities)}; the run directory is corrupt"
            )
        sample: dict[str, Any] = summary["sample"] if isinstance(summary.get("sample"), dict) else {}
        if "sample" in summary and sample.get("fraction") != facts.sample:
            facts.problems.append(
                f"{rundir.SUMMARY} and {rundir.RUN} disagree on the sample; the run directory is corrupt"
            )
    for name, e in entities.items():
        try:
            read = EntitySummary.from_dict(e)
        except ValueError as exc:
            facts.problems.append(
                f"{rundir.SUMMARY} entity '{name}' is corrupt (counts missing or inconsistent: {exc})"
            )
            continue
        facts.entities[str(name)] = EntityCounts(
            read.compared,
            read.blocking_rows,
            read.warning_rows if read.warnings_known else None,
            {rule: (rc.severity, rc.rows) for rule, rc in read.by_rule.items()},
            read.segments_failed,
        )
