"""One run's record in its run directory, written as `verify diff` goes (through rundir).

The directory is made fresh (a resumed run writes into its own), run.json says "running" while
segments are read, then the summary is written and run.json's final status last, and `latest`
points at the run. The segments' records and mismatch parts are the workers' to write.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from verify import __version__
from verify.errors import RunError
from verify.results import rundir
from verify.results.info import RunInfo
from verify.results.summary import RunResult


class PlannedEntity(Protocol):
    """What run.json records of an entity's plan (the engine's EntityPlan)."""

    @property
    def name(self) -> str: ...
    @property
    def keys(self) -> Sequence[str]: ...
    @property
    def segments(self) -> Sequence[object]: ...
    @property
    def partition(self) -> str | None: ...
    @property
    def types(self) -> Mapping[str, str]: ...
    @property
    def notes(self) -> Sequence[str]: ...
    @property
    def checksum(self) -> object | None: ...
    @property
    def checksum_notes(self) -> Sequence[str]: ...
    @property
    def type_notes(self) -> Sequence[str]: ...
    @property
    def unpaired(self) -> Mapping[str, Sequence[str]]: ...


class RunRecorder:
    """Writes the run directory `out_dir` of one run; made once per run.

    `resume`: the directory holds a partial run to finish, so it is neither checked for being
    fresh, nor created, nor removed.
    """

    def __init__(self, out_dir: str, resume: bool = False) -> None:
        self.out_dir, self.resume = out_dir, resume
        self._info: RunInfo | None = None

    def check(self) -> None:
        """Refuse, before any source is opened, an --out that cannot be a fresh run directory."""
        if not self.resume:
            rundir.check_target(self.out_dir)

    def create(self) -> None:
        """Make the fresh run directory (refusing one that holds files)."""
        if not self.resume:
            rundir.prepare(self.out_dir)

    def discard(self) -> None:
        """Remove the directory `create` made, for a run that ends before it wrote anything."""
        if not self.resume:
            rundir.discard_empty(self.out_dir)

    def start_new(
        self,
        mapping_path: str,
        mapping_sha256: str,
        urls: Mapping[str, str],
        started_at: dt.datetime,
        options: dict[str, Any],
        plans: Sequence[PlannedEntity],
        bounds: Mapping[str, list[dict[str, Any]]],
        segments: dict[str, Any],
    ) -> None:
        """run.json of a new run, "running": the mapping, the masked stores (`urls` by side),
        the options and each entity's plan, with the segment `bounds` it was planned with."""
        info = RunInfo(
            status="running",
            mapping_path=mapping_path,
            mapping_sha256=mapping_sha256,
            old_url=urls["old"],
            new_url=urls["new"],
            started_at=started_at.isoformat(),
            options=options,
            plan={
                p.name: {
                    "keys": list(p.keys),
                    "segments": len(p.segments),
                    "partition": p.partition,
                    "types": p.types,
                    "notes": list(p.notes),
                    "bounds": bounds[p.name],
                    "checksum": p.checksum is not None,
                    "checksum_notes": list(p.checksum_notes),
                    "type_notes": list(p.type_notes),
                    "unpaired": {side: list(cols) for side, cols in p.unpaired.items()},
                }
                for p in plans
            },
            tool={"name": "verify", "version": __version__},
        )
        self._start(info, segments)

    def start_resumed(self, resumed: RunInfo, at: dt.datetime, segments: dict[str, Any]) -> None:
        """run.json of a resumed run, "running" again: as it was, resumed `at` once more."""
        self._start(dataclasses.replace(resumed, resumed_at=(*resumed.resumed_at, at.isoformat())), segments)

    def _start(self, info: RunInfo, segments: dict[str, Any]) -> None:
        self._info = info.with_status("running", ended_at=None, segments=segments)
        rundir.write_info(self.out_dir, self._info)

    def finish(self, result: RunResult, segments: dict[str, Any], interrupted: bool) -> None:
        """The run's summary, then run.json with its status (last: a run.json that says complete
        or partial has its summary), then `latest`."""
        assert self._info is not None, "start the run first"
        ended = dt.datetime.now(dt.UTC).isoformat()
        final = self._info.with_status(
            result.status, ended_at=ended, segments=segments, interrupted=interrupted
        )
        try:
            rundir.write_summary(self.out_dir, result)
            rundir.write_info(self.out_dir, final)
        except OSError as exc:  # a full disk: run.json still says running, and the records are whole
            raise RunError(
                f"cannot write the run directory {self.out_dir}: {exc.strerror or exc}; make room there and "
                f"finish the run with verify diff --resume {self.out_dir} --old URL --new URL"
            ) from None
        rundir.point_latest(self.out_dir)
