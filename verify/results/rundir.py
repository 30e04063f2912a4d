"""The run directory on disk: every file is written whole (temp file, then rename)."""

from __future__ import annotations

import datetime as dt
import json
import os
from typing import Any

from verify.errors import RunDirError

RUNS_HOME = os.path.join(".verify", "runs")


def write_json(path: str, data: Any) -> None:
    """Write JSON atomically: a reader sees the old file or the new one, never half of one."""
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=False, default=str)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def default_run_dir(now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return os.path.join(RUNS_HOME, now.strftime("%Y%m%dT%H%M%S_%fZ"))


def check_target(out_dir: str) -> None:
    """Refuse, before any source is opened, a run directory that cannot be a fresh one.

    Nothing is created here: a run whose mapping or sources are wrong leaves no directory.
    """
    if os.path.exists(out_dir):
        if not os.path.isdir(out_dir):
            raise RunDirError(f"--out {out_dir} is a file; give a directory path")
        if os.listdir(out_dir):
            raise RunDirError(
                f"--out {out_dir} already holds files (an earlier run?); "
                "choose a new directory or remove that one"
            )
        parent = out_dir
    else:
        parent = os.path.dirname(os.path.abspath(out_dir))
        while not os.path.exists(parent):
            parent = os.path.dirname(parent)
        if not os.path.isdir(parent):
            raise RunDirError(
                f"cannot create the run directory {out_dir}: {parent} is a file; choose a writable --out"
            )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise RunDirError(
            f"cannot create the run directory {out_dir}: {parent} is not writable; choose a writable --out"
        )


def prepare(out_dir: str) -> None:
    """Create a fresh run directory; refuse one that already holds files."""
    check_target(out_dir)
    try:
        os.makedirs(os.path.join(out_dir, "mismatches"), exist_ok=True)
        probe = os.path.join(out_dir, ".write-test")
        with open(probe, "w") as fh:
            fh.write("ok")
        os.remove(probe)
    except OSError as exc:
        raise RunDirError(
            f"cannot write the run directory {out_dir}: {exc.strerror}; choose a writable --out"
        ) from None


def point_latest(out_dir: str) -> None:
    """Keep `.verify/runs/latest` pointing at the newest run made under the default home."""
    parent = os.path.dirname(os.path.abspath(out_dir))
    if parent != os.path.abspath(RUNS_HOME):
        return
    link = os.path.join(parent, "latest")
    tmp = f"{link}.tmp-{os.getpid()}"
    try:
        os.symlink(os.path.basename(out_dir), tmp)
        os.replace(tmp, link)
    except OSError:
        pass  # a filesystem without symlinks: `latest` is a convenience only
