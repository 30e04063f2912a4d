"""Reading run directories back: one run's files, its siblings, the previous run.

Runs are kept side by side (`.verify/runs/<timestamp>/`, with a `latest` link). The
"previous run" of a run is the newest other complete run in the same parent directory that
started before it, for the same mapping path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from verify.errors import RunDirError
from verify.results import rundir
from verify.results.info import RunInfo
from verify.results.summary import EntitySummary, RunResult

# Columns every mismatch part has; the others are the entity's canonical key columns.
MISMATCH_COLUMNS = ("kind", "column", "old", "new", "rule", "severity")


@dataclass(frozen=True)
class StoredRun:
    """A run directory as read from disk: where it is, its run record and its summary (rundir)."""

    path: str  # as the user gave it (may be the `latest` link)
    real_path: str
    info: RunInfo
    summary: RunResult

    @property
    def id(self) -> str:
        """The run's directory name (its timestamp under the default home)."""
        return os.path.basename(self.real_path)

    @property
    def status(self) -> str:
        return self.info.status or "unknown"

    @property
    def mapping_path(self) -> str | None:
        return self.info.mapping_path

    @property
    def started_at(self) -> str:
        return self.info.started_at or ""

    @property
    def only_previous_mismatches(self) -> str | None:
        return self.info.only_previous_mismatches

    @property
    def entities(self) -> dict[str, EntitySummary]:
        return self.summary.entities

    @property
    def identity(self) -> RunIdentity:
        return RunIdentity.of(self.info)

    def parts(self, entity: str) -> list[str]:
        """The mismatch Parquet parts of one entity, in name order."""
        return rundir.parts(self.real_path, entity)

    def key_columns(self, entity: str) -> list[str] | None:
        """The entity's canonical key columns: from run.json's plan, else from a part's schema."""
        keys = self.info.key_columns(entity)
        if keys:
            return keys
        parts = self.parts(entity)
        if not parts:
            return None
        import pyarrow.parquet as pq

        try:
            names = pq.read_schema(parts[0]).names
        except Exception as exc:  # noqa: BLE001 - any unreadable part is a corrupt run directory
            raise RunDirError(
                f"{parts[0]} is not a readable Parquet file ({exc}); run verify diff again"
            ) from None
        return [n for n in names if n not in MISMATCH_COLUMNS]


@dataclass(frozen=True)
class RunIdentity:
    """What makes two runs comparable: the same mapping file (by content), the same stores and
    the same entities. Keys fixed or new between runs of other stores would be no news at all."""

    mapping_sha256: str | None
    old_url: str | None
    new_url: str | None
    entities: tuple[str, ...]

    @classmethod
    def of(cls, info: RunInfo) -> RunIdentity:
        return cls(info.mapping_sha256, info.old_url, info.new_url, tuple(sorted(info.entities or ())))

    def unlike(self, other: RunIdentity) -> str | None:
        """Why a run of `other` is not comparable with one of this identity, or None."""
        if self.mapping_sha256 != other.mapping_sha256:
            return "its mapping file differs from this run's (sha256)"
        if (self.old_url, self.new_url) != (other.old_url, other.new_url):
            return f"it read other stores (--old {other.old_url}, --new {other.new_url})"
        if self.entities != other.entities:
            return f"it compared other entities ({', '.join(other.entities) or 'none'})"
        return None


def _advice(path: str, what: str, exc: rundir.RunFileError) -> RunDirError:
    if exc.kind == "missing":
        return RunDirError(
            f"{path} is not a verify run directory (no {what}); "
            "give a directory written by verify diff, e.g. .verify/runs/latest"
        )
    if exc.kind == "unreadable":
        return RunDirError(f"cannot read {exc.path}: {exc.detail}")
    return RunDirError(
        f"{exc.path} is corrupt ({exc.detail}); the run was interrupted or the file edited: "
        "run verify diff again"
    )


