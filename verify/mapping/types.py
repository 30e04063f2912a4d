"""Canonical types: the one type a compared column has on both sides after normalization.

int, uint        64-bit integers, signed and unsigned
decimal(P,S)     exact decimals at scale S
float, float(24) doubles; float(24) compares at single precision (MySQL FLOAT, real)
string           text, byte for byte (CHAR(n) without its padding)
bool             true / false
date, timestamp(0|3|6)   timestamps are instants in UTC at that many digits
binary           bytes, shown as hex
json             JSON values: key order, blanks and number spelling are no difference
geometry         shapes as canonical WKT, compared exactly or within a tolerance
set, array       lists of texts: a set compares its members in any order, an array in order
uuid             lower-case, hyphenated
time             a signed length of time in microseconds (TIME, time, interval)
"""

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
    "binary": "binary",
    "bytes": "binary",
    "blob": "binary",
    "bytea": "binary",
    "json": "json",
    "jsonb": "json",
    "geometry": "geometry",
    "set": "set",
    "array": "array",
    "list": "array",
    "uuid": "uuid",
    "time": "time",
    "interval": "time",
}
_PATTERN = re.compile(r"^\s*([a-z ]+?)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?\s*$")
CHOICES = (
    "int, uint, decimal(P,S), float, float(24), string, bool, date, timestamp(0|3|6), binary, json, "
    "geometry, set, array, uuid, time"
)


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
        if kind == "float" and a is not None:
            if a not in (24, 53) or b is not None:
                raise ValueError(f"type '{text}': float precision is 24 (single) or 53 (double) bits")
            return cls("float", 24 if a == 24 else None)
        if a is not None and kind not in ("string",):
            raise ValueError(f"type '{text}': {kind} takes no size; choose one of: {CHOICES}")
        return cls(kind)

    def __str__(self) -> str:
        if self.kind == "decimal":
            return f"decimal({self.precision},{self.scale})"
        if self.kind == "timestamp":
            return f"timestamp({self.precision})"
        if self.kind == "float" and self.precision == 24:
            return "float(24)"
        return self.kind

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "uint", "decimal", "float")
