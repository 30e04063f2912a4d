"""The HTML report in a real browser: headless Chromium renders the file, we check the page.

Needs Debian's `chromium` (`apt-get install -y chromium`; .ci/run installs it). Without it the
test skips with the reason; under CI=true it fails, so CI cannot pass without the browser.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from html.parser import HTMLParser
from pathlib import Path

import pytest

from verify.report.html import COLOURS, render_html
from verify.report.load import load_report
from verify.report.model import GateView

pytestmark = pytest.mark.browser
WIDTH, HEIGHT = 1280, 2400
VOID = {"meta", "br", "hr", "img", "input", "link", "col", "area", "base", "source", "wbr"}


@pytest.fixture(scope="module")
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        msg = "headless Chromium is not installed (Debian: apt-get install -y chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{msg}; under CI=true the browser test may not be skipped")
        pytest.skip(msg)
    return path


def browse(chromium: str, page: Path, tmp: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",  # tests may run as root (containers)
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={tmp}",  # a profile per call: parallel tests do not share a lock
            f"--window-size={WIDTH},{HEIGHT}",
            *args,
            page.as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node] = []
        self.text = ""

    @property
    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class DOM(HTMLParser):
    """The browser's serialized DOM as a small tree, to query by tag, class and attribute."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.root = Node("#root", {}, None)
        self.cur = self.root
        self.all: list[Node] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.cur)
        self.cur.children.append(node)
        self.all.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_endtag(self, tag: str) -> None:
        node = self.cur
        while node.parent is not None and node.tag != tag:
            node = node.parent
        if node.parent is not None:
            self.cur = node.parent

    def handle_data(self, data: str) -> None:
        node: Node | None = self.cur
        while node is not None:
            node.text += data
            node = node.parent

    def find(self, tag: str, cls: str | None = None, within: Node | None = None, **attrs: str) -> list[Node]:
        def inside(n: Node) -> bool:
            p: Node | None = n
            while p is not None:
                if p is within:
                    return True
                p = p.parent
            return False

        return [
            n
            for n in self.all
            if n.tag == tag
            and (cls is None or cls in n.classes)
            and all(n.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
            and (within is None or inside(n))
        ]


def png_pixels(data: bytes) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Width, height and RGB pixels of an 8-bit, non-interlaced RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    height = bpp = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", body)
            assert depth == 8 and colour in (2, 6) and interlace == 0, (depth, colour, interlace)
            bpp = 3 if colour == 2 else 4
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    prev = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for y in range(height):
        ftype, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for x in range(stride):
            a = line[x - bpp] if x >= bpp else 0
            b, c = prev[x], prev[x - bpp] if x >= bpp else 0
            if ftype == 1:
                line[x] = (line[x] + a) & 0xFF
            elif ftype == 2:
                line[x] = (line[x] + b) & 0xFF
            elif ftype == 3:
                line[x] = (line[x] + (a + b) // 2) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else b if pb <= pc else c
                line[x] = (line[x] + pred) & 0xFF
        pixels += [tuple(line[i : i + 3]) for i in range(0, stride, bpp)]  # type: ignore[misc]
        prev = line
    return width, height, pixels


def rgb(hex_colour: str) -> tuple[int, int, int]:
    return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]


@pytest.fixture(scope="module")
def rendered(chromium, tmp_path_factory, request):
    """The report of the hand-written runs, rendered by Chromium: (page file, DOM, screenshot)."""
    from report_fixtures import DIFFS, RUN_IDS, write_run

    tmp = tmp_path_factory.mktemp("browser")
    for i, (run_id, diffs) in enumerate(zip(RUN_IDS, DIFFS, strict=True)):
        write_run(tmp / "runs" / run_id, f"2025-01-0{i + 1}T10:00:00.000000+00:00", diffs)
    page = tmp / "report.html"
    report = load_report(str(tmp / "runs" / RUN_IDS[-1]))
    # as `verify report --policy FILE --stage 5` shows the gate's verdict beside the page's own
    gate = GateView("PASS", 5.0, ("PASS at stage 5", "  PASS         line_item: blocking rate 0.3% <= 1%"))
    page.write_text(render_html(dataclasses.replace(report, gate=gate)), encoding="utf-8")
    dom = browse(chromium, page, tmp / "profile-dom", "--dump-dom").stdout.decode()
    shot = tmp / "report.png"
    browse(chromium, page, tmp / "profile-shot", f"--screenshot={shot}")
    return page, DOM(dom), shot.read_bytes()


def test_the_gate_verdict_is_beside_the_pages_own(rendered):
    _, dom, _ = rendered
    (gate,) = dom.find("section", data_verdict="PASS")
    assert "Rollout gate at stage 5%: PASS" in gate.text and "BLOCKING" in gate.text
    assert "counts every blocking row" in gate.text and "line_item: blocking rate 0.3%" in gate.text


def test_entities_render_with_their_verdicts(rendered):
    _, dom, _ = rendered
    rows = dom.find("tr", "entity")
    assert {r.attrs["data-entity"]: r.attrs["data-verdict"] for r in rows} == {
        "line_item": "block",
        "campaign": "warn",
        "creative": "clean",
    }
    line_item = next(r for r in rows if r.attrs["data-entity"] == "line_item")
    assert "BLOCKING" in line_item.text and "30.00%" in line_item.text


def test_rule_table_has_severity_counts_owner_and_ticket(rendered):
    _, dom, _ = rendered
    rules = {(r.attrs["data-entity"], r.attrs["data-rule"]): r for r in dom.find("tr", "rule")}
    assert set(rules) == {
        ("line_item", "unexplained"),
        ("line_item", "money_rounding"),
        ("line_item", "far_future"),
        ("campaign", "money_rounding"),
    }
    far = rules[("line_item", "far_future")]
    assert far.attrs["data-severity"] == "accept"
    assert "ads-core" in far.text and "MIG-142" in far.text and "expired" in far.text


def test_chart_has_one_point_per_run_and_rule(rendered):
    _, dom, _ = rendered
    charts = {svg.attrs["data-entity"]: svg for svg in dom.find("svg", "trend")}
    assert set(charts) == {"line_item", "campaign"}
    assert charts["line_item"].attrs["data-runs"] == "3"
    points = dom.find("circle", "point", within=charts["line_item"])
    assert len(points) == 3 * 3  # 3 runs x 3 rules
    rates = [p.attrs["data-rate"] for p in points if p.attrs["data-rule"] == "unexplained"]
    assert rates == ["0.100000", "0.200000", "0.300000"]
    # `unexplained` is drawn in the blocking red in every chart, and no other rule is
    fills = {p.attrs["data-rule"]: p.attrs["fill"] for p in points}
    assert fills["unexplained"] == COLOURS["block"]
    assert all(f != COLOURS["block"] for r, f in fills.items() if r != "unexplained")
    assert len(dom.find("circle", "point", within=charts["campaign"])) == 3


def test_samples_mark_the_differing_cells_and_data_stays_text(rendered):
    _, dom, _ = rendered
    assert dom.find("script") == [] and dom.find("img") == []  # database values never become markup
    table = dom.find("table", "samples", data_entity="line_item", data_rule="unexplained")[0]
    samples = dom.find("tr", "sample", within=table)
    assert [s.attrs["data-kind"] for s in samples] == ["missing_in_new", "value", "extra_in_new"]
    marked = dom.find("td", "diff", within=samples[1])
    assert [(c.attrs["data-column"], c.text) for c in marked] == [
        ("name", "<script>alert('x')</script>"),
        ("name", "a|b"),
        ("state", "Cafe\\u0301"),
        ("state", "Caf\\u00e9"),
    ]
    # inside a differing cell, the characters that differ are marked
    assert [m.text for c in marked[2:] for m in dom.find("mark", within=c)] == ["e\\u0301", "\\u00e9"]
    # each differing column has its own samples, whichever rule explains them
    by_column = dom.find("table", "column-samples", data_entity="line_item")
    assert [t.attrs["data-column"] for t in by_column] == ["budget", "end_time", "name", "state"]
    name_rows = dom.find("tr", "sample", within=by_column[2])
    assert "unexplained" in name_rows[0].text and "<script>alert('x')</script>" in name_rows[0].text
    fixed = dom.find("details", "keys-fixed")
    assert len(fixed) == 1 and "(1, 1)" in fixed[0].text


def test_screenshot_is_the_page_in_its_verdict_colours(rendered):
    _, _, png = rendered
    width, height, pixels = png_pixels(png)
    assert (width, height) == (WIDTH, HEIGHT)
    counts = Counter(pixels)
    assert len(counts) > 50, "the page rendered (nearly) blank"
    for verdict in ("block", "warn", "clean"):
        assert counts[rgb(COLOURS[verdict])] > 200, f"no {verdict} badge colour in the screenshot"


def test_one_run_has_no_trend_chart(tmp_path):
    from report_fixtures import DIFFS, RUN_IDS, write_run

    write_run(tmp_path / "runs" / RUN_IDS[0], "2025-01-01T10:00:00.000000+00:00", DIFFS[0])
    html = render_html(load_report(str(tmp_path / "runs" / RUN_IDS[0])))
    assert 'class="trend"' not in html and "Rate per rule" not in html
