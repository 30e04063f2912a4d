"""Explanations: the patterns of the unexplained differences, on real SQLite stores, and the
suggested snippets, merged into the mapping, explain exactly those rows and no others."""

from __future__ import annotations

import datetime as dt
import json
import random
import sqlite3
import subprocess
import sys
import unicodedata
from pathlib import Path

import yaml

from verify.engine.run import DiffOptions, run_diff

COLUMNS = ["padded", "spaced", "code", "word", "empty", "missing", "amount", "price", "at", "state", "noise"]
MAPPING = {
    "version": 1,
    "entities": {
        "t": {
            "old": {"table": "t"},
            "new": {"table": "t"},
            "key": ["id"],
            "columns": {
                **{c: {} for c in COLUMNS},
                "amount": {"type": "int"},
                "price": {"type": "float"},
                "at": {"type": "timestamp"},
                "state": {"type": "string"},
            },
        }
    },
}
EXPECTED = {
    "padded": "rtrim",
    "spaced": "trim",
    "code": "lower",
    "word": "nfc",
    "empty": "null_empty",
    "missing": "sentinel",
    "amount": "scale",
    "price": "rounding",
    "at": "offset",
    "state": "recode",
}  # and nothing for `noise`, which differs at random


def stores(tmp: Path) -> tuple[str, str]:
    """400 rows a side. A scale, a time zone and a recoding hold for a whole column (`amount`,
    `at`, `state`); each other column differs in one row in ten, each in its own way."""
    rng = random.Random(1)
    dbs = {side: sqlite3.connect(tmp / f"{side}.db") for side in ("old", "new")}
    types = {"amount": "INTEGER", "price": "REAL"}
    typed = ", ".join(f"{c} {types.get(c, 'TEXT')}" for c in COLUMNS)
    ddl = f"CREATE TABLE t (id INTEGER PRIMARY KEY, {typed})"
    states = {0: "DRAFT", 1: "READY", 2: "PAUSED"}
    for db in dbs.values():
        db.execute(ddl)
    for i in range(1, 401):
        word = "Zoë"
        at = dt.datetime(2024, 1, 1) + dt.timedelta(hours=i)
        old = [i, f"name {i}", f"n{i}", f"AB{i}", word, None, None, i * 100, i + 0.123456]
        old += [at.isoformat(sep=" "), str(i % 3), f"x{i}"]
        new = list(old)
        match i % 10:
            case 0:
                new[1] += "  "
            case 1:
                new[2] = f"  {old[2]} "
            case 2:
                new[3] = old[3].lower()
            case 3:
                new[4] = unicodedata.normalize("NFD", word)
            case 4:
                new[5] = ""
            case 5:
                new[6] = "N/A"
            case 7:
                new[8] = round(old[8], 2)
            case 9:
                new[11] = f"y{rng.random()}"
        new[7], new[9], new[10] = i * 100_000, (at + dt.timedelta(hours=5)).isoformat(sep=" "), states[i % 3]
        for db, row in ((dbs["old"], old), (dbs["new"], new)):
            db.execute(f"INSERT INTO t VALUES ({', '.join('?' * len(row))})", row)
    for db in dbs.values():
        db.commit()
        db.close()
    return f"sqlite:///{tmp / 'old.db'}", f"sqlite:///{tmp / 'new.db'}"


def diff(tmp: Path, mapping: dict, name: str, urls: tuple[str, str]):
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(mapping, sort_keys=False))
    return run_diff(DiffOptions(str(path), *urls, out_dir=str(tmp / name)))


def test_each_pattern_gets_its_suggestion_and_random_differences_none(tmp_path):
    result = diff(tmp_path, MAPPING, "run", stores(tmp_path))
    found = {s.column: s.pattern for s in result.explanations}
    assert found == EXPECTED
    for s in result.explanations:
        assert s.rows == s.of == (400 if s.column in ("amount", "at", "state") else 40), s
    saved = json.loads((tmp_path / "run" / "summary.json").read_text())["explanations"]
    assert {x["column"]: x["pattern"] for x in saved} == EXPECTED
    assert result.exit_code == 1  # a suggestion changes no verdict


