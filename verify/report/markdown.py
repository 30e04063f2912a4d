"""Markdown report, for a pull request comment or a CI job summary (GitHub-flavoured tables)."""

from __future__ import annotations

from verify.report.model import EntityReport, KeyChanges, RuleReport, RunReport, key_text
from verify.report.text import VERDICT_LABEL, pct, row_label, show_pair, target

MARK = {"clean": "🟢", "warn": "🟠", "block": "🔴", "incomplete": "🔴"}
SAMPLES_SHOWN = 5  # sample rows per rule (the HTML and JSON reports hold all)
KEYS_SHOWN = 20  # fixed / new keys listed per entity and rule


def esc(value: object) -> str:
    """Text safe in a Markdown table cell: no HTML, no emphasis or links, no cell breaks."""
    text = str(value)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    for ch in "\\`*_[]|#~":
        text = text.replace(ch, "\\" + ch)
    return text.replace("\r", "").replace("\n", "<br>")


def code(value: object) -> str:
    """A code span outside tables: its content is literal, only backticks must go."""
    return "`" + str(value).replace("`", "'").replace("\n", " ") + "`"


def _row(*cells: object) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def render_markdown(report: RunReport) -> str:
    run = report.run
    out = [
        f"# verify report {MARK[report.verdict]} {VERDICT_LABEL[report.verdict]}",
        "",
        f"Run {code(run.id)} ({esc(run.status)}), mapping {code(run.mapping_path or '?')}, "
        f"started {esc(run.started_at or '?')}, ended {esc(run.ended_at or '?')}.  ",
        f"Old store {code(run.old_url or '?')}, new store {code(run.new_url or '?')}.",
        "",
    ]
    if report.gate is not None:
        g = report.gate
        out += [
            f"**Rollout gate at stage {g.stage:g}%: {esc(g.verdict)}** (the gate allows each stage a rate of "
            f"blocking rows; this report's verdict counts every one).",
            "",
            "```",
            *g.lines,
            "```",
            "",
        ]
    for note in report.notes:
        out.append(f"> {esc(note)}")
    for failure in report.failures:
        out.append(f"> failed: {esc(failure)}")
    if report.notes or report.failures:
        out.append("")
    out += [
        "## Entities",
        "",
        _row(
            "entity",
            "verdict",
            "compared",
            "matched",
            "missing in new",
            "extra in new",
            "duplicate keys",
            "differing rows",
            "blocking rows",
            "blocking rate",
        ),
        _row(*(["---", "---"] + ["---:"] * 8)),
    ]
    for e in report.entities:
        out.append(
            _row(
                esc(e.name),
                f"{MARK[e.verdict]} {VERDICT_LABEL[e.verdict]}",
                f"{e.compared:,}",
                f"{e.matched:,}",
                f"{e.missing_in_new:,}",
                f"{e.extra_in_new:,}",
                f"{e.duplicate_keys:,}",
                f"{e.value_mismatch_rows:,}",
                f"{e.blocking_rows:,}",
                pct(e.blocking_rate),
            )
        )
    out += _rules(report.entities)
    out += _explanations(report)
    out += _columns(report.entities)
    out += _unpaired(report.entities)
    out += _changes(report)
    out += _samples(report.entities)
    return "\n".join(out).rstrip() + "\n"


def _explanations(report: RunReport) -> list[str]:
    """What the unexplained differences have in common, and the change that would explain it."""
    if not report.explanations:
        return []
    out = [
        "",
        "## What the unexplained differences have in common",
        "",
        "Suggestions (`verify explain --run DIR` prints them as YAML); none changes a verdict.",
        "",
        _row("entity", "column", "rows it explains", "of the column's", "what they have in common", "change"),
        _row("---", "---", "---:", "---:", "---", "---"),
    ]
    for s in report.explanations:
        change = "a rule" if s.snippet.startswith("- ") else code(s.snippet.split("  #")[0])
        out.append(_row(esc(s.entity), esc(s.column), f"{s.rows:,}", f"{s.of:,}", esc(s.why), change))
    return out


def _rules(entities: tuple[EntityReport, ...]) -> list[str]:
    rows = [(e, r) for e in entities for r in e.rules]
    if not rows:
        return ["", "No differences: no rule has rows."]
    out = [
        "",
        "## Rules",
        "",
        _row(
            "entity",
            "rule",
            "severity",
            "rows",
            "cells",
            "rate",
            "target",
            "owner",
            "ticket",
            "expires",
            "note",
        ),
        _row(*(["---"] * 3 + ["---:"] * 3 + ["---"] * 5)),
    ]
    for e, r in rows:
        expires = esc(r.expires or "")
        if r.expired:
            expires += " **expired**"
        out.append(
            _row(
                esc(e.name),
                esc(r.name),
                esc(r.severity),
                f"{r.rows:,}",
                f"{r.cells:,}",
                pct(r.rate),
                esc(target(r.kind, r.column)),
                esc(r.owner or ""),
                esc(r.ticket or ""),
                expires,
                esc(r.note or ""),
            )
        )
    return out


