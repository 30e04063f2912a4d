"""The HTML report: one self-contained file (inline CSS and SVG, no script, no network).

Every value from a run (names, keys, cell values from the databases) is escaped with
`html.escape`: the data is untrusted.
"""

from __future__ import annotations

import html

from verify.engine.rules import UNEXPLAINED
from verify.report.model import (
    ColumnSample,
    EntityChanges,
    EntityReport,
    HistoryPoint,
    RuleReport,
    RunReport,
    key_text,
)
from verify.report.text import VERDICT_LABEL, marked, pct, row_label, show_pair, target

COLOURS = {"clean": "#1a7f37", "warn": "#bf8700", "block": "#cf222e", "incomplete": "#cf222e"}
SEVERITY_COLOURS = {"block": "#cf222e", "warn": "#bf8700", "accept": "#1a7f37"}
# Rule lines in the trend: `unexplained` in the blocking red in every chart, the others in colours
# that are not it.
PALETTE = ("#0969da", "#8250df", "#bf8700", "#1a7f37", "#bc4c00", "#1b7c83", "#6e7781", "#9a6700")


def _rule_colour(rule: str, j: int) -> str:
    return SEVERITY_COLOURS["block"] if rule == UNEXPLAINED else PALETTE[j % len(PALETTE)]