def read_run(path: str) -> StoredRun:
    """Read a run directory's run record and summary (rundir); one clear RunDirError if it is not one."""
    if not os.path.exists(path):
        raise RunDirError(
            f"run directory {path} does not exist; give a directory written by verify diff, "
            "e.g. .verify/runs/latest"
        )
    if not os.path.isdir(path):
        raise RunDirError(f"{path} is a file, not a run directory; give the directory verify diff wrote")
    try:
        info = rundir.read_info(path)
    except rundir.RunFileError as exc:
        raise _advice(path, rundir.RUN, exc) from None
    try:
        summary = rundir.read_result(path)
    except rundir.RunFileError as exc:
        raise _advice(path, rundir.SUMMARY, exc) from None
    return StoredRun(path, os.path.realpath(path), info, summary)


def sibling_runs(run: StoredRun) -> list[StoredRun]:
    """Complete runs next to `run` (same parent directory, same mapping path), oldest first.

    Unreadable or unfinished directories are passed over: they are not runs to compare with.
    """
    return runs_in(os.path.dirname(run.real_path), run.mapping_path, exclude=run.real_path)


def runs_in(parent: str, mapping_path: str | None, exclude: str | None = None) -> list[StoredRun]:
    """Complete runs of a mapping in a directory, oldest first."""
    if not os.path.isdir(parent):
        return []
    seen: set[str] = set()
    runs = []
    for name in sorted(os.listdir(parent)):
        full = os.path.realpath(os.path.join(parent, name))
        if full in seen or not os.path.isdir(full):
            continue
        seen.add(full)
        if full == exclude:
            continue
        try:
            other = read_run(full)
        except RunDirError:
            continue
        if other.status == "complete" and other.mapping_path == mapping_path and other.started_at:
            runs.append(other)
    return sorted(runs, key=lambda r: (r.started_at, r.id))


def comparable(runs: list[StoredRun], identity: RunIdentity, full_only: bool = False) -> list[StoredRun]:
    """The runs comparable with a run of `identity` (see RunIdentity); `full_only` leaves out
    re-checks (--only-previous-mismatches), which cover only a few keys."""
    return [
        r
        for r in runs
        if identity.unlike(r.identity) is None and not (full_only and r.only_previous_mismatches)
    ]


def _older(run: StoredRun) -> list[StoredRun]:
    """The complete runs of the same mapping path next to `run` that started before it, oldest first."""
    return [r for r in sibling_runs(run) if (r.started_at, r.id) < (run.started_at, run.id)]


def earlier_runs(run: StoredRun, full_only: bool = False) -> list[StoredRun]:
    """The complete runs next to `run` that it can be compared with, oldest first."""
    return comparable(_older(run), run.identity, full_only)


def previous_run(run: StoredRun) -> tuple[StoredRun | None, str]:
    """The newest complete run it can be compared with, in the same parent, started before
    `run`; or None and why there is none.

    A full run is compared with the previous full run (a re-check covers only a few keys, so
    every other key would look new); a re-check with the run whose keys it re-checked, where
    that is still there.
    """
    same_path = _older(run)
    older = comparable(same_path, run.identity)
    if run.only_previous_mismatches:
        name = os.path.basename(os.path.normpath(run.only_previous_mismatches))
        rechecked = [r for r in older if r.id == name] or older
        if rechecked:
            return rechecked[-1], ""
    else:
        full = [r for r in older if not r.only_previous_mismatches]
        if full:
            return full[-1], ""
    return None, _none_comparable(run, same_path)


def _none_comparable(run: StoredRun, same_path: list[StoredRun]) -> str:
    if not same_path:
        return "no earlier complete run of this mapping next to this one: nothing to compare with"
    last = same_path[-1]
    why = run.identity.unlike(last.identity) or "it re-checked only some keys"
    return (
        f"nothing to compare with: the earlier run {last.id} of this mapping is not comparable, as "
        f"{why}; give one with --compare-to RUN"
    )
