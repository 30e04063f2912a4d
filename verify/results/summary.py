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

    @classmethod
    def from_dict(cls, d: Any, compared: int) -> RuleCount:
        """A rule's counts as the run's summary holds them; ValueError says what is wrong."""
        if not isinstance(d, dict):
            raise ValueError("a rule is not an object")
        rows, cells = _count(d, "rows"), _count(d, "cells", 0)
        if rows > compared or d.get("severity") not in SEVERITIES:
            raise ValueError("a rule's rows or severity are impossible")
        text = {k: None if d.get(k) is None else str(d[k]) for k in _RULE_TEXT}
        columns: dict[Any, Any] = d["columns"] if isinstance(d.get("columns"), dict) else {}
        return cls(
            str(d["severity"]),
            rows,
            cells,
            {str(c): int(n) for c, n in columns.items() if isinstance(n, int)},
            expired=d.get("expired") is True,
            **text,
        )


SEVERITIES = ("accept", "warn", "block")
_RULE_TEXT = ("declared_severity", "column", "kind", "when", "owner", "ticket", "note", "expires")


def _count(d: dict[str, Any], name: str, default: int | None = None) -> int:
    """A whole number >= 0 of a summary object, or ValueError."""
    value = d.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise ValueError(f"{name} = {value!r} is not a count")
    return value


_COUNTS = (
    "rows_old",
    "rows_new",
    "matched",
    "missing_in_new",
    "extra_in_new",
    "duplicate_keys",
    "value_mismatch_rows",
    "skipped_unsettled",
    "rows_read",
    "blocking_rows",
    "warning_rows",
    "accepted_rows",
    "segments",
    "segments_failed",
)


@dataclass(frozen=True)
class EntitySummary:
    """The counts of one entity over a whole run (the contract of the run's summary, rundir.SUMMARY)."""

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
    # Whether warning_rows was counted (runs of older versions did not): read back, not written.
    warnings_known: bool = field(default=True, compare=False, repr=False)

    @property
    def blocking_rate(self) -> float:
        return self.blocking_rows / self.compared if self.compared else 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("warnings_known")
        d["blocking_rate"] = self.blocking_rate
        return d

    @classmethod
    def from_dict(cls, d: Any) -> EntitySummary:
        """An entity's summary as the run's summary holds it; ValueError says what is wrong (counts
        missing, not counts, or that cannot all be true at once)."""
        if not isinstance(d, dict):
            raise ValueError("not an object")
        compared = _count(d, "compared")
        counts = {name: _count(d, name, 0) for name in _COUNTS}
        if counts["blocking_rows"] > compared:
            raise ValueError("more blocking rows than rows compared")
        if "warning_rows" in d and counts["blocking_rows"] + counts["warning_rows"] > compared:
            raise ValueError("more blocking and warning rows than rows compared")
        raw_rules = d.get("by_rule", {})
        if not isinstance(raw_rules, dict):
            raise ValueError("by_rule is not an object")
        columns: dict[Any, Any] = d["by_column"] if isinstance(d.get("by_column"), dict) else {}
        unpaired: dict[Any, Any] = (
            d["unpaired_columns"] if isinstance(d.get("unpaired_columns"), dict) else {}
        )
        return cls(
            compared=compared,
            **counts,
            by_rule={str(r): RuleCount.from_dict(rc, compared) for r, rc in raw_rules.items()},
            by_column={str(c): int(n) for c, n in columns.items() if isinstance(n, int)},
            unpaired_columns={
                str(s): [str(c) for c in cols] for s, cols in unpaired.items() if isinstance(cols, list)
            },
            warnings_known="warning_rows" in d,
        )


@dataclass(frozen=True)
class Suggestion:
    entity: str
    column: str
    pattern: str  # trim rtrim lower nfc null_empty sentinel scale rounding offset recode missing_shared
    rows: int  # unexplained rows of the column it would explain
    of: int  # unexplained rows of the column in all
    why: str  # what the rows have in common, in a sentence
    snippet: str  # YAML for the mapping: a column's keys, the old side's keys ("old: …"), or a rule

    @property
    def left(self) -> int:
        return self.of - self.rows

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Suggestion:
        return cls(
            str(d["entity"]),
            str(d["column"]),
            str(d["pattern"]),
            int(d["rows"]),
            int(d["of"]),
            str(d["why"]),
            str(d["snippet"]),
        )


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
    explanations: tuple[Suggestion, ...] = ()  # patterns of the unexplained (engine/explain.py)

    @property
    def blocking_rows(self) -> int:
        return sum(e.blocking_rows for e in self.entities.values())

    @property
    def exit_code(self) -> int:
        if self.status != "complete":
            return EXIT_INCOMPLETE
        return EXIT_DIFFERENCES if self.blocking_rows else EXIT_OK

    @classmethod
    def from_dict(cls, d: dict[str, Any], run_dir: str) -> RunResult:
        """The run's summary, every entity read strictly (ValueError names the one that is not right)."""
        entities = d.get("entities")
        if not isinstance(entities, dict):
            raise ValueError("it has no 'entities' object")
        read = {}
        for name, e in entities.items():
            try:
                read[str(name)] = EntitySummary.from_dict(e)
            except ValueError as exc:
                raise ValueError(f"entity '{name}' is corrupt ({exc})") from None
        subset: dict[str, Any] = {k: d[k] for k in ("sample", "cohort") if k in d}
        for k in ("sample", "cohort"):
            if subset.get(k) is not None and not isinstance(subset[k], dict):
                raise ValueError(f"{k} is not an object")
        texts = {k: d.get(k, []) for k in ("failures", "notes")}
        if not all(isinstance(t, list) for t in texts.values()):
            raise ValueError("failures and notes must be lists")
        seconds = d.get("seconds")
        explanations = d.get("explanations", [])
        if not isinstance(explanations, list) or not all(isinstance(x, dict) for x in explanations):
            raise ValueError("explanations must be a list of objects")
        try:
            suggestions = tuple(Suggestion.from_dict(x) for x in explanations)
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"an explanation is corrupt ({exc})") from None
        return cls(
            run_dir,
            str(d.get("status")),
            read,
            tuple(str(f) for f in texts["failures"]),
            tuple(str(n) for n in texts["notes"]),
            float(seconds) if isinstance(seconds, (int, float)) and not isinstance(seconds, bool) else 0.0,
            subset,
            suggestions,
        )

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
            "explanations": [s.to_dict() for s in self.explanations],
        }
