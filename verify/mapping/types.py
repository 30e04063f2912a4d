"""Canonical types: the one type a compared column has on both sides after normalization."""

from __future__ import annotations

import re
from dataclasses import dataclass

_ALIASES = {
    "int": "int",
    "integer": "int",
    "bigint": "int",
    "smallint": "int",
    "tinyint": "int",
    "uint": "uint",
    "unsigned": "uint",
    "bigint unsigned": "uint",
    "decimal": "decimal",
    "numeric": "decimal",
    "float": "float",
    "double": "float",
    "real": "float",
    "string": "string",
    "text": "string",
    "varchar": "string",
    "bool": "bool",
    "boolean": "bool",
    "date": "date",
    "timestamp": "timestamp",
    "datetime": "timestamp",
    "timestamptz": "timestamp",
}
_PATTERN = re.compile(r"^\s*([a-z ]+?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")
CHOICES = "int, uint, decimal(P,S), float, string, bool, date, timestamp(0|3|6)"


@dataclass(frozen=True)
class CanonicalType:
    """A canonical type: `decimal(18,6)` has precision 18 and scale 6; `timestamp(3)` keeps ms."""

    kind: str
    precision: int | None = None
    scale: int | None = None

    @classmethod
    def parse(cls, text: str) -> CanonicalType:
        m = _PATTERN.match(str(text).lower())
        kind = _ALIASES.get(m.group(1)) if m else None
        if m is None or kind is None:
            raise ValueError(f"unknown type '{text}'; choose one of: {CHOICES}")
        a = int(m.group(2)) if m.group(2) else None
        b = int(m.group(3)) if m.group(3) else None
        if kind == "decimal":
            p, s = (a or 38), (b if b is not None else 0)
            if not 1 <= p <= 38 or s > p:
                raise ValueError(f"type '{text}': decimal needs 1 <= precision <= 38, scale <= precision")
            return cls("decimal", p, s)
        if kind == "timestamp":
            digits = 6 if a is None else a
            if digits not in (0, 3, 6) or b is not None:
                raise ValueError(f"type '{text}': timestamp precision must be 0, 3 or 6 digits")
            return cls("timestamp", digits)
        if a is not None and kind not in ("string",):
            raise ValueError(f"type '{text}': {kind} takes no size; choose one of: {CHOICES}")
        return cls(kind)

    def __str__(self) -> str:
        if self.kind == "decimal":
            return f"decimal({self.precision},{self.scale})"
        if self.kind == "timestamp":
            return f"timestamp({self.precision})"
        return self.kind

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "uint", "decimal", "float")
