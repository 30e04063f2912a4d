"""Helpers of the gate tests: tiny SQLite stores with known differences and real runs over them.

`clean`: 2,000 rows, no difference. `dirty`: 2,000 rows, 10 of them (0.5%) with a changed
value. Tests copy a run before they change it (`run_copy`), so the runs are made once.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

from verify.engine.run import DiffOptions, run_diff

ROWS = 2000
DIRTY = 10  # rows whose value differs in the dirty run: a blocking rate of 0.5%

MAPPING = """version: 1
entities:
  t:
    old: {table: t}
    new: {table: t}
    key: [id]
    columns:
      v: {}
"""

# Stage 1 allows 1%, stage 5 0.1%, stage 25 0.05% and wants more rows than the runs have.
POLICY = """version: 1
confidence: 0.95
max_age: 1h
warn_counts: false
stages:
  - percent: 1
    max_blocking_rate: 0.01
    min_compared: 1000
  - percent: 5
    max_blocking_rate: 0.001
    min_compared: 1000
  - percent: 25
    max_blocking_rate: 0.0005
    min_compared: 5000
"""


def make_stores(folder: Path, rows: int, differing: int) -> tuple[str, str]:
    """Old and new SQLite stores of `rows` rows; the first `differing` ids have another v in new."""
    folder.mkdir(parents=True, exist_ok=True)
    old, new = folder / "old.db", folder / "new.db"
    for path, changed in ((old, 0), (new, differing)):
        with sqlite3.connect(path) as c:
            c.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)")
            c.executemany(
                "INSERT INTO t VALUES (?, ?)",
                [(i, i * 7 + (1 if i <= changed else 0)) for i in range(1, rows + 1)],
            )
    return f"sqlite:///{old}", f"sqlite:///{new}"


def diff_run(folder: Path, rows: int, differing: int, **options: Any) -> Path:
    """A real run directory of `verify diff` over fresh stores; returns its path."""
    old, new = make_stores(folder / "stores", rows, differing)
    mapping = folder / "mapping.yaml"
    mapping.write_text(MAPPING)
    out = folder / "run"
    run_diff(DiffOptions(str(mapping), old, new, out_dir=str(out), workers=1, **options))
    return out


def policy_text(*replace: tuple[str, str], stage1: str | None = None) -> str:
    """The default policy with (old, new) text replaced, and `stage1` added as a line of stage 1."""
    text = POLICY
    for old, new in replace:
        assert old in text, old
        text = text.replace(old, new)
    if stage1:
        text = text.replace(
            "min_compared: 1000\n  - percent: 5", f"min_compared: 1000\n    {stage1}\n  - percent: 5"
        )
    return text


def edit_json(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))
