"""The rollout policy: what each stage of the rollout demands of a verify run.

Loaded strictly, like a mapping: unknown keys, wrong types and impossible values are all
reported at once, each with its file and line (MappingError, exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from verify.errors import MappingError, UsageError
from verify.gate.stats import INTERVALS
from verify.mapping.yaml_lines import LineDict, load_yaml

TOP_KEYS = ("version", "confidence", "interval", "max_age", "warn_counts", "entities", "cohort", "stages")
STAGE_KEYS = ("percent", "max_blocking_rate", "min_compared", "max_rule_rate", "max_rule_rates")
ANY_ENTITY = "*"
PERCENT = ":percent"
_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d)\s*$")
_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass(frozen=True)
class Stage:
    """One rollout step: the share of customers on the new store and what a run must show."""

    percent: float
    max_blocking_rate: dict[str, float]  # per entity; "*" for every entity not named
    min_compared: dict[str, int]  # likewise
    max_rule_rate: float | None = None  # any one rule that counts against the rate
    max_rule_rates: dict[str, float] = field(default_factory=dict)  # named rules, any severity
    line: int = 0

    @property
    def label(self) -> str:
        return f"{self.percent:g}"

    def allowed(self, entity: str) -> float:
        return self.max_blocking_rate.get(entity, self.max_blocking_rate.get(ANY_ENTITY, 0.0))

    def minimum(self, entity: str) -> int:
        return self.min_compared.get(entity, self.min_compared.get(ANY_ENTITY, 0))


@dataclass(frozen=True)
class RolloutPolicy:
    """A whole policy file."""

    path: str
    stages: tuple[Stage, ...]
    confidence: float = 0.95
    interval: str = "clopper-pearson"
    max_age_seconds: float | None = None
    max_age: str | None = None  # as written, for messages
    warn_counts: bool = False
    entities: tuple[str, ...] = ()  # every one must be in the run
    cohort: str | None = None  # SQL over canonical columns, with :percent
    entities_line: int = 0

    def named(self) -> list[tuple[str, str, int]]:
        """(entity | rule, name, line) of every name the policy gives, for checking them."""
        out = [("entity", e, self.entities_line) for e in self.entities]
        for s in self.stages:
            for table in (s.max_blocking_rate, s.min_compared):
                out += [("entity", e, s.line) for e in table if e != ANY_ENTITY]
            out += [("rule", r, s.line) for r in s.max_rule_rates]
        return list(dict.fromkeys(out))

    def stage(self, percent: float) -> Stage:
        """The stage of this percentage; a UsageError lists the stages there are."""
        for s in self.stages:
            if s.percent == percent:
                return s
        raise UsageError(
            f"--stage {percent:g} is not a stage of {self.path}; stages there: "
            f"{', '.join(s.label for s in self.stages)}"
        )

    def required_entities(self) -> tuple[str, ...]:
        """The entities a run must hold: listed, or named by a per-entity limit."""
        named = dict.fromkeys(self.entities)
        for s in self.stages:
            for table in (s.max_blocking_rate, s.min_compared):
                named.update(dict.fromkeys(e for e in table if e != ANY_ENTITY))
        return tuple(named)

    def cohort_sql(self, percent: float) -> str | None:
        """The cohort expression for a stage, with its percentage in place of :percent."""
        if self.cohort is None:
            return None
        return self.cohort.replace(PERCENT, f"{percent:g}")


def parse_age(text: str) -> float:
    """'90s', '30m', '24h', '7d' as seconds; ValueError otherwise."""
    m = _AGE.match(text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _AGE_UNITS[m.group(2)]


def load_policy(path: str) -> RolloutPolicy:
    """Read and validate a rollout policy; raises MappingError naming every problem with its line."""
    data, problems = load_yaml(path, "policy")
    if not isinstance(data, LineDict):
        raise MappingError(
            path, [(1, "a policy file must be a YAML mapping with 'version: 1' and 'stages:'")]
        )
    _unknown(data, TOP_KEYS, "the policy file", problems)
    if data.get("version") != 1:
        problems.append(
            (data.line_of("version"), f"'version' must be 1 (got {data.get('version')!r}); add 'version: 1'")
        )
    confidence = data.get("confidence", 0.95)
    if not _number(confidence) or not 0.5 <= confidence < 1:
        problems.append(
            (
                data.line_of("confidence"),
                f"'confidence' must be a number from 0.5 up to (not including) 1, e.g. 0.95 "
                f"(got {confidence!r})",
            )
        )
    interval = data.get("interval", "clopper-pearson")
    if interval not in INTERVALS:
        problems.append(
            (data.line_of("interval"), f"'interval' must be one of {', '.join(INTERVALS)} (got {interval!r})")
        )
    max_age, max_age_seconds = data.get("max_age"), None
    if max_age is not None:
        try:
            max_age_seconds = parse_age(str(max_age))
        except ValueError:
            problems.append(
                (
                    data.line_of("max_age"),
                    f"'max_age' must be a duration such as 90s, 30m, 24h or 7d (got {max_age!r})",
                )
            )
    warn_counts = data.get("warn_counts", False)
    if not isinstance(warn_counts, bool):
        problems.append(
            (data.line_of("warn_counts"), f"'warn_counts' must be true or false (got {warn_counts!r})")
        )
    entities = data.get("entities", [])
    if not isinstance(entities, list) or not all(isinstance(e, str) and e for e in entities):
        problems.append((data.line_of("entities"), "'entities' must be a list of entity names"))
        entities = []
    cohort = data.get("cohort")
    if cohort is not None:
        cohort = _cohort(cohort, data.line_of("cohort"), problems)
    stages = _stages(data.get("stages"), data.line_of("stages"), problems)
    if problems:
        raise MappingError(path, problems)
    return RolloutPolicy(
        path=path,
        stages=tuple(stages),
        confidence=float(confidence),
        interval=str(interval),
        max_age_seconds=max_age_seconds,
        max_age=None if max_age is None else str(max_age),
        warn_counts=bool(warn_counts),
        entities=tuple(entities),
        cohort=cohort,
        entities_line=data.line_of("entities"),
    )


Problems = list[tuple[int | None, str]]


def _unknown(node: LineDict, allowed: tuple[str, ...], where: str, problems: Problems) -> None:
    for key in node:
        if key not in allowed:
            problems.append(
                (node.line_of(key), f"unknown key '{key}' in {where}; valid keys: {', '.join(allowed)}")
            )


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _stages(raw: Any, line: int, problems: Problems) -> list[Stage]:
    if not isinstance(raw, list) or not raw:
        problems.append(
            (
                line,
                "'stages' must be a list of stages, e.g. "
                "'- {percent: 1, max_blocking_rate: 0.01, min_compared: 1000}'",
            )
        )
        return []
    stages: list[Stage] = []
    for item in raw:
        if not isinstance(item, LineDict):
            problems.append(
                (line, "each stage must be a mapping with percent, max_blocking_rate and min_compared")
            )
            continue
        where = f"stage {item.get('percent', '?')}"
        _unknown(item, STAGE_KEYS, where, problems)
        percent: Any = item.get("percent")
        if not _number(percent) or not 0 < percent <= 100:
            problems.append(
                (item.line_of("percent"), f"{where}: 'percent' must be a number above 0 and at most 100")
            )
            continue
        if "max_blocking_rate" not in item:
            problems.append(
                (item.line, f"{where} has no 'max_blocking_rate'; add e.g. 'max_blocking_rate: 0.001'")
            )
        rates = _per_entity(
            item.get("max_blocking_rate", 0.0),
            item.line_of("max_blocking_rate"),
            where,
            "max_blocking_rate",
            _rate,
            problems,
        )
        minimum = _per_entity(
            item.get("min_compared", 0), item.line_of("min_compared"), where, "min_compared", _count, problems
        )
        rule_rate = item.get("max_rule_rate")
        if rule_rate is not None and _rate(rule_rate) is None:
            problems.append(
                (item.line_of("max_rule_rate"), f"{where}: 'max_rule_rate' must be a rate between 0 and 1")
            )
            rule_rate = None
        rule_rates: dict[str, float] = {}
        raw_rules = item.get("max_rule_rates")
        if raw_rules is None:
            pass
        elif not isinstance(raw_rules, LineDict):
            problems.append(
                (item.line_of("max_rule_rates"), f"{where}: 'max_rule_rates' must map rule names to rates")
            )
        else:
            for name, value in raw_rules.items():
                rate = _rate(value)
                if rate is None:
                    problems.append(
                        (
                            raw_rules.line_of(name),
                            f"{where}: rule '{name}' rate must be between 0 and 1 (got {value!r})",
                        )
                    )
                else:
                    rule_rates[str(name)] = rate
        stages.append(
            Stage(
                percent=float(percent),
                max_blocking_rate=rates,
                min_compared=minimum,
                max_rule_rate=None if rule_rate is None else float(rule_rate),
                max_rule_rates=rule_rates,
                line=item.line,
            )
        )
    percents = [s.percent for s in stages]
    if percents != sorted(set(percents)):
        problems.append(
            (line, f"stage percentages must be given once each, in increasing order (got {percents})")
        )
    return stages


def _rate(value: Any) -> float | None:
    return float(value) if _number(value) and 0 <= value <= 1 else None


def _count(value: Any) -> int | None:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _per_entity(raw: Any, line: int, where: str, key: str, parse: Any, problems: Problems) -> dict[str, Any]:
    """A number for every entity, or {entity: number, "*": number for the rest}."""
    kind = "a rate between 0 and 1" if parse is _rate else "a whole number >= 0"
    if isinstance(raw, LineDict):
        out = {}
        for name, value in raw.items():
            parsed = parse(value)
            if parsed is None:
                problems.append(
                    (raw.line_of(name), f"{where}: {key} of '{name}' must be {kind} (got {value!r})")
                )
            else:
                out[str(name)] = parsed
        if ANY_ENTITY not in out:
            problems.append(
                (line, f"{where}: {key} names entities but has no '\"*\"' for the others; add '\"*\": N'")
            )
        return out
    parsed = parse(raw)
    if parsed is None:
        problems.append(
            (line, f"{where}: '{key}' must be {kind}, or a map of entity names to that (got {raw!r})")
        )
        return {}
    return {ANY_ENTITY: parsed}


def _cohort(raw: Any, line: int, problems: Problems) -> str | None:
    """A SQL condition over canonical columns, with :percent for the stage's percentage."""
    if not isinstance(raw, str) or PERCENT not in raw:
        problems.append(
            (
                line,
                f"'cohort' must be a SQL condition with {PERCENT}, e.g. \"advertiser_id % 100 < :percent\"",
            )
        )
        return None
    import polars as pl

    try:
        pl.sql_expr(raw.replace(PERCENT, "1"))
    except Exception as exc:  # noqa: BLE001 - polars raises several types for bad SQL
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        problems.append((line, f"'cohort' '{raw}' does not parse as SQL: {first}"))
        return None
    return raw
