"""Fixtures of the gate tests: real run directories of `verify diff` (see gate_fixtures)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from gate_fixtures import DIRTY, POLICY, ROWS, diff_run


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("gate-runs")
    return {
        "clean": diff_run(base / "clean", ROWS, 0),
        "dirty": diff_run(base / "dirty", ROWS, DIRTY),
    }


@pytest.fixture()
def run_copy(runs: dict[str, Path], tmp_path: Path) -> Callable[[str], Path]:
    """A copy of one of the runs (with its mapping beside it), for a test to change."""

    def copy(name: str) -> Path:
        target = tmp_path / name
        shutil.copytree(runs[name].parent, target, ignore=shutil.ignore_patterns("stores"))
        run_json = target / "run" / "run.json"
        run = json.loads(run_json.read_text())
        run["mapping"]["path"] = str(target / "mapping.yaml")
        run_json.write_text(json.dumps(run))
        return target / "run"

    return copy


@pytest.fixture()
def policy(tmp_path: Path) -> Callable[..., str]:
    """Write a policy file (the default above, or the text given) and return its path."""

    def write(text: str = POLICY, name: str = "policy.yaml") -> str:
        path = tmp_path / name
        path.write_text(text)
        return str(path)

    return write
