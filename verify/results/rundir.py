"""The run directory on disk: every file is written whole (temp file, then rename)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import secrets
from typing import Any

from verify.errors import RunDirError
from verify.results.info import RunInfo
from verify.results.summary import RunResult

RUNS_HOME = os.path.join(".verify", "runs")
RUN, SUMMARY = "run.json", "summary.json"
SEGMENTS = "segments"  # DIR/segments/<entity>/<index>.json: one record per finished segment
MISMATCHES = "mismatches"  # DIR/mismatches/<entity>/part-<index>.parquet: one part per segment
RECHECK = "recheck"  # DIR/recheck/: the second read of --recheck-after, a run directory of its own


def tmp_suffix() -> str:
    """A temp file's suffix no other writer uses: a segment may run twice at once on two machines
    (a Dask worker taken for dead that is still running), where process ids can be equal."""
    return f".tmp-{os.getpid()}-{secrets.token_hex(4)}"


class RunFileError(Exception):
    """A run directory's JSON file that cannot be used: `kind` is missing, unreadable or corrupt,
    `detail` says how. Each reader turns it into its own advice (resume, report or gate)."""

    def __init__(self, path: str, kind: str, detail: str) -> None:
        super().__init__(f"{path}: {detail}")
        self.path, self.kind, self.detail = path, kind, detail


def read_object(path: str) -> dict[str, Any]:
    """The JSON object in a run directory's file; RunFileError if there is none."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.load(fh)
    except FileNotFoundError:
        raise RunFileError(path, "missing", "no such file") from None
    except json.JSONDecodeError as exc:
        raise RunFileError(path, "corrupt", f"invalid JSON at line {exc.lineno}: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunFileError(path, "unreadable", str(exc)) from None
    if not isinstance(data, dict):
        raise RunFileError(path, "corrupt", "not a JSON object")
    return data


def write_json(path: str, data: Any) -> None:
    """Write JSON atomically: a reader sees the old file or the new one, never half of one."""
    text = json.dumps(data, indent=2, sort_keys=False, default=str) + "\n"

    def write(tmp: str) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())

    _whole(path, write)


def _whole(path: str, write: Any) -> None:
    """Write `path` through a temp file, renamed into place; a write that fails (a full disk)
    leaves no temp file behind, and the old file as it was."""
    tmp = path + tmp_suffix()
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise


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


def discard_empty(out_dir: str) -> None:
    """Remove a run directory `prepare` made, as long as nothing was written into it yet."""
    for folder in (os.path.join(out_dir, "mismatches"), out_dir):
        try:
            os.rmdir(folder)  # only ever an empty directory
        except OSError:
            return


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


def write_segment(out_dir: str, entity: str, index: int, record: dict[str, Any]) -> None:
    """Record a finished segment (after its mismatch part is in place): it is never read again."""
    folder = os.path.join(out_dir, SEGMENTS, entity)
    os.makedirs(folder, exist_ok=True)
    write_json(os.path.join(folder, f"{index:06d}.json"), record)


def read_segments(out_dir: str) -> dict[tuple[str, int], dict[str, Any]]:
    """Every finished segment's record, by (entity, index)."""
    records: dict[tuple[str, int], dict[str, Any]] = {}
    root = os.path.join(out_dir, SEGMENTS)
    if not os.path.isdir(root):
        return records
    for entity in sorted(os.listdir(root)):
        for name in sorted(os.listdir(os.path.join(root, entity))):
            if name.endswith(".json"):  # not a temp file of a write that was cut off
                record = read_segment(out_dir, entity, int(name[: -len(".json")]))
                records[(entity, record["index"])] = record
    return records


def read_segment(out_dir: str, entity: str, index: int) -> dict[str, Any]:
    """One finished segment's record; a corrupt one is a RunDirError."""
    path = os.path.join(out_dir, SEGMENTS, entity, f"{index:06d}.json")
    try:
        with open(path, encoding="utf-8") as fh:
            record = json.load(fh)
        record["index"] = int(record["index"])
        return dict(record)
    except (OSError, ValueError, KeyError, TypeError):
        raise RunDirError(
            f"{path} is unreadable or corrupt; remove it and resume again (its segment is redone)"
        ) from None


def write_info(out_dir: str, info: RunInfo) -> None:
    write_json(os.path.join(out_dir, RUN), info.to_dict())


def read_info(out_dir: str) -> RunInfo:
    """run.json, as a RunInfo; RunFileError (missing, unreadable, corrupt) where there is none."""
    return RunInfo.from_dict(read_object(os.path.join(out_dir, RUN)))


def write_summary(out_dir: str, result: RunResult) -> None:
    write_json(os.path.join(out_dir, SUMMARY), result.to_dict())


def read_summary(out_dir: str) -> dict[str, Any]:
    """summary.json as written (RunResult.from_dict reads it strictly; the gate, entity by entity)."""
    return read_object(os.path.join(out_dir, SUMMARY))


def read_result(out_dir: str) -> RunResult:
    """summary.json, as a RunResult; RunFileError where there is none or it does not add up."""
    data = read_summary(out_dir)
    try:
        return RunResult.from_dict(data, out_dir)
    except (ValueError, TypeError, OverflowError) as exc:  # a value of a type no field takes
        raise RunFileError(os.path.join(out_dir, SUMMARY), "corrupt", str(exc)) from None


def part_path(out_dir: str, entity: str, index: int) -> str:
    return os.path.join(out_dir, MISMATCHES, entity, f"part-{index:06d}.parquet")


def write_part(out_dir: str, entity: str, index: int, records: Any) -> str:
    """Write a segment's mismatch records (a Polars frame) whole; returns the part's path."""
    path = part_path(out_dir, entity, index)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rewrite_part(path, records)
    return path


def rewrite_part(path: str, records: Any) -> None:
    _whole(path, lambda tmp: records.write_parquet(tmp, compression="zstd"))


def part_index(path: str) -> int:
    return int(os.path.basename(path)[len("part-") : -len(".parquet")])


def parts(out_dir: str, entity: str) -> list[str]:
    """The mismatch parts of one entity, in segment order."""
    folder = os.path.join(out_dir, MISMATCHES, entity)
    if not os.path.isdir(folder):
        return []
    return sorted(
        os.path.join(folder, f)
        for f in os.listdir(folder)
        if f.startswith("part-") and f.endswith(".parquet")
    )


def fresh_recheck(out_dir: str) -> str:
    """The run's recheck directory, emptied of an earlier, interrupted recheck."""
    import shutil

    again = os.path.join(out_dir, RECHECK)
    shutil.rmtree(again, ignore_errors=True)
    os.makedirs(again)
    return again


def read_resumable(out_dir: str) -> RunInfo:
    """The run.json of a run to resume; one clear RunDirError if there is none to resume."""
    path = os.path.join(out_dir, RUN)
    try:
        info = read_info(out_dir)
    except RunFileError as exc:
        if exc.kind == "missing":
            raise RunDirError(
                f"{out_dir} is not a run directory (no run.json); give the directory of a verify diff run"
            ) from None
        raise RunDirError(
            f"{path} is unreadable or corrupt ({exc.detail}); it cannot be resumed, start a new run"
        ) from None
    if None in (info.status, info.mapping_sha256, info.old_url, info.new_url) or not info.plan:
        raise RunDirError(f"{path} is not a verify run file; it cannot be resumed, start a new run")
    return info
