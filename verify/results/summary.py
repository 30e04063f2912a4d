"""Typed results of a run, built apart from their rendering."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from verify.errors import EXIT_DIFFERENCES, EXIT_INCOMPLETE, EXIT_OK


@dataclass(frozen=True)
class RuleCount:
    """How many rows and cells one rule explains, and what reviewers need to know of it."""

    severity: str  # in force for this run: an expired waiver is "block"
    rows: int
    cells: int
    columns: dict[str, int] = field(default_factory=dict)
    declared_severity: str | None = None
    column: str | None = None
    kind: str | None = None
    when: str | None = None
    owner: str | None = None
    ticket: str | None = None
    note: str | None = None
    expires: str | None = None
    expired: bool = False


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
    skipped_unsettled: int = 0  # keys left out: changed on a side too recently (--settle-*)
    rows_read: int = 0  # rows transferred from both stores (checksums spare the equal ones)
    blocking_rows: int = 0  # rows with at least one blocking difference
    warning_rows: int = 0  # rows whose worst difference is a warning
    accepted_rows: int = 0  # rows whose differences are all accepted
    by_rule: dict[str, RuleCount] = field(default_factory=dict)
    by_column: dict[str, int] = field(default_factory=dict)
    segments: int = 0
    segments_failed: int = 0
    unpaired_columns: dict[str, list[str]] = field(default_factory=dict)  # "*": a side's columns only

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
