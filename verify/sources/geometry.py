"""Geometry values as canonical WKT: one spelling for equal shapes, whatever the store.

WKB (what MySQL/MariaDB's and PostGIS's ST_AsBinary give), PostgreSQL's native `point`,
`path` and `polygon` text and WKT written by hand all become the same text: upper-case type
names, no blanks around parentheses and commas, and each coordinate as the shortest decimal
that reads back as the same double, as Polars writes it ("2", "1.5", "1e-7"; -0 is 0). Equal
doubles therefore always print alike, and the text loses nothing the doubles held.

Points, the common case, are decoded and written by Polars alone. Other shapes are parsed in
Python into a template with a slot per coordinate ("LINESTRING({} {},{} {})"); the coordinates
of a whole column are then written by Polars in one go, so that every path spells numbers
through the same code.

Writing a double as its shortest text is most of a point's cost, and only the values that
differ are ever shown. So a geometry column is compared in another form (compared_dtype), a
struct: a 2D point without a NaN coordinate as its two doubles, any other shape as its
canonical WKT, a NULL as all three fields NULL. Two values have equal forms exactly when their
canonical WKT is equal: shortest round-trip text is one text per double, and -0 equals 0 as
its text does. `wkt` turns a form back into the text, for the rows a report shows.
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
_POINT_WKB = b"\x01\x01\x00\x00\x00"  # little-endian, 2D point: 5 bytes of header, then x and y
_POINT_WKB_BIG = b"\x00\x00\x00\x00\x01"  # the same, big-endian (PostgreSQL's point, as read)
Shape = tuple[str, list[float]]  # a template with one "{}" per coordinate, and the coordinates


def compared_dtype() -> pl.DataType:
    """The struct a geometry column is compared in (see the module's docstring)."""
    import polars as pl

    return pl.Struct({"x": pl.Float64, "y": pl.Float64, "wkt": pl.String})


def wkt(form: pl.Expr) -> pl.Expr:
    """A compared form as canonical WKT."""
    import polars as pl

    x, y, text = (form.struct.field(f) for f in ("x", "y", "wkt"))
    point = pl.concat_str([pl.lit("POINT("), numbers(x), pl.lit(" "), numbers(y), pl.lit(")")])
    return pl.when(text.is_not_null()).then(text).otherwise(point)


def same_shapes(old: pl.Expr, new: pl.Expr) -> pl.Expr:
    """Whether two compared forms are one shape: each field equal, NULL to NULL."""
    import polars as pl

    return pl.all_horizontal(old.struct.field(f).eq_missing(new.struct.field(f)) for f in ("x", "y", "wkt"))


def compared(texts: pl.Series) -> pl.Series:
    """Canonical WKT in its compared form: a point's text read back as its two doubles (exact:
    the text is the shortest that reads back as each double)."""
    import polars as pl

    parts = texts.str.extract_groups(r"^POINT\(([^ ()]+) ([^ ()]+)\)$")
    x, y = (parts.struct.field(f).cast(pl.Float64, strict=True) for f in ("1", "2"))
    frame = pl.DataFrame({"x": x, "y": y, "wkt": texts})
    point = pl.col("x").is_not_null() & ~pl.col("x").is_nan() & ~pl.col("y").is_nan()
    return frame.select(
        pl.struct(
            pl.when(point).then(pl.col("x")).alias("x"),
            pl.when(point).then(pl.col("y")).alias("y"),
            pl.when(~point).then(pl.col("wkt")).alias("wkt"),
        ).alias(texts.name)
    ).to_series()


def _compared_points(xy: pl.DataFrame, name: str) -> pl.Series:
    """Columns x and y of points (NULL for a NULL value) in their compared form."""
    import polars as pl

    x, y = pl.col("x"), pl.col("y")
    if xy.select((x.is_nan() | y.is_nan()).any()).item():  # an empty point, say: as text
        return compared(xy.select(pl.when(x.is_not_null()).then(_points()).alias(name)).to_series())
    return xy.select(pl.struct(x, y, pl.lit(None, pl.String).alias("wkt")).alias(name)).to_series()


def numbers(expr: pl.Expr) -> pl.Expr:
    """Coordinates as canonical text: Polars' shortest round trip, without a trailing '.0'
    (-0 is spelt 0; not by adding 0.0, which Polars' optimizer may drop as a no-op)."""
    import polars as pl

    unsigned = pl.when(expr == 0.0).then(pl.lit(0.0)).otherwise(expr)
    return unsigned.cast(pl.String).str.strip_suffix(".0")


class _WKB:
    """A reader over one WKB value (either byte order, ISO or EWKB Z/M/SRID flags)."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0
        self.coords: list[float] = []

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

    def point(self, e: str, dims: int) -> str:
        self.coords.extend(float(v) for v in self.take(e + "d" * dims))
        return " ".join(["{}"] * dims)

    def points(self, e: str, dims: int) -> str:
        """A run of points (a linestring, a ring), read in one go."""
        (n,) = self.take(e + "I")
        self.coords.extend(self.take(f"{e}{int(n) * dims}d"))
        return ",".join([" ".join(["{}"] * dims)] * int(n))

    def body(self, base: int, e: str, dims: int) -> str | None:
        if base == 1:
            before = len(self.coords)
            slots = self.point(e, dims)
            if all(math.isnan(c) for c in self.coords[before:]):
                del self.coords[before:]
                return None
            return f"({slots})"
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


def wkb_shape(data: bytes) -> Shape:
    reader = _WKB(bytes(data))
    template = reader.geometry()
    return template, reader.coords


def wkt_shape(text: str) -> Shape:
    """The shape of WKT text: type names upper-case, blanks canonical, numbers as slots."""
    coords: list[float] = []

    def slot(m: re.Match[str]) -> str:
        coords.append(float(m.group()))
        return "{}"

    body = _NUMBER.sub(slot, text.strip().replace("{", "{{").replace("}", "}}"))
    body = re.sub(r"\s*([(),])\s*", r"\1", body)
    body = re.sub(r"\s+", " ", body)
    return re.sub(r"[A-Za-z]+", lambda m: m.group().upper(), body), coords


def pg_shape(text: str, typname: str) -> Shape:
    """PostgreSQL's native geometric text: a point '(x,y)', a path — open '[(x,y),...]' or
    closed '((x,y),...)' — as a LINESTRING (a closed one ends where it began), a polygon
    '((x,y),...)' as a POLYGON with its ring closed."""
    coords = [float(v) for v in _NUMBER.findall(text)]
    if typname == "point":
        return "POINT({} {})", coords
    pairs = list(zip(coords[::2], coords[1::2], strict=True))
    closed = typname == "polygon" or not text.lstrip().startswith("[")
    if closed and pairs and pairs[0] != pairs[-1]:
        pairs.append(pairs[0])
    body = ",".join(["{} {}"] * len(pairs))
    template = f"POLYGON(({body}))" if typname == "polygon" else f"LINESTRING({body})"
    return template, [c for pair in pairs for c in pair]


def _filled(series: pl.Series, shape: object) -> pl.Series:
    """Each value's shape, with all coordinates of the column written by Polars at once."""
    import polars as pl

    shapes: list[Shape | None] = []
    try:
        for v in series.to_list():
            shapes.append(None if v is None else shape(v))  # type: ignore[operator]
    except (ValueError, struct.error) as exc:
        raise ValueError(f"a value of column '{series.name}' is not a geometry: {exc}") from None
    flat = pl.Series([c for s in shapes if s is not None for c in s[1]], dtype=pl.Float64)
    texts = pl.select(numbers(pl.lit(flat))).to_series().to_list() if flat.len() else []
    out: list[str | None] = []
    at = 0
    for s in shapes:
        if s is None:
            out.append(None)
            continue
        out.append(s[0].format(*texts[at : at + len(s[1])]))
        at += len(s[1])
    return pl.Series(series.name, out, dtype=pl.String)


def _points() -> pl.Expr:
    """Columns x and y as canonical WKT points (each coordinate is used twice: columns, not
    expressions, so that it is computed once)."""
    import polars as pl

    x, y = pl.col("x"), pl.col("y")
    text = pl.concat_str([pl.lit("POINT("), numbers(x), pl.lit(" "), numbers(y), pl.lit(")")])
    return pl.when(x.is_nan() & y.is_nan()).then(pl.lit("POINT EMPTY")).otherwise(text)


def wkb_series(series: pl.Series) -> pl.Series:
    """WKB as canonical WKT: 2D points in Polars, any other shape through Python."""
    return _wkb(series, compare=False)


def wkb_compared(series: pl.Series) -> pl.Series:
    """WKB in its compared form: a column of 2D points without writing a number."""
    return _wkb(series, compare=True)


def _wkb(series: pl.Series, compare: bool) -> pl.Series:
    import polars as pl

    g = pl.col("g")
    frame = pl.DataFrame({"g": series})
    little, big = frame.select(
        ((g.bin.size() == 21) & g.bin.starts_with(header)).alias(order)
        for header, order in ((_POINT_WKB, "little"), (_POINT_WKB_BIG, "big"))
    )
    is_point = pl.lit(little | big)
    orders = [(mask, order) for mask, order in ((little, "little"), (big, "big")) if mask.any()]

    def coordinate(at: int) -> pl.Expr:  # a column's points are in one byte order, as a rule
        field = g.bin.slice(at, 8)
        value = pl.repeat(None, pl.len(), dtype=pl.Float64)  # a row each, if no row is a point
        for mask, order in orders:
            read = field.bin.reinterpret(dtype=pl.Float64, endianness=order)  # type: ignore[arg-type]
            value = read if len(orders) == 1 else pl.when(pl.lit(mask)).then(read).otherwise(value)
        return value

    xy = frame.select(coordinate(5).alias("x"), coordinate(13).alias("y"))
    other = frame.select(g.is_not_null() & ~pl.lit(little | big)).to_series()
    if not other.any():  # points only (and NULLs): a NULL value gives NULL coordinates
        if compare:
            return _compared_points(xy, series.name)
        return xy.select(_points()).to_series().alias(series.name)
    fast = xy.select(pl.when(is_point).then(_points()))
    out = fast.to_series().to_list()
    for i, text in zip(other.arg_true().to_list(), _filled(series.filter(other), wkb_shape), strict=True):
        out[i] = text
    texts = pl.Series(series.name, out, dtype=pl.String)
    return compared(texts) if compare else texts


def pg_geometric_series(series: pl.Series, typname: str, compare: bool = False) -> pl.Series:
    """PostgreSQL's point, path or polygon text as canonical WKT (points in Polars), or in its
    compared form."""
    import polars as pl

    if typname != "point":
        texts = _filled(series, lambda text: pg_shape(text, typname))
        return compared(texts) if compare else texts
    parts = series.str.extract_groups(r"^\s*\(\s*([^,\s]+)\s*,\s*([^)\s]+)\s*\)\s*$")
    xy = parts.struct.rename_fields(["x", "y"]).struct.unnest().cast(pl.Float64, strict=True)
    if compare:
        return _compared_points(xy, series.name)
    return xy.select(_points().alias(series.name)).to_series()


def wkt_series(series: pl.Series) -> pl.Series:
    """Geometry text of any source as canonical WKT: a PostgreSQL point '(x,y)', or WKT."""
    return _filled(series, lambda t: pg_shape(t, "point") if t.lstrip().startswith("(") else wkt_shape(t))