def test_the_snippets_merged_into_the_mapping_explain_their_rows_and_only_them(tmp_path):
    urls = stores(tmp_path)
    diff(tmp_path, MAPPING, "run", urls)
    verify = str(Path(sys.executable).with_name("verify"))
    printed = subprocess.run(
        [verify, "explain", "--run", str(tmp_path / "run")], capture_output=True, text=True, check=True
    ).stdout
    fragment = yaml.safe_load(printed)["entities"]["t"]
    mapping = json.loads(json.dumps(MAPPING))
    entity = mapping["entities"]["t"]
    entity["old"].update(fragment["old"])  # the old side's time zone
    for column, keys in fragment["columns"].items():
        entity["columns"][column].update(keys)
    entity["rules"] = [{**r, "owner": "me"} for r in fragment["rules"]]
    after = diff(tmp_path, mapping, "after", urls).entities["t"]
    unexplained = after.by_rule["unexplained"]
    assert (unexplained.rows, after.blocking_rows) == (40, 40)  # `noise`, and nothing else
    explained_by_rules = {name: rc.rows for name, rc in after.by_rule.items() if name != "unexplained"}
    assert explained_by_rules == {
        "empty_null_as_empty": 40,
        "missing_null_as_n_a": 40,
        "price_rounded_to_2_places": 40,
    }


def test_explain_on_a_directory_that_is_no_run_is_bad_input(tmp_path):
    verify = str(Path(sys.executable).with_name("verify"))
    proc = subprocess.run([verify, "explain", "--run", str(tmp_path)], capture_output=True, text=True)
    assert proc.returncode == 2 and "is not a verify run directory" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_the_reports_show_the_explanations(tmp_path):
    from verify.report.html import render_html
    from verify.report.load import load_report
    from verify.report.markdown import render_markdown

    diff(tmp_path, MAPPING, "run", stores(tmp_path))
    report = load_report(str(tmp_path / "run"))
    assert {s.column for s in report.explanations} == set(EXPECTED)
    markdown, html = render_markdown(report), render_html(report)
    assert "## What the unexplained differences have in common" in markdown
    assert (
        "| t | padded | 40 | 40 | the two sides differ only in trailing blanks "
        "| `padded: {normalize: [rtrim]}` |" in markdown
    )
    assert 'id="explanations"' in html and "map_old: {0: &quot;DRAFT&quot;" in html


def test_on_the_dfp_scenario_each_waived_defect_kind_is_suggested_back(tmp_path):
    """The hand-written mapping's rules for NFC names, trailing blanks, the 2038 and 1970
    sentinels, money rounding and soft deletes taken out: each comes back as a suggestion, nothing is
    suggested for the bugs with no pattern, and with the suggestions merged the blocking rows
    are exactly those of the hand-written mapping."""
    from verify.scenario import build

    root = Path(__file__).resolve().parents[2]
    urls = (f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}")
    build("dfp_to_f1", old_url=urls[0], new_url=urls[1], rows=20_000, seed=1)
    written = yaml.safe_load((root / "mappings/dfp_to_f1.yaml").read_text())
    waived = {
        "names_nfc_normalized",
        "names_right_trimmed",
        "open_end_as_2038_sentinel",
        "zero_date_as_epoch",
        "money_rounded_to_cents",
        "soft_deleted_not_migrated",
    }
    stripped = yaml.safe_load((root / "mappings/dfp_to_f1.yaml").read_text())  # a copy
    line_item = stripped["entities"]["line_item"]
    line_item["rules"] = [r for r in line_item["rules"] if r["name"] not in waived]
    run = diff(tmp_path, stripped, "stripped", urls)
    found = sorted((s.column, s.pattern) for s in run.explanations)
    assert found == [
        ("archived", "missing_shared"),  # the soft-deleted rows, not the 10 dropped at random
        ("budget", "rounding"),
        ("end_time", "sentinel"),
        ("end_time", "sentinel"),
        ("name", "nfc"),
        ("name", "rtrim"),
        ("start_time", "offset"),  # the DST fall-back hour: a bug the hand-written mapping leaves
    ]
    verify = str(Path(sys.executable).with_name("verify"))
    printed = subprocess.run(
        [verify, "explain", "--run", str(tmp_path / "stripped")], capture_output=True, text=True, check=True
    ).stdout
    fragment = yaml.safe_load(printed)["entities"]["line_item"]
    for column, keys in fragment["columns"].items():
        line_item["columns"][column] = {**(line_item["columns"][column] or {}), **keys}
    line_item["rules"] += [{**r, "owner": "me"} for r in fragment["rules"]]
    merged = diff(tmp_path, stripped, "merged", urls)
    by_hand = diff(tmp_path, written, "by-hand", urls)
    assert merged.blocking_rows == by_hand.blocking_rows
    for name in merged.entities:
        assert merged.entities[name].blocking_rows == by_hand.entities[name].blocking_rows, name
