"""Rollout policies: the scenario's loads; every problem of a broken one is named with its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from verify.cli import main
from verify.errors import MappingError
from verify.gate.policy import load_policy, parse_age

SCENARIO_POLICY = str(Path(__file__).resolve().parents[2] / "scenarios" / "dfp_to_f1" / "rollout.yaml")


def test_the_scenario_policy_loads():
    p = load_policy(SCENARIO_POLICY)
    assert [s.percent for s in p.stages] == [1, 5, 25, 50, 100]
    assert (p.confidence, p.max_age_seconds, p.warn_counts, p.interval) == (
        0.95,
        86400,
        False,
        "clopper-pearson",
    )
    assert p.stage(25).allowed("line_item") == 0.0005 and p.stage(25).minimum("line_item") == 100_000
    assert p.stage(100).allowed("anything") == 0.0


def test_the_readme_example_loads(tmp_path):
    readme = (Path(SCENARIO_POLICY).parents[2] / "README.md").read_text()
    section = readme[readme.index("## Gating a rollout") :]
    example = section[section.index("```yaml\n") + 8 : section.index("```\n", section.index("```yaml"))]
    path = tmp_path / "readme.yaml"
    path.write_text(example)
    p = load_policy(str(path))
    assert [s.percent for s in p.stages] == [1, 25]
    assert p.stage(25).allowed("line_item") == 0.0005 and p.stage(25).minimum("advertiser") == 10


def test_per_entity_limits_and_cohorts(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\n"
        "entities: [line_item]\n"
        'cohort: "advertiser_id % 100 < :percent"\n'
        "stages:\n"
        "  - percent: 0.5\n"
        '    max_blocking_rate: {line_item: 0.002, "*": 0.01}\n'
        "    min_compared: {campaign: 10, '*': 100}\n"
        "    max_rule_rate: 0.001\n"
        "    max_rule_rates: {far_future_end_date: 0.05}\n"
    )
    p = load_policy(str(path))
    s = p.stage(0.5)
    assert (s.allowed("line_item"), s.allowed("creative"), s.minimum("campaign"), s.minimum("x")) == (
        0.002,
        0.01,
        10,
        100,
    )
    assert (s.max_rule_rate, s.max_rule_rates) == (0.001, {"far_future_end_date": 0.05})
    assert p.required_entities() == ("line_item", "campaign")
    assert p.cohort_sql(0.5) == "advertiser_id % 100 < 0.5"


BROKEN = """version: 2
confidence: 1.5
interval: wald
max_age: tomorrow
warn_counts: sometimes
colour: blue
cohort: "advertiser_id % 100 <"
stages:
  - percent: 5
    max_blocking_rate: 2
    min_compared: -1
    max_rule_rates: {x: high}
    speed: fast
  - percent: 1
    min_compared: 10
"""


def test_every_problem_is_named_with_its_line(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    with pytest.raises(MappingError) as info:
        load_policy(str(path))
    lines = {line for line, _ in info.value.problems}
    text = str(info.value)
    for line, needle in [
        (1, "'version' must be 1"),
        (2, "'confidence' must be a number"),
        (3, "'interval' must be one of clopper-pearson, wilson"),
        (4, "'max_age' must be a duration such as 90s, 30m, 24h or 7d"),
        (5, "'warn_counts' must be true or false"),
        (6, "unknown key 'colour' in the policy file; valid keys:"),
        (7, "'cohort' must be a SQL condition with :percent"),
        (10, "stage 5: 'max_blocking_rate' must be a rate between 0 and 1"),
        (11, "stage 5: 'min_compared' must be a whole number >= 0"),
        (12, "stage 5: rule 'x' rate must be between 0 and 1"),
        (13, "unknown key 'speed' in stage 5"),
        (14, "stage 1 has no 'max_blocking_rate'"),
        (8, "stage percentages must be given once each, in increasing order"),
    ]:
        assert f"{path}:{line}: {needle}" in text, (needle, text)
    assert len(lines) >= 12


def test_a_cohort_that_is_not_sql_is_refused(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text(
        'version: 1\ncohort: "advertiser_id %% < :percent"\nstages:\n  - {percent: 1, max_blocking_rate: 0}\n'
    )
    with pytest.raises(MappingError, match=r"p.yaml:2: 'cohort' .* does not parse as SQL"):
        load_policy(str(path))


def test_duplicate_keys_and_syntax_errors(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("version: 1\nversion: 1\nstages:\n  - {percent: 1, max_blocking_rate: 0}\n")
    with pytest.raises(MappingError, match=r"p.yaml:2: key 'version' is given twice"):
        load_policy(str(path))
    path.write_text("version: 1\nstages: [\n")
    with pytest.raises(MappingError, match=r"p.yaml:3: YAML syntax error"):
        load_policy(str(path))
    with pytest.raises(MappingError, match="policy file not found"):
        load_policy(str(tmp_path / "nope.yaml"))


def test_ages():
    assert [parse_age(t) for t in ("90s", "30m", "24h", "7d", "1.5h")] == [90, 1800, 86400, 604800, 5400]
    for bad in ("24", "1w", "h", "-1h"):
        with pytest.raises(ValueError):
            parse_age(bad)


def test_a_broken_policy_is_exit_2_without_traceback(tmp_path, runs):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    result = CliRunner().invoke(
        main, ["gate", "--run", str(runs["clean"]), "--policy", str(path), "--stage", "1"]
    )
    assert result.exit_code == 2
    assert "13 problems in" in result.output and "Traceback" not in result.output
