"""run.json as a typed object: what a run is (mapping, stores, options, plan) and how it stands.

One writer (`verify diff`'s RunRecorder, through `rundir.write_info`) and one reader
(`rundir.read_info`). Reading is lenient, field by field: a field of the wrong type reads as
missing, so that each reader (resume, report, gate) decides what a missing fact means to it;
the gate fails closed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any


def _of(value: Any, kind: type, default: Any = None) -> Any:
    return value if isinstance(value, kind) and not (kind is int and isinstance(value, bool)) else default


@dataclass(frozen=True)
class RunInfo:
    """A run directory's run.json."""

    status: str | None  # running (written first) | complete | partial | failed
    mapping_path: str | None = None
    mapping_sha256: str | None = None
    old_url: str | None = None  # masked
    new_url: str | None = None
    started_at: str | None = None
    ended_at: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    plan: dict[str, dict[str, Any]] = field(default_factory=dict)  # per entity: keys, bounds, types, ...
    segments: dict[str, Any] = field(default_factory=dict)  # total, done, failed [{entity, index, error}]
    tool: dict[str, Any] = field(default_factory=dict)
    resumed_at: tuple[str, ...] = ()
    interrupted: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": self.tool,
            "mapping": {"path": self.mapping_path, "sha256": self.mapping_sha256},
            "old_url": self.old_url,
            "new_url": self.new_url,
            "options": self.options,
            "started_at": self.started_at,
            "plan": self.plan,
            **({"resumed_at": list(self.resumed_at)} if self.resumed_at else {}),
            "status": self.status,
            "ended_at": self.ended_at,
            "segments": self.segments,
            "interrupted": self.interrupted,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunInfo:
        mapping = _of(d.get("mapping"), dict, {})
        plan = _of(d.get("plan"), dict, {})
        return cls(
            status=_of(d.get("status"), str),
            mapping_path=_of(mapping.get("path"), str),
            mapping_sha256=_of(mapping.get("sha256"), str),
            old_url=_of(d.get("old_url"), str),
            new_url=_of(d.get("new_url"), str),
            started_at=_of(d.get("started_at"), str),
            ended_at=_of(d.get("ended_at"), str),
            options=_of(d.get("options"), dict, {}),
            plan={str(k): v for k, v in plan.items() if isinstance(v, dict)},
            segments=_of(d.get("segments"), dict, {}),
            tool=_of(d.get("tool"), dict, {}),
            resumed_at=tuple(str(t) for t in _of(d.get("resumed_at"), list, [])),
            interrupted=d.get("interrupted") is True,
        )

    def with_status(self, status: str, **changes: Any) -> RunInfo:
        return replace(self, status=status, **changes)

    # -- what readers ask of a run --------------------------------------------------------------

    @property
    def entities(self) -> list[str] | None:
        """The entities the run compared, as its options recorded them."""
        listed = self.options.get("entities")
        return [str(e) for e in listed] if isinstance(listed, list) else None

    @property
    def ended(self) -> dt.datetime | None:
        """When the run ended, in UTC; None where run.json holds no valid time."""
        try:
            ended = dt.datetime.fromisoformat(str(self.ended_at))
        except ValueError:
            return None
        return ended if ended.tzinfo else ended.replace(tzinfo=dt.UTC)

    @property
    def only_previous_mismatches(self) -> str | None:
        """The earlier run whose mismatching keys this run re-checked, or None for a full run."""
        value = self.options.get("only_previous_mismatches")
        return str(value) if value else None

    def key_columns(self, entity: str) -> list[str] | None:
        keys = (self.plan.get(entity) or {}).get("keys")
        return [str(k) for k in keys] if isinstance(keys, list) and keys else None