def _columns(entities: tuple[EntityReport, ...]) -> list[str]:
    rows = [(e.name, c, n) for e in entities for c, n in e.by_column]
    if not rows:
        return []
    out = [
        "",
        "## Differing cells per column",
        "",
        _row("entity", "column", "cells"),
        _row("---", "---", "---:"),
    ]
    out += [_row(esc(name), esc(c), f"{n:,}") for name, c, n in rows]
    return out


def _unpaired(entities: tuple[EntityReport, ...]) -> list[str]:
    rows = [(e.name, side, cols) for e in entities for side, cols in e.unpaired]
    if not rows:
        return []
    out = [
        "",
        "## Columns not compared",
        "",
        '`columns: "*"` pairs columns by name; these are on one side only.',
        "",
    ]
    out += [_row("entity", "side", "columns"), _row("---", "---", "---")]
    out += [_row(esc(name), side, esc(", ".join(cols))) for name, side, cols in rows]
    return out


def _keys(keys: tuple[tuple[object, ...], ...], total: int) -> str:
    shown = "; ".join(f"({esc(key_text(k))})" for k in keys[:KEYS_SHOWN])
    more = total - min(len(keys), KEYS_SHOWN)
    return shown + (f"; … and {more:,} more" if more > 0 else "")


def _changes(report: RunReport) -> list[str]:
    c = report.comparison
    if c is None:
        return []
    out = [
        "",
        f"## Since {esc(c.other.id)} ({esc(c.chosen_by)})",
        "",
        f"Keys fixed (differed then, match now), new (differ now, did not then) and still there, "
        f"compared with run {code(c.other.id)} started {esc(c.other.started_at or '?')}.",
        "",
    ]
    for note in c.notes:
        out.append(f"> {esc(note)}")
    if c.notes:
        out.append("")
    out += [
        _row("entity", "rule", "fixed", "new", "still there", "now under another rule"),
        _row("---", "---", "---:", "---:", "---:", "---:"),
    ]
    listed: list[tuple[str, KeyChanges]] = []
    for ec in c.entities:
        t = ec.total
        out.append(
            _row(f"**{esc(ec.entity)}**", "*all rules*", f"{t.fixed:,}", f"{t.new:,}", f"{t.still:,}", "")
        )
        listed += [(ec.entity, t)] if (t.fixed or t.new) else []
        for k in ec.rules:
            out.append(
                _row(
                    esc(ec.entity),
                    esc(k.rule or ""),
                    f"{k.fixed:,}",
                    f"{k.new:,}",
                    f"{k.still:,}",
                    f"{k.moved:,}",
                )
            )
    key_names = {ec.entity: ec.keys for ec in c.entities}
    for entity, t in listed:
        names = ", ".join(key_names[entity])
        if t.fixed:
            out += ["", f"Fixed in {esc(entity)} ({esc(names)}): {_keys(t.fixed_keys, t.fixed)}"]
        if t.new:
            out += ["", f"New in {esc(entity)} ({esc(names)}): {_keys(t.new_keys, t.new)}"]
    return out


def _samples(entities: tuple[EntityReport, ...]) -> list[str]:
    out: list[str] = []
    for e in entities:
        for r in e.rules:
            if r.samples:
                out += _rule_samples(e, r)
    return (["", "## Samples"] + out) if out else []


def _rule_samples(e: EntityReport, r: RuleReport) -> list[str]:
    shown = r.samples[:SAMPLES_SHOWN]
    out = [
        "",
        f"### {esc(e.name)} · {esc(r.name)} ({esc(r.severity)}): {len(shown)} of {r.rows:,} rows",
        "",
        _row(*(esc(k) for k in e.keys), "difference", "old", "new"),
        _row(*(["---"] * (len(e.keys) + 3))),
    ]
    for s in shown:
        keys = [esc("NULL" if v is None else key_text((v,))) for v in s.key]
        if s.kind != "value":
            out.append(_row(*keys, esc(row_label(s)), "", ""))
            continue
        for cell in s.cells:
            old, new = show_pair(cell.old, cell.new)
            out.append(_row(*keys, esc(cell.column or ""), esc(old), esc(new)))
    return out
