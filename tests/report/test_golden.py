"""Golden files for the Markdown, JSON and JUnit reports of the hand-written runs.

Regenerate after an intended change with `VERIFY_UPDATE_GOLDEN=1 pytest tests/report/test_golden.py`
and review the diff of tests/report/golden/.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from verify.report.junit import render_junit
from verify.report.load import load_report
from verify.report.markdown import render_markdown
from verify.report.output import render_json

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("VERIFY_UPDATE_GOLDEN") == "1"
RENDER = {"report.md": render_markdown, "report.json": render_json, "report.junit.xml": render_junit}


@pytest.mark.parametrize("name", sorted(RENDER))
def test_output_matches_the_golden_file(runs, name):
    text = RENDER[name](load_report(str(runs[2])))
    # No path of the machine (the runs live in a temporary directory) may leak into a report.
    assert str(runs[2].parent) not in text and "/tmp" not in text
    golden = GOLDEN / name
    if UPDATE:
        golden.write_text(text, encoding="utf-8")
    assert golden.exists(), f"{golden} is missing; create it with VERIFY_UPDATE_GOLDEN=1"
    assert text == golden.read_text(encoding="utf-8"), (
        f"{name} differs from {golden}; if the change is intended, regenerate with VERIFY_UPDATE_GOLDEN=1"
    )


def test_rendering_is_deterministic(runs):
    first = load_report(str(runs[2]))
    second = load_report(str(runs[2]))
    for render in RENDER.values():
        assert render(first) == render(second)


def test_junit_has_one_case_per_entity_and_rule_and_blocking_ones_fail(runs):
    root = ET.fromstring(render_junit(load_report(str(runs[2]))))
    cases = {(c.get("classname"), c.get("name")): c for c in root.iter("testcase")}
    assert set(cases) == {
        ("verify.line_item", "unexplained"),
        ("verify.line_item", "money_rounding"),
        ("verify.line_item", "far_future"),
        ("verify.campaign", "money_rounding"),
        ("verify.creative", "no differences"),
    }
    failed = {k for k, c in cases.items() if c.find("failure") is not None}
    assert failed == {("verify.line_item", "unexplained")}
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("5", "1", "0")
    failure = cases[("verify.line_item", "unexplained")].find("failure")
    assert failure is not None and "3 rows (30.00%), 4 cells" in (failure.get("message") or "")
    assert "<script>alert('x')</script>" in (failure.text or "")  # escaped in the file, intact when parsed


def test_json_is_the_summary_plus_samples(runs):
    data = json.loads(render_json(load_report(str(runs[2]))))
    li = next(e for e in data["entities"] if e["name"] == "line_item")
    summary = json.loads((runs[2] / "summary.json").read_text())["entities"]["line_item"]
    for field in ("compared", "matched", "missing_in_new", "extra_in_new", "blocking_rows"):
        assert li[field] == summary[field]
    unexplained = next(r for r in li["rules"] if r["name"] == "unexplained")
    assert unexplained["samples"][0]["key"] == {"advertiser_id": 1, "line_item_id": 3}
    assert unexplained["samples"][2]["key"] == {"advertiser_id": None, "line_item_id": 6}
    changes = next(e for e in data["comparison"]["entities"] if e["entity"] == "line_item")
    assert changes["total"]["fixed_keys"] == [[1, 1]]


def test_markdown_escapes_table_breakers_and_html(runs):
    text = render_markdown(load_report(str(runs[2])))
    assert "<script>" not in text and "&lt;script&gt;" in text
    assert "a\\|b" in text  # a pipe in a value does not split the table cell
    assert "| paused\\\\x0a |" in text  # a newline in a value is shown, and does not end the table row
