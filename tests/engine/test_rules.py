"""Business-logic rules on tiny SQLite stores, with each row's difference written next to it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import polars as pl
import pytest

from verify.engine.run import DiffOptions, run_diff
from verify.errors import MappingError
from verify.results.summary import RunResult

OLD_ROWS = [
    # id, name,   amount, status, ends
    (1, "a", 100, "LIVE", None),  # same on both sides
    (2, "b ", 100, "LIVE", None),  # name trimmed in new: trimmed_names (accept)
    (3, "c", 100, "LIVE", None),  # amount off by 1: small_amounts (warn)
    (4, "d", 100, "LIVE", None),  # amount off by 500: no rule -> unexplained (block)
    (5, "e ", 101, "LIVE", None),  # trimmed (accept) and off by 1 (warn): the row is a warning
    (6, "f", 100, "GONE", None),  # missing in new, status GONE: retired_rows (accept)
    (7, "g", 100, "LIVE", None),  # missing in new, live: unexplained (block)
    (8, "h", 100, "LIVE", None),  # twice in new: twice_written (warn)
    (9, "i", 100, "LIVE", None),  # ends NULL in old, 2038 sentinel in new: open_end (accept)
]
NEW_ROWS = [
    (1, "a", 100, "LIVE", None),
    (2, "b", 100, "LIVE", None),
    (3, "c", 101, "LIVE", None),
    (4, "d", 600, "LIVE", None),
    (5, "e", 100, "LIVE", None),
    (8, "h", 100, "LIVE", None),
    (8, "h", 100, "LIVE", None),
    (9, "i", 100, "LIVE", "2038-01-19 03:14:07"),
]
HEAD = """version: 1
entities:
  t:
    old: {table: t}
    new: {table: t}
    key: [id]
    columns:
      name: {}
      amount: {}
      status: {}
      ends: {type: timestamp(0)}
    rules:
"""
RULES = """      - name: trimmed_names
        column: name
        when: "RTRIM(old) = new"
        severity: accept
        ticket: T-1
        owner: team-a
      - name: small_amounts
        column: amount
        when: "ABS(old - new) <= 1"
        severity: warn
      - name: retired_rows
        kind: missing_in_new
        when: "old_status = 'GONE'"
        severity: accept
      - name: twice_written
        kind: duplicate_key
        when: "old = 1 AND new = 2"
        severity: warn
      - name: open_end
        column: ends
        when: "old IS NULL AND new = TIMESTAMP '2038-01-19 03:14:07'"
        severity: accept
"""


def store(path: Path, rows: list[tuple]) -> str:
    if not path.exists():
        with sqlite3.connect(path) as c:
            c.execute("CREATE TABLE t (id INTEGER, name TEXT, amount INTEGER, status TEXT, ends TEXT)")
            c.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?)", rows)
    return f"sqlite:///{path}"


def run(tmp_path: Path, rules: str, segment_rows: int = 50_000) -> tuple[RunResult, dict[tuple, tuple]]:
    mapping = tmp_path / "m.yaml"
    mapping.write_text(HEAD + rules)
    old, new = store(tmp_path / "old.db", OLD_ROWS), store(tmp_path / "new.db", NEW_ROWS)
    out = tmp_path / f"run-{segment_rows}-{len(rules)}"
    result = run_diff(DiffOptions(str(mapping), old, new, out_dir=str(out), segment_rows=segment_rows))
    records = pl.concat([pl.read_parquet(p) for p in sorted((out / "mismatches" / "t").glob("*.parquet"))])
    by_cell = {
        (r["id"], r["kind"], r["column"]): (r["rule"], r["severity"]) for r in records.iter_rows(named=True)
    }
    return result, by_cell


@pytest.mark.parametrize("segment_rows", [50_000, 2])
def test_each_difference_gets_the_first_rule_that_explains_it(tmp_path, segment_rows):
    result, cells = run(tmp_path, RULES, segment_rows)
    assert cells == {
        (2, "value", "name"): ("trimmed_names", "accept"),
        (3, "value", "amount"): ("small_amounts", "warn"),
        (4, "value", "amount"): ("unexplained", "block"),
        (5, "value", "name"): ("trimmed_names", "accept"),
        (5, "value", "amount"): ("small_amounts", "warn"),
        (6, "missing_in_new", None): ("retired_rows", "accept"),
        (7, "missing_in_new", None): ("unexplained", "block"),
        (8, "duplicate_key", None): ("twice_written", "warn"),
        (9, "value", "ends"): ("open_end", "accept"),
    }
    t = result.entities["t"]
    # A row counts once, at its worst severity: row 5 is a warning, not also an acceptance.
    assert (t.blocking_rows, t.warning_rows, t.accepted_rows) == (2, 3, 3)
    assert t.by_rule["trimmed_names"].rows == 2 and t.by_rule["trimmed_names"].columns == {"name": 2}
    assert (t.by_rule["trimmed_names"].ticket, t.by_rule["trimmed_names"].owner) == ("T-1", "team-a")
    assert t.by_rule["unexplained"].rows == 2 and t.by_rule["unexplained"].cells == 2
    assert list(t.by_rule) == [
        "trimmed_names",
        "small_amounts",
        "retired_rows",
        "twice_written",
        "open_end",
        "unexplained",
    ]
    assert result.exit_code == 1


def test_first_match_wins_and_a_null_condition_does_not_match(tmp_path):
    rules = """      - name: never_null
        column: amount
        when: "old > NULL"
        severity: accept
      - name: any_amount
        column: amount
        severity: warn
      - name: also_any_amount
        column: amount
        severity: accept
