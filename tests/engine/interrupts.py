"""Ctrl-C on a real `verify diff` subprocess, for the tests of the local and the Dask executor."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def interrupt_when(args: list[str], out: Path, ready: Callable[[], bool], timeout: float) -> dict[str, Any]:
    """Start `verify diff` (args) writing to `out`, send SIGINT once `ready()`, and check what
    Ctrl-C promises: exit 130, no traceback, the `--resume` hint, a partial run marked
    interrupted. Returns the run's run.json."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and f"--resume {out}" in err
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "partial" and run["interrupted"] is True
    return run
