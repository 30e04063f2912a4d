"""JUnit XML: one test case per entity and rule, so CI systems show blocking differences natively.

A rule of severity `block` with rows fails; `warn` and `accept` pass (with their counts in
system-out); an entity without differences is one passing case; an entity whose segments did
not all finish is an error.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from verify.report.model import EntityReport, RuleReport, RunReport, key_text
from verify.report.text import pct, row_label, show_pair, target

SAMPLES_SHOWN = 10
# Characters XML 1.0 cannot hold, even escaped.
_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str) -> str:
    return _INVALID_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, {k: _clean(v) for k, v in attrs.items()})
    if text is not None:
        el.text = _clean(text)
    return el


def _samples(e: EntityReport, r: RuleReport) -> str:
    lines = []
    for s in r.samples[:SAMPLES_SHOWN]:
        key = f"({key_text(s.key)})"
        if s.kind != "value":
            lines.append(f"{key}: {row_label(s)}")
            continue
        for c in s.cells:
            old, new = show_pair(c.old, c.new)
            lines.append(f"{key} {c.column}: old {old!s} | new {new!s}")
    more = r.rows - min(len(r.samples), SAMPLES_SHOWN)
    if more > 0:
        lines.append(f"… and {more:,} more rows")
    head = f"{e.name} key ({', '.join(e.keys)})" if e.keys else e.name
    return head + "\n" + "\n".join(lines) if lines else head


def _describe(r: RuleReport) -> str:
    parts = [f"{r.rows:,} rows ({pct(r.rate)}), {r.cells:,} cells under rule {r.name} [{r.severity}]"]
    for label, value in (
        ("target", target(r.kind, r.column)),
        ("owner", r.owner),
        ("ticket", r.ticket),
        ("expires", r.expires),
        ("note", r.note),
    ):
        if value:
            parts.append(f"{label}: {value}")
    if r.expired:
        parts.append("the rule has expired")
    return "; ".join(parts)


def render_junit(report: RunReport) -> str:
    suites = ET.Element("testsuites", {"name": _clean(f"verify {report.run.id}")})
    totals = {"tests": 0, "failures": 0, "errors": 0}
    for e in report.entities:
        suite = _sub(suites, "testsuite", name=e.name, timestamp=report.run.started_at or "")
        props = _sub(suite, "properties")
        for name, value in (
            ("run", report.run.id),
            ("mapping", report.run.mapping_path or ""),
            ("compared", str(e.compared)),
            ("blocking_rows", str(e.blocking_rows)),
            ("blocking_rate", f"{e.blocking_rate:.6f}"),
        ):
            _sub(props, "property", name=name, value=value)
        counts = {"tests": 0, "failures": 0, "errors": 0}
        classname = f"verify.{e.name}"
        if e.segments_failed:
            case = _sub(suite, "testcase", classname=classname, name="run complete")
            _sub(
                case,
                "error",
                f"{e.segments_failed} segment(s) of {e.name} failed; the counts are incomplete",
                message="segments failed",
                type="incomplete",
            )
            counts["tests"] += 1
            counts["errors"] += 1
        if not e.rules:
            _sub(suite, "testcase", classname=classname, name="no differences")
            counts["tests"] += 1
        for r in e.rules:
            case = _sub(suite, "testcase", classname=classname, name=r.name)
            counts["tests"] += 1
            if r.severity == "block" and r.rows:
                _sub(case, "failure", _samples(e, r), message=_describe(r), type="block")
                counts["failures"] += 1
            else:
                _sub(case, "system-out", _describe(r) + "\n" + _samples(e, r))
        for k, v in counts.items():
            suite.set(k, str(v))
            totals[k] += v
        suite.set("skipped", "0")
    for k, v in totals.items():
        suites.set(k, str(v))
    ET.indent(suites)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(suites, encoding="unicode") + "\n"