"""
    _, cells = run(tmp_path, rules)
    assert cells[(3, "value", "amount")] == ("any_amount", "warn")
    assert cells[(4, "value", "amount")] == ("any_amount", "warn")
    assert cells[(2, "value", "name")] == ("unexplained", "block")


def test_an_expired_waiver_blocks_again(tmp_path):
    rules = """      - name: trimmed_names
        column: name
        when: "RTRIM(old) = new"
        severity: accept
        expires: 2020-01-31
      - name: small_amounts
        column: amount
        when: "ABS(old - new) <= 1"
        severity: warn
        expires: 2999-12-31
"""
    result, cells = run(tmp_path, rules)
    assert cells[(2, "value", "name")] == ("trimmed_names", "block")
    assert cells[(3, "value", "amount")] == ("small_amounts", "warn")
    rule = result.entities["t"].by_rule["trimmed_names"]
    assert (rule.severity, rule.declared_severity, rule.expired, rule.expires) == (
        "block",
        "accept",
        True,
        "2020-01-31",
    )
    assert not result.entities["t"].by_rule["small_amounts"].expired


def test_a_rule_for_every_kind_of_difference_sees_the_key(tmp_path):
    rules = """      - name: test_rows
        when: "id >= 7"
        severity: accept
"""
    result, cells = run(tmp_path, rules)
    assert {c for c, (rule, _) in cells.items() if rule == "test_rows"} == {
        (7, "missing_in_new", None),
        (8, "duplicate_key", None),
        (9, "value", "ends"),
    }


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            'column: amount\n        when: "old_amountt > 1"',
            "rule 'r': when 'old_amountt > 1' fails on column amount",
        ),
        (
            'column: price\n        when: "old > 1"',
            "rule 'r': column 'price' is not compared; compared: name, amount, status, ends",
        ),
        ("kind: missing_in_new\n        when: \"old_amount > 'x'\"", "rule 'r': when \"old_amount > 'x'\""),
    ],
)
def test_a_rule_that_cannot_work_is_a_mapping_error_with_its_line(tmp_path, rule, message):
    rules = f"      - name: r\n        {rule}\n        severity: accept\n"
    with pytest.raises(MappingError) as err:
        run(tmp_path, rules)
    lines = [(line, text) for line, text in err.value.problems]
    assert len(lines) == 1
    assert lines[0][0] == HEAD.count("\n") + 1  # the line where the rule starts
    assert message.replace('"', "'") in lines[0][1].replace('"', "'")


def _one_column_run(tmp_path: Path, column: str, declared: str, values: dict, rule: str) -> tuple:
    """A diff of table t (id, `column` TEXT holding `values[side]`) under one rule: the entity's
    summary and the mismatch rows the run wrote."""
    for name, texts in values.items():
        with sqlite3.connect(tmp_path / f"{name}.db") as c:
            c.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, {column} TEXT)")
            c.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(texts, 1)))
    path = tmp_path / "m.yaml"
    path.write_text(
        HEAD.split("    old:")[0]
        + "    old: {table: t}\n    new: {table: t}\n    key: [id]\n"
        + f"    columns:\n      {column}: {{type: {declared}}}\n    rules:\n{rule}"
    )
    old, new = f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}"
    t = run_diff(DiffOptions(str(path), old, new, out_dir=str(tmp_path / "run"))).entities["t"]
    return t, pl.read_parquet(tmp_path / "run" / "mismatches" / "t" / "*.parquet")


def test_a_rule_on_a_geometry_reads_its_canonical_text(tmp_path):
    """Shapes are compared in a form of their own; a rule still sees the WKT a report shows."""
    shapes = {
        "old": ["POINT(1 2)", "POINT(3 4)", "LINESTRING(0 0,1 1)"],
        "new": ["point (1 2.5)", "POINT(3 5)", "LINESTRING(0 0, 1 2)"],
    }
    rule = (
        "      - name: moved_north\n        column: shape\n"
        "        when: \"old = 'POINT(1 2)' AND STARTS_WITH(new, 'POINT(1 ')\"\n        severity: accept\n"
        "        owner: geo\n        ticket: G-1\n        note: moved on purpose\n"
    )
    t, shown = _one_column_run(tmp_path, "shape", "geometry", shapes, rule)
    assert t.value_mismatch_rows == 3
    assert t.by_rule["moved_north"].rows == 1 and t.by_rule["unexplained"].rows == 2
    assert sorted(shown.get_column("new").to_list()) == ["LINESTRING(0 0,1 2)", "POINT(1 2.5)", "POINT(3 5)"]


def test_a_rule_on_a_set_reads_its_members_as_a_list(tmp_path):
    """Sets are compared in a form of their own; a rule still sees the sorted members."""
    tags = {"old": ["b,a", "a", "c"], "new": ["a,b", "a,c", "d"]}
    rule = (
        "      - name: one_tag_added\n        column: tags\n"
        '        when: "ARRAY_LENGTH(new) = ARRAY_LENGTH(old) + 1"\n        severity: accept\n'
        "        owner: ads\n        ticket: A-1\n        note: a tag the new store adds\n"
    )
    t, shown = _one_column_run(tmp_path, "tags", "set", tags, rule)
    assert t.value_mismatch_rows == 2  # 'b,a' is the set 'a,b'
    assert t.by_rule["one_tag_added"].rows == 1 and t.by_rule["unexplained"].rows == 1
    assert shown.sort("id").get_column("new").to_list() == ['["a","c"]', '["d"]']
