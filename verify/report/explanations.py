"""The explanations of a run (engine/explain.py) as a reader sees them: one line per pattern in
the terminal summary, and ready YAML snippets for the mapping (`verify explain`)."""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from verify.results.summary import Suggestion

HEADING = "what the unexplained differences have in common (suggestions; no verdict is changed by them):"


def summary_lines(suggestions: Sequence[Suggestion]) -> list[str]:
    """One line per suggestion: where, how many rows it would explain, why, and what to write."""
    if not suggestions:
        return []
    lines = [HEADING]
    for s in suggestions:
        change = s.snippet.split("  #")[0] if not s.snippet.startswith("- ") else "a rule (verify explain)"
        lines.append(f"  {s.entity}.{s.column}: {s.rows:,} of {s.of:,} rows: {s.why} -> {change}")
    return lines


def render_yaml(suggestions: Sequence[Suggestion]) -> str:
    """The suggestions as a mapping fragment to merge by hand: per entity its columns' keys, then
    its rules, each with a comment saying what it would explain and what it would leave."""
    if not suggestions:
        return "# no pattern among the unexplained differences: each one needs a look of its own\n"
    out = ["# Suggested by verify explain: review each before merging it into the mapping.", "entities:"]
    for entity in dict.fromkeys(s.entity for s in suggestions):
        mine = [s for s in suggestions if s.entity == entity]
        out.append(f"  {entity}:")
        sides = [s for s in mine if s.snippet.startswith("old: ")]
        columns = [s for s in mine if not s.snippet.startswith(("- ", "old: "))]
        rules = [s for s in mine if s.snippet.startswith("- ")]
        for s in sides[:1]:  # one zone per side: the first (largest) offset found
            out.append(f"    {_comment(s)}")
            out.append(f"    {s.snippet}")
        if columns:
            out.append("    columns:")
            for column in dict.fromkeys(s.column for s in columns):
                theirs = [s for s in columns if s.column == column]
                out += [f"      {_comment(s)}" for s in theirs]
                out.append(f"      {_merged(theirs)}")
        if rules:
            out.append("    rules:")
            for s in rules:
                out.append(f"      {_comment(s)}")
                out += [f"      {line}" for line in s.snippet.splitlines()]
    return "\n".join(out) + "\n"


def _merged(suggestions: list[Suggestion]) -> str:
    """One column's snippets as one line: their keys together, normalization steps in a row."""
    if len(suggestions) == 1:
        return suggestions[0].snippet
    keys: dict[str, object] = {}
    for s in suggestions:
        for k, v in next(iter(yaml.safe_load(s.snippet).values())).items():
            keys[k] = [*keys.get(k, []), *v] if k == "normalize" else v  # type: ignore[misc]
    body = yaml.safe_dump(keys, default_flow_style=True, width=10_000).strip()
    return f"{suggestions[0].column}: {body}"


def _comment(s: Suggestion) -> str:
    whose = (
        "the unexplained missing rows" if s.pattern == "missing_shared" else "the column's unexplained rows"
    )
    left = f"; {s.left:,} of {whose} it would not explain" if s.left else ""
    return f"# {s.column}: explains {s.rows:,} of {s.of:,} unexplained rows: {s.why}{left}"