KEYS_SHOWN = 100

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1f2328;
background:#fff}
header{padding:16px 24px;border-bottom:1px solid #d0d7de;background:#f6f8fa}
main{padding:8px 24px 40px}
h1{font-size:22px;margin:0 0 6px} h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
h3{font-size:15px;margin:18px 0 6px}
.meta{color:#57606a;margin:2px 0} .meta code{color:#1f2328}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;color:#fff;font-weight:600;font-size:13px}
.sev{display:inline-block;padding:0 8px;border-radius:10px;color:#fff;font-size:12px;font-weight:600}
table{border-collapse:collapse;margin:6px 0 10px}
th,td{border:1px solid #d0d7de;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f6f8fa;font-weight:600} td.n{text-align:right;font-variant-numeric:tabular-nums}
tr.entity td:first-child{border-left:6px solid var(--v)}
td.val{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;white-space:pre-wrap;max-width:28em}
td.diff{background:#ffebe9;outline:2px solid #cf222e;outline-offset:-2px}
#explanations pre{white-space:pre-wrap;margin:0;max-width:44em}
#explanations td:nth-child(5){min-width:16em}
td.diff mark{background:#ffb8b0;color:inherit;border-radius:2px;padding:0 1px}
td.diff.new{background:#dafbe1;outline-color:#1a7f37}
td.same{color:#8c959f}
td.rowkind{background:#fff8c5;font-style:italic}
.note{background:#fff8c5;border:1px solid #d4a72c;padding:6px 10px;margin:6px 0;border-radius:6px}
.expired{color:#cf222e;font-weight:600}
.keys{font-family:ui-monospace,monospace;font-size:12px}
svg text{font:11px system-ui,sans-serif;fill:#57606a}
.legend span{display:inline-block;margin-right:14px} .legend i{display:inline-block;width:12px;height:12px;
margin-right:4px;vertical-align:-1px;border-radius:2px}
""".strip()


def e(value: object) -> str:
    """Escape any value for HTML text or an attribute."""
    return html.escape(str(value), quote=True)


def _badge(verdict: str) -> str:
    style = f"background:{COLOURS[verdict]}"
    return f'<span class="badge verdict-{e(verdict)}" style="{style}">{e(VERDICT_LABEL[verdict])}</span>'


def _sev(severity: str) -> str:
    colour = SEVERITY_COLOURS.get(severity, "#6e7781")
    return f'<span class="sev" style="background:{colour}">{e(severity)}</span>'


def _anchor(kind: str, *names: str) -> str:
    return kind + "-" + "-".join("".join(c if c.isalnum() else "_" for c in n) for n in names)


def render_html(report: RunReport) -> str:
    run = report.run
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # No network, no script: the page must render the same from a file anywhere.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">",
        f"<title>verify report {e(run.id)}</title>",
        f"<style>{CSS}</style></head><body>",
        "<header>",
        f"<h1>verify report {_badge(report.verdict)}</h1>",
        f'<p class="meta">run <code id="run-id">{e(run.id)}</code> ({e(run.status)}) · mapping '
        f"<code>{e(run.mapping_path or '?')}</code> · started {e(run.started_at or '?')} · "
        f"ended {e(run.ended_at or '?')}</p>",
        f'<p class="meta">old <code>{e(run.old_url or "?")}</code> → '
        f"new <code>{e(run.new_url or '?')}</code></p>",
        "</header><main>",
    ]
    parts.append(_gate(report))
    for note in report.notes:
        parts.append(f'<p class="note">{e(note)}</p>')
    for failure in report.failures:
        parts.append(f'<p class="note">failed: {e(failure)}</p>')
    parts.append(_entities_table(report.entities))
    parts.append(_rules_table(report.entities))
    parts.append(_explanations(report))
    changes = {c.entity: c for c in report.comparison.entities} if report.comparison else {}
    if report.comparison:
        c = report.comparison
        parts.append(
            f'<h2 id="changes">Since {e(c.other.id)} ({e(c.chosen_by)})</h2>'
            f"<p>Compared with run <code>{e(c.other.id)}</code> started {e(c.other.started_at or '?')}: "
            "keys <b>fixed</b> (differed then, match now), <b>new</b> (differ now, did not then) and "
            "<b>still there</b>.</p>"
        )
        parts += [f'<p class="note">{e(n)}</p>' for n in c.notes]
    for ent in report.entities:
        parts.append(_entity_section(ent, changes.get(ent.name), report.history))
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _gate(report: RunReport) -> str:
    """The rollout gate's verdict beside the page's own, and why the two may differ."""
    g = report.gate
    if g is None:
        return ""
    colour = COLOURS["clean"] if g.verdict == "PASS" else COLOURS["block"]
    why = (
        f"The page's verdict ({e(VERDICT_LABEL[report.verdict])}) counts every blocking row; the gate "
        "allows each stage a rate of them, and fails closed on a partial, stale or changed run."
    )
    return (
        f'<section id="gate" data-verdict="{e(g.verdict)}" style="border-left:6px solid {colour};'
        'padding:.2em 1em;margin:1em 0;background:#f6f8fa">'
        f"<h2>Rollout gate at stage {e(f'{g.stage:g}')}%: {e(g.verdict)}</h2><p>{why}</p>"
        f"<pre>{e(chr(10).join(g.lines))}</pre></section>"
    )


def _explanations(report: RunReport) -> str:
    """What the unexplained differences have in common, with the snippet that would explain it."""
    if not report.explanations:
        return ""
    rows = "".join(
        f"<tr><td>{e(s.entity)}</td><td>{e(s.column)}</td><td class='n'>{s.rows:,}</td>"
        f"<td class='n'>{s.of:,}</td><td>{e(s.why)}</td><td><pre>{e(s.snippet)}</pre></td></tr>"
        for s in report.explanations
    )
    return (
        '<h2>What the unexplained differences have in common</h2><p id="explanations-note">'
        "Suggestions (<code>verify explain --run DIR</code> prints them as YAML); none changes a verdict."
        '</p><table id="explanations"><thead><tr><th>entity</th><th>column</th><th>rows it explains</th>'
        "<th>of the column's</th><th>what they have in common</th><th>change</th></tr></thead>"
        f"<tbody>{rows}</tbody></table>"
    )


def _entities_table(entities: tuple[EntityReport, ...]) -> str:
    rows = [
        '<h2>Entities</h2><table id="entities"><thead><tr><th>entity</th><th>verdict</th>'
        "<th>compared</th><th>matched</th><th>missing in new</th><th>extra in new</th>"
        "<th>duplicate keys</th><th>differing rows</th><th>blocking rows</th><th>blocking rate</th>"
        "</tr></thead><tbody>"
    ]
    for x in entities:
        nums = (
            x.compared,
            x.matched,
            x.missing_in_new,
            x.extra_in_new,
            x.duplicate_keys,
            x.value_mismatch_rows,
            x.blocking_rows,
        )
        rows.append(
            f'<tr class="entity" data-entity="{e(x.name)}" data-verdict="{e(x.verdict)}" '
            f'style="--v:{COLOURS[x.verdict]}">'
            f'<td><a href="#{_anchor("entity", x.name)}">{e(x.name)}</a></td>'
            f"<td>{_badge(x.verdict)}</td>"
            + "".join(f'<td class="n">{n:,}</td>' for n in nums)
            + f'<td class="n">{e(pct(x.blocking_rate))}</td></tr>'
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def _rules_table(entities: tuple[EntityReport, ...]) -> str:
    rules = [(x, r) for x in entities for r in x.rules]
    if not rules:
        return '<h2>Rules</h2><p id="rules">No differences: no rule has rows.</p>'
    rows = [
        '<h2>Rules</h2><table id="rules"><thead><tr><th>entity</th><th>rule</th><th>severity</th>'
        "<th>rows</th><th>cells</th><th>rate</th><th>target</th><th>owner</th><th>ticket</th>"
        "<th>expires</th><th>note</th></tr></thead><tbody>"
    ]
    for x, r in rules:
        expires = e(r.expires or "")
        if r.expired:
            expires += ' <span class="expired">expired</span>'
        rows.append(
            f'<tr class="rule" data-entity="{e(x.name)}" data-rule="{e(r.name)}" '
            f'data-severity="{e(r.severity)}">'
            f'<td>{e(x.name)}</td><td><a href="#{_anchor("samples", x.name, r.name)}">{e(r.name)}</a></td>'
            f'<td>{_sev(r.severity)}</td><td class="n">{r.rows:,}</td><td class="n">{r.cells:,}</td>'
            f'<td class="n">{e(pct(r.rate))}</td><td>{e(target(r.kind, r.column))}</td>'
            f"<td>{e(r.owner or '')}</td><td>{e(r.ticket or '')}</td><td>{expires}</td>"
            f"<td>{e(r.note or '')}</td></tr>"
        )
    rows.append("</tbody></table>")
    return "".join(rows)


def _entity_section(x: EntityReport, changes: EntityChanges | None, history: tuple[HistoryPoint, ...]) -> str:
    out = [
        f'<section class="entity" id="{_anchor("entity", x.name)}" data-entity="{e(x.name)}">',
        f"<h2>{e(x.name)} {_badge(x.verdict)}</h2>",
        f'<p class="meta">{x.compared:,} rows compared ({x.rows_old:,} old, {x.rows_new:,} new), '
        f"{x.blocking_rows:,} blocking, rate {e(pct(x.blocking_rate))}"
        + (f"; key ({e(', '.join(x.keys))})" if x.keys else "")
        + "</p>",
    ]
    if x.segments_failed:
        out.append(f'<p class="note">{x.segments_failed} segment(s) failed: the counts are incomplete.</p>')
    if x.by_column:
        out.append(
            '<h3>Differing cells per column</h3><table class="columns"><tr><th>column</th><th>cells</th></tr>'
            + "".join(f'<tr><td>{e(c)}</td><td class="n">{n:,}</td></tr>' for c, n in x.by_column)
            + "</table>"
        )
    for side, cols in x.unpaired:
        out.append(
            f'<p class="note">Not compared, only on the {side} side: {e(", ".join(cols))} '
            '(<code>columns: "*"</code> pairs columns by name; map these under <code>columns:</code>, '
            "or ignore them).</p>"
        )
    if changes is not None:
        out.append(_changes(changes))
    out.append(_chart(x, history))
    for r in x.rules:
        out.append(_samples(x, r))
    for column, cells in x.column_samples:
        out.append(_column_samples(x, column, cells))
    out.append("</section>")
    return "\n".join(out)


def _keys(keys: tuple[tuple[object, ...], ...], total: int) -> str:
    shown = "; ".join(f"({e(key_text(k))})" for k in keys[:KEYS_SHOWN])
    more = total - min(len(keys), KEYS_SHOWN)
    return shown + (f"; … and {more:,} more" if more > 0 else "")


def _changes(c: EntityChanges) -> str:
    out = [
        '<h3>Since the other run</h3><table class="changes"><tr><th>rule</th><th>fixed</th><th>new</th>'
        "<th>still there</th><th>now under another rule</th></tr>",
        f'<tr class="total"><td><b>all rules</b></td><td class="n">{c.total.fixed:,}</td>'
        f'<td class="n">{c.total.new:,}</td><td class="n">{c.total.still:,}</td><td></td></tr>',
    ]
    for k in c.rules:
        out.append(
            f'<tr data-rule="{e(k.rule or "")}"><td>{e(k.rule or "")}</td><td class="n">{k.fixed:,}</td>'
            f'<td class="n">{k.new:,}</td><td class="n">{k.still:,}</td><td class="n">{k.moved:,}</td></tr>'
        )
    out.append("</table>")
    names = e(", ".join(c.keys))
    for label, keys, total in (
        ("fixed", c.total.fixed_keys, c.total.fixed),
        ("new", c.total.new_keys, c.total.new),
    ):
        if total:
            out.append(
                f'<details class="keys-{label}"><summary>{total:,} keys {label} ({names})</summary>'
                f'<p class="keys">{_keys(keys, total)}</p></details>'
            )
    return "".join(out)


def _chart(x: EntityReport, history: tuple[HistoryPoint, ...]) -> str:
    """Rates per rule across the runs: one line per rule, one point per run (inline SVG)."""
    rules = sorted({r for p in history for r in p.rates.get(x.name, {})})
    if not rules or len(history) < 2:  # one run is a point, not a trend: its rates are in the tables
        return ""
    width, height, left, right, top, bottom = 640, 220, 56, 16, 12, 40
    n = len(history)
    top_rate = max((p.rates.get(x.name, {}).get(r, 0.0) for p in history for r in rules), default=0.0)
    scale = top_rate if top_rate > 0 else 0.01
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(i: int) -> float:
        return left + (plot_w * i / (n - 1) if n > 1 else plot_w / 2)

    def py(rate: float) -> float:
        return top + plot_h * (1 - rate / scale)

    svg = [
        f'<svg class="trend" data-entity="{e(x.name)}" data-runs="{n}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{e(x.name)}: rate of rows per rule over the last {n} run(s)</title>",
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#f6f8fa" stroke="#d0d7de"/>',
    ]
    for frac in (0.0, 0.5, 1.0):
        y = py(scale * frac)
        svg.append(f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#d0d7de"/>')
        svg.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{e(pct(scale * frac))}</text>')
    for i, p in enumerate(history):
        if not (n <= 6 or p.current or i % max(1, n // 6) == 0):
            continue  # at most about six labels under the axis
        label = "this run" if p.current else p.run_id[:15]
        anchor = "end" if i == n - 1 and n > 1 else "start" if i == 0 and n > 1 else "middle"
        svg.append(
            f'<text x="{px(i):.1f}" y="{height - bottom + 16}" text-anchor="{anchor}">{e(label)}</text>'
        )
    for j, rule in enumerate(rules):
        colour = _rule_colour(rule, j)
        points = [(px(i), py(p.rates.get(x.name, {}).get(rule, 0.0))) for i, p in enumerate(history)]
        if n > 1:
            svg.append(
                f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="'
                + " ".join(f"{a:.1f},{b:.1f}" for a, b in points)
                + '"/>'
            )
        for (a, b), p in zip(points, history, strict=True):
            rate = p.rates.get(x.name, {}).get(rule, 0.0)
            svg.append(
                f'<circle class="point" data-rule="{e(rule)}" data-run="{e(p.run_id)}" '
                f'data-rate="{rate:.6f}" '
                f'cx="{a:.1f}" cy="{b:.1f}" r="4" fill="{colour}"><title>{e(rule)} in {e(p.run_id)}: '
                f"{e(pct(rate))}</title></circle>"
            )
    svg.append("</svg>")
    legend = "".join(
        f'<span><i style="background:{_rule_colour(rule, j)}"></i>{e(rule)}</span>'
        for j, rule in enumerate(rules)
    )
    return (
        f"<h3>Rate per rule over the last {n} run(s)</h3>"
        + "".join(svg)
        + f'<div class="legend">{legend}</div>'
    )


def _column_samples(x: EntityReport, column: str, cells: tuple[ColumnSample, ...]) -> str:
    """A column's first differing cells, whichever rule explains each: a whole column at a glance."""
    total = dict(x.by_column).get(column, len(cells))
    rows = []
    for c in cells:
        key = "".join(f'<td class="val key">{e("NULL" if v is None else key_text((v,)))}</td>' for v in c.key)
        shown = marked(*show_pair(c.old, c.new))
        values = "".join(
            f'<td class="val diff {side}">{e(head)}{f"<mark>{e(mid)}</mark>" if mid else ""}{e(tail)}</td>'
            for side, (head, mid, tail) in zip(("old", "new"), shown, strict=True)
        )
        rows.append(f'<tr class="sample">{key}<td>{e(c.rule)}</td>{values}</tr>')
    return (
        f'<h3 id="{_anchor("column", x.name, column)}">Column {e(column)} ({len(cells)} of {total:,} '
        f'differing cells)</h3><table class="samples column-samples" data-entity="{e(x.name)}" '
        f'data-column="{e(column)}"><thead><tr>'
        + "".join(f"<th>{e(k)}</th>" for k in x.keys)
        + "<th>rule</th><th>old</th><th>new</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table>"
    )


def _samples(x: EntityReport, r: RuleReport) -> str:
    head = (
        f'<h3 id="{_anchor("samples", x.name, r.name)}">Samples: {e(r.name)} {_sev(r.severity)} '
        f"({len(r.samples)} of {r.rows:,} rows)</h3>"
    )
    if not r.samples:
        return head + "<p>No sample rows (the mismatch parts hold none for this rule).</p>"
    columns = list(
        dict.fromkeys(c.column for s in r.samples if s.kind == "value" for c in s.cells if c.column)
    )
    out = [
        head,
        f'<table class="samples" data-entity="{e(x.name)}" data-rule="{e(r.name)}"><thead><tr>',
        "".join(f'<th rowspan="2">{e(k)}</th>' for k in x.keys),
        "".join(f'<th colspan="2">{e(c)}</th>' for c in columns) if columns else "",
        '<th rowspan="2">row</th>' if any(s.kind != "value" for s in r.samples) else "",
        "</tr><tr>",
        "".join("<th>old</th><th>new</th>" for _ in columns),
        "</tr></thead><tbody>",
    ]
    row_level = any(s.kind != "value" for s in r.samples)
    for s in r.samples:
        cells = "".join(
            f'<td class="val key">{e("NULL" if v is None else key_text((v,)))}</td>' for v in s.key
        )
        by_col = {c.column: c for c in s.cells if c.column}
        for col in columns:
            cell = by_col.get(col) if s.kind == "value" else None
            if cell is None:
                cells += '<td class="same" colspan="2" title="no difference under this rule">·</td>'
                continue
            shown = marked(*show_pair(cell.old, cell.new))
            for side, (head, mid, tail) in zip(("old", "new"), shown, strict=True):
                mark = f"<mark>{e(mid)}</mark>" if mid else ""
                cells += f'<td class="val diff {side}" data-column="{e(col)}">{e(head)}{mark}{e(tail)}</td>'
        if row_level:
            cells += f'<td class="rowkind">{e(row_label(s)) if s.kind != "value" else ""}</td>'
        out.append(f'<tr class="sample" data-kind="{e(s.kind)}">{cells}</tr>')
    out.append("</tbody></table>")
    return "".join(out)
