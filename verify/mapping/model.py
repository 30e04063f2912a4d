"""The mapping model: frozen objects built from a validated mapping file."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from verify.mapping.types import CanonicalType

SIDES = ("old", "new")
NORMALIZERS = ("trim", "rtrim", "lower", "nfc")
SEVERITIES = ("accept", "warn", "block")
ROW_KINDS = ("missing_in_new", "extra_in_new", "duplicate_key")


@dataclass(frozen=True)
class Side:
    """Where one side of an entity comes from, and how its naive timestamps are to be read."""

    table: str | None = None
    query: str | None = None
    where: str | None = None
    timezone: str | None = None  # a fixed IANA zone for naive timestamps
    timezone_column: str | None = None  # or a column holding each row's zone

    @property
    def source_name(self) -> str:
        return self.table or "(query)"


@dataclass(frozen=True)
class KeyColumn:
    """A canonical key column and the plain column it is on each side."""

    name: str
    old: str
    new: str
    type: CanonicalType | None = None
    line: int = field(default=0, compare=False)  # where the mapping names it, for errors

    def on(self, side: str) -> str:
        return self.old if side == "old" else self.new


@dataclass(frozen=True)
class Tolerance:
    """How far two numbers may be apart and still be equal: |a-b| <= abs + rel*|old|."""

    abs: float = 0.0
    rel: float = 0.0


@dataclass(frozen=True)
class Column:
    """A compared canonical column: an expression per side plus the conversions to apply."""

    name: str
    old: str
    new: str
    type: CanonicalType | None = None
    round: bool = False  # the declared type may hold less than a source column: round on purpose
    map_old: tuple[tuple[Any, Any], ...] | None = None
    map_new: tuple[tuple[Any, Any], ...] | None = None
    normalize: tuple[str, ...] = ()
    tolerance: Tolerance | None = None
    timezone: str | None = None  # overrides the sides' zone for this column's naive values
    line: int = 0

    def expr(self, side: str) -> str:
        return self.old if side == "old" else self.new

    def value_map(self, side: str) -> tuple[tuple[Any, Any], ...] | None:
        return self.map_old if side == "old" else self.map_new


@dataclass(frozen=True)
class Rule:
    """A business-logic rule that explains (accepts, warns about or blocks) a difference."""

    name: str
    severity: str
    column: str | None = None
    kind: str | None = None
    when: str | None = None
    owner: str | None = None
    ticket: str | None = None
    note: str | None = None
    expires: dt.date | None = None
    line: int = 0


@dataclass(frozen=True)
class Entity:
    """One thing compared: a table or query on each side, a canonical key and columns."""

    name: str
    old: Side
    new: Side
    key: tuple[KeyColumn, ...]
    columns: tuple[Column, ...]
    all_shared: bool = False  # columns: "*" -- every other column the sides share by name
    ignore: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    segment_by: str | None = None  # the key column whose ranges make segments
    line: int = 0

    def side(self, side: str) -> Side:
        return self.old if side == "old" else self.new

    @property
    def key_names(self) -> tuple[str, ...]:
        return tuple(k.name for k in self.key)


@dataclass(frozen=True)
class Mapping:
    """A whole mapping file; `sha256` pins a run to the exact file it used."""

    path: str
    sha256: str
    entities: dict[str, Entity] = field(default_factory=dict)
