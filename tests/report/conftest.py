"""Fixtures of the report tests; the run directories themselves are in report_fixtures.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from report_fixtures import DIFFS, RUN_IDS, write_run


@pytest.fixture()
def runs(tmp_path: Path) -> list[Path]:
    """Three runs of one mapping under one parent, oldest first (see the module docstring)."""
    home = tmp_path / "runs"
    out = []
    for i, (run_id, diffs) in enumerate(zip(RUN_IDS, DIFFS, strict=True)):
        out.append(write_run(home / run_id, f"2025-01-0{i + 1}T10:00:00.000000+00:00", diffs))
    (home / "latest").symlink_to(RUN_IDS[-1])
    return out
