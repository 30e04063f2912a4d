"""Where two sides' types meet: the canonical type a compared column gets when none is declared.

Each side of a column has a source kind (verify/sources/columns.py): the catalog's, for a plain
column, or the kind of the Polars type an expression yields. Two kinds meet at the canonical
type that holds every value of both exactly; where there is none (text against a timestamp, a
decimal against a float), the mapping must declare one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from verify.mapping.types import CanonicalType

if TYPE_CHECKING:
    import polars as pl

# Kinds that hold integers that fit 64 bits signed, and how they compare.
_INTEGERS = {"int", "bit", "bool"}


def kind_of(dtype: pl.DataType) -> str:
    """The source kind of a Polars type (an expression's result, or a reader's column)."""
    import polars as pl

    from verify.sources.columns import from_polars

    if dtype == pl.Null:
        return "null"
    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    return from_polars("", dtype).kind


def _plain(kind: str) -> str:
    return "timestamp" if kind == "timestamptz" else kind


def infer_type(a: str, b: str, scale: int = 0) -> CanonicalType | None:
    """The canonical type kinds `a` and `b` meet at, or None when the mapping must declare one.

    `scale` is the larger decimal scale of the two sides, where one is a decimal.
    """
    a, b = _plain(a), _plain(b)
    if a == "null":
        a = b
    if b == "null":
        b = a
    if {a, b} == {"varbit"}:  # bit strings both: B'0101' <> B'101', as PostgreSQL's = has it
        return CanonicalType("string")
    a, b = ("bit" if k == "varbit" else k for k in (a, b))  # against a number: the number it spells
    pair = {a, b}
    if pair == {"bit"}:
        return CanonicalType("uint")
    if pair == {"bool"}:
        return CanonicalType("bool")
    # Booleans and bits meet integers as integers, so that a TINYINT(1) holding 2 is not `true`.
    if pair <= _INTEGERS:
        return CanonicalType("int")
    if pair == {"uint64"}:
        return CanonicalType("uint")
    if pair <= {"int", "bit", "uint64", "decimal"}:
        return CanonicalType("decimal", 38, scale)
    if pair <= {"int", "float", "float32"} and pair & {"float", "float32"}:
        # A single-precision side holds no more than a float's digits: compare at that precision.
        return CanonicalType("float", 24 if "float32" in pair else None)
    if pair <= {"string", "json"}:
        return CanonicalType("json" if "json" in pair else "string")
    if pair <= {"set", "array"}:
        return CanonicalType("set" if "set" in pair else "array")
    if "uuid" in pair and pair <= {"uuid", "string", "binary"}:
        return CanonicalType("uuid")
    if len(pair) == 1 and a in ("date", "timestamp", "binary", "geometry", "time"):
        return CanonicalType(a, 6 if a == "timestamp" else None)
    return None
