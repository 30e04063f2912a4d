"""Geometry values as canonical WKT: one spelling for equal shapes, whatever the store.

WKB (what MySQL/MariaDB's and PostGIS's ST_AsBinary give), PostgreSQL's native `point`,
`path` and `polygon` text and WKT written by hand all become the same text: upper-case type names, no blanks
around parentheses and commas, and each coordinate as the shortest decimal that reads back
as the same double ("2", "1.5", "1e-07"; -0 is 0). Two equal doubles therefore always print
alike, and the text loses nothing the doubles held. Python per value: geometry columns are
rare and small next to the rest of a row.
"""

from __future__ import annotations

import math
import re
import struct
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import polars as pl

NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|NaN|nan"
_NUMBER = re.compile(NUMBER)
_TYPES = {
    1: "POINT",
    2: "LINESTRING",
    3: "POLYGON",
    4: "MULTIPOINT",
    5: "MULTILINESTRING",
    6: "MULTIPOLYGON",
    7: "GEOMETRYCOLLECTION",
}


def number(x: float) -> str:
    """A coordinate's canonical text: shortest round trip, integral values without '.0'."""
    if x == 0:
        return "0"
    if math.isnan(x):
        return "NaN"
    text = repr(x)
    return text[:-2] if text.endswith(".0") else text


class _WKB:
    """A reader over one WKB value (either byte order, ISO or EWKB Z/M/SRID flags)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def take(self, fmt: str) -> tuple[float | int, ...]:
        values = struct.unpack_from(fmt, self.data, self.at)
        self.at += struct.calcsize(fmt)
        return values

    def geometry(self) -> str:
        (order,) = self.take("B")
        e = "<" if order == 1 else ">"
        (code,) = self.take(e + "I")
        code = int(code)
        dims = 2 + bool(code & 0x80000000) + bool(code & 0x40000000)
        if code & 0x20000000:  # EWKB SRID: not part of the shape
            self.take(e + "I")
        code &= 0x0FFFFFFF
        dims += {1: 1, 2: 1, 3: 2}.get(code // 1000, 0)  # ISO Z (1000s), M (2000s), ZM (3000s)
        base = code % 1000
        name = _TYPES.get(base)
        if name is None:
            raise ValueError(f"unknown WKB geometry type {code}")
        body = self.body(base, e, dims)
        return f"{name}{' EMPTY' if body is None else body}"

    def points(self, e: str, dims: int) -> str:
        (n,) = self.take(e + "I")
        return ",".join(self.point(e, dims) for _ in range(int(n)))

    def point(self, e: str, dims: int) -> str:
        return " ".join(number(float(v)) for v in self.take(e + "d" * dims))

    def body(self, base: int, e: str, dims: int) -> str | None:
        if base == 1:
            coords = self.take(e + "d" * dims)
            if all(math.isnan(float(c)) for c in coords):
                return None
            return "(" + " ".join(number(float(c)) for c in coords) + ")"
        if base == 2:
            text = self.points(e, dims)
            return f"({text})" if text else None
        if base == 3:
            (rings,) = self.take(e + "I")
            parts = [f"({self.points(e, dims)})" for _ in range(int(rings))]
            return f"({','.join(parts)})" if parts else None
        (n,) = self.take(e + "I")
        members = [self.geometry() for _ in range(int(n))]
        if base != 7:  # a multi-geometry lists its members' bodies, without their names
            members = [m[m.index("(") :] if "(" in m else "EMPTY" for m in members]
        return f"({','.join(members)})" if members else None


def wkb_to_wkt(data: bytes) -> str:
    """The canonical WKT of one WKB value."""
    return _WKB(bytes(data)).geometry()


def normalize_wkt(text: str) -> str:
    """The canonical spelling of WKT text: type names upper-case, blanks and numbers canonical."""
    body = _NUMBER.sub(lambda m: number(float(m.group())), text.strip())
    body = re.sub(r"\s*([(),])\s*", r"\1", body)
    body = re.sub(r"\s+", " ", body)
    return re.sub(r"[A-Za-z]+", lambda m: m.group() if m.group() == "NaN" else m.group().upper(), body)


def point_text_to_wkt(text: str) -> str:
    """PostgreSQL's point text '(x,y)' as canonical WKT."""
    x, y = (float(v) for v in text.strip().strip("()").split(","))
    return f"POINT({number(x)} {number(y)})"


def pg_geometric_to_wkt(text: str, typname: str) -> str:
    """PostgreSQL's native geometric text as canonical WKT: a point '(x,y)', a path — open
    '[(x,y),...]' or closed '((x,y),...)' — as a LINESTRING (a closed one ends where it began),
    a polygon '((x,y),...)' as a POLYGON with its ring closed."""
    if typname == "point":
        return point_text_to_wkt(text)
    values = [number(float(v)) for v in _NUMBER.findall(text)]
    points = [f"{x} {y}" for x, y in zip(values[::2], values[1::2], strict=True)]
    closed = typname == "polygon" or not text.lstrip().startswith("[")
    if closed and points and points[0] != points[-1]:
        points.append(points[0])
    body = ",".join(points)
    return f"POLYGON(({body}))" if typname == "polygon" else f"LINESTRING({body})"


def _each(series: pl.Series, fn: object) -> pl.Series:
    import polars as pl

    try:
        values = [None if v is None else fn(v) for v in series.to_list()]  # type: ignore[operator]
    except (ValueError, struct.error) as exc:
        raise ValueError(f"a value of column '{series.name}' is not a geometry: {exc}") from None
    return pl.Series(series.name, values, dtype=pl.String)


def wkb_series(series: pl.Series) -> pl.Series:
    return _each(series, wkb_to_wkt)


def pg_geometric_series(series: pl.Series, typname: str) -> pl.Series:
    return _each(series, lambda text: pg_geometric_to_wkt(text, typname))


def wkt_series(series: pl.Series) -> pl.Series:
    """Geometry text of any source as canonical WKT: a PostgreSQL point '(x,y)' or WKT."""

    def one(text: str) -> str:
        return point_text_to_wkt(text) if text.lstrip().startswith("(") else normalize_wkt(text)

    return _each(series, one)
