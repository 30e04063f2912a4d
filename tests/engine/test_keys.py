"""A key that is not unique: `check` says the mapped key is neither the primary key nor a unique
index, and `diff` says why nearly every key is a duplicate."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import polars as pl

from verify.engine.check import check_mapping
from verify.engine.run import DiffOptions, run_diff


def store(path: Path) -> str:
    with sqlite3.connect(path) as c:
        c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, grp INTEGER, v TEXT)")
        c.execute("CREATE UNIQUE INDEX t_code ON t (grp, v)")
        c.executemany("INSERT INTO t VALUES (?, ?, ?)", [(i, i % 10, f"v{i}") for i in range(1, 101)])
    return f"sqlite:///{path}"


def mapping(tmp_path: Path, key: str) -> str:
    path = tmp_path / f"{key.replace(', ', '_')}.yaml"
    path.write_text(
        f"version: 1\nentities:\n  t:\n    old: {{table: t}}\n    new: {{table: t}}\n    key: [{key}]\n"
    )
    return str(path)


def test_a_key_that_is_no_key_of_a_side_is_told(tmp_path):
    old, new = store(tmp_path / "old.db"), store(tmp_path / "new.db")
    plan = check_mapping(mapping(tmp_path, "grp"), old, new).entities[0]
    notes = [n for n in plan.type_notes if n.startswith("key (grp)")]
    assert len(notes) == 2  # both sides
    assert (
        "is neither the primary key nor a unique index of t (old side); unique there: (id), (grp, v)"
        in notes[0]
    )
    for key in ("id", "grp, v", "id, grp"):  # the primary key, a unique index, a superset of one
        assert not any(
            n.startswith("key (")
            for n in check_mapping(mapping(tmp_path, key), old, new).entities[0].type_notes
        )

    result = run_diff(DiffOptions(mapping(tmp_path, "grp"), old, new, out_dir=str(tmp_path / "run")))
    assert result.entities["t"].duplicate_keys == 10
    note = next(n for n in result.notes if "keys are held by more than one row" in n)
    assert note.startswith("'t': 10 of 10 keys are held by more than one row: the key (grp) is not unique")
    assert "check 'key:' in the mapping" in note and "unique there: (id), (grp, v)" in note


def test_columns_star_says_which_columns_it_left_unpaired(tmp_path):
    # `amount` was renamed to `amount_cents`: "*" pairs by name, so neither is compared.
    for name, col in (("old", "amount"), ("new", "amount_cents")):
        with sqlite3.connect(tmp_path / f"{name}.db") as c:
            c.execute(f"CREATE TABLE t (id INTEGER PRIMARY KEY, note TEXT, {col} INTEGER, legacy TEXT)")
            c.execute("INSERT INTO t VALUES (1, 'a', 10, 'x')")
    old, new = f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}"
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nentities:\n  t:\n    old: {table: t}\n    new: {table: t}\n    key: [id]\n"
        '    columns: "*"\n    ignore: [legacy]\n'
    )
    from verify.report.html import render_html
    from verify.report.load import load_report
    from verify.report.markdown import render_markdown
    from verify.report.terminal import render_check, render_diff

    plan = check_mapping(str(path), old, new)
    assert plan.entities[0].unpaired == {"old": ("amount",), "new": ("amount_cents",)}
    checked = render_check(plan)
    assert "not compared, only on the old side: amount (map them under columns:, or ignore them)" in checked
    assert "only on the new side: amount_cents" in checked
    result = run_diff(DiffOptions(str(path), old, new, out_dir=str(tmp_path / "run")))
    assert result.entities["t"].unpaired_columns == {"old": ["amount"], "new": ["amount_cents"]}
    assert "only on the old side: amount" in render_diff(result)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["entities"]["t"]["unpaired_columns"] == {"old": ["amount"], "new": ["amount_cents"]}
    report = load_report(str(tmp_path / "run"))
    assert "| t | old | amount |" in render_markdown(report)
    assert "Not compared, only on the new side: amount_cents" in render_html(report)


def test_a_geometry_key_joins_and_shows_as_its_text(tmp_path):
    """A shape is compared in a form of its own, but a key is joined, sorted and shown: as WKT."""
    rows = {
        "old": [("POINT(1 2)", "a"), ("POINT(3 4)", "b")],
        "new": [("point ( 1  2 )", "x"), ("POINT(5 6)", "c")],
    }
    for name, values in rows.items():
        with sqlite3.connect(tmp_path / f"{name}.db") as c:
            c.execute("CREATE TABLE t (shape TEXT, v TEXT)")
            c.executemany("INSERT INTO t VALUES (?, ?)", values)
    path = tmp_path / "m.yaml"
    path.write_text(
        "version: 1\nentities:\n  t:\n    old: {table: t}\n    new: {table: t}\n"
        "    key:\n      - shape: {type: geometry}\n    columns:\n      v: {}\n"
    )
    old, new = f"sqlite:///{tmp_path / 'old.db'}", f"sqlite:///{tmp_path / 'new.db'}"
    t = run_diff(DiffOptions(str(path), old, new, out_dir=str(tmp_path / "run"))).entities["t"]
    assert (t.value_mismatch_rows, t.missing_in_new, t.extra_in_new) == (1, 1, 1)
    shown = pl.read_parquet(tmp_path / "run" / "mismatches" / "t" / "*.parquet")
    assert sorted(shown.get_column("shape").to_list()) == ["POINT(1 2)", "POINT(3 4)", "POINT(5 6)"]
