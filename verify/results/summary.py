"""Typed results of a run, built apart from their rendering."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from verify.errors import EXIT_DIFFERENCES, EXIT_INCOMPLETE, EXIT_OK


@dataclass(frozen=True)
class RuleCount:
    severity: str
    rows: int
    cells: int


@dataclass(frozen=True)
class EntitySummary:
    """The counts of one entity over a whole run (the contract of summary.json)."""

    rows_old: int
    rows_new: int
    compared: int
    matched: int
    missing_in_new: int
    extra_in_new: int
    duplicate_keys: int
    value_mismatch_rows: int
    blocking_rows: int
    by_rule: dict[str, RuleCount] = field(default_factory=dict)
    by_column: dict[str, int] = field(default_factory=dict)
    segments: int = 0
    segments_failed: int = 0

    @property
    def blocking_rate(self) -> float:
        return self.blocking_rows / self.compared if self.compared else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["blocking_rate"] = self.blocking_rate
        return d


@dataclass(frozen=True)
class RunResult:
    """What `verify diff` returns: where the run is, how it ended, and per-entity summaries."""

    run_dir: str
    status: str  # complete | partial | failed
    entities: dict[str, EntitySummary]
    failures: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    seconds: float = 0.0
    subset: dict[str, Any] = field(default_factory=dict)  # {"sample": …, "cohort": …} (engine/subset.py)

    @property
    def blocking_rows(self) -> int:
        return sum(e.blocking_rows for e in self.entities.values())

    @property
    def exit_code(self) -> int:
        if self.status != "complete":
            return EXIT_INCOMPLETE
        return EXIT_DIFFERENCES if self.blocking_rows else EXIT_OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "exit_code": self.exit_code,
            "run_dir": self.run_dir,
            "seconds": round(self.seconds, 3),
            "blocking_rows": self.blocking_rows,
            "compared": sum(e.compared for e in self.entities.values()),
            "failures": list(self.failures),
            "notes": list(self.notes),
            **self.subset,
            "entities": {name: e.to_dict() for name, e in self.entities.items()},
        }
