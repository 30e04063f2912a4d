"""Ctrl-C on a real `verify diff` subprocess, for the tests of the local and the Dask executor."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def interrupt_when(
    args: list[str], out: Path, ready: Callable[[], bool], timeout: float, waits: bool = False
) -> dict[str, Any]:
    """Start `verify diff` (args) writing to `out`, send SIGINT once `ready()`, and check what
    Ctrl-C promises: exit 130, no traceback, the `--resume` hint, a partial run marked
    interrupted, and (`waits`: segments are being read in parallel) that verify says it waits
    for them. Returns the run's run.json."""
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + timeout
    while not ready() and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and f"--resume {out}" in err, err
    if waits:  # verify says it waits for the segments in flight, and for how many: no seeming hang
        assert "stopping: waiting for the" in err and "segment(s) being read to finish" in err, err
    run = json.loads((out / "run.json").read_text())
    assert run["status"] == "partial" and run["interrupted"] is True, (run["status"], run["segments"])
    return run
