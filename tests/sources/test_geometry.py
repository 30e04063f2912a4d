"""Geometry as canonical WKT: every path a value can come by spells it the same (hypothesis).

WKB in either byte order (points go through Polars alone, other shapes through Python),
PostgreSQL's point text and WKT written by hand must all give one text for one shape, and
distinct doubles must stay distinct."""

from __future__ import annotations

import struct

import polars as pl
from hypothesis import example, given
from hypothesis import strategies as st

from verify.sources.geometry import pg_geometric_series, wkb_series, wkt_series

COORD = st.floats(allow_nan=False, allow_infinity=False, width=64)
POINTS = st.lists(st.tuples(COORD, COORD), min_size=2, max_size=5)


def wkb_point(x: float, y: float, order: str = "<") -> bytes:
    return struct.pack(order + "BIdd", 1 if order == "<" else 0, 1, x, y)


def wkb_line(points: list[tuple[float, float]], order: str = "<") -> bytes:
    head = struct.pack(order + "BII", 1 if order == "<" else 0, 2, len(points))
    return head + b"".join(struct.pack(order + "dd", x, y) for x, y in points)


def binary(*values: bytes) -> pl.Series:
    return pl.Series(list(values), dtype=pl.Binary)


@given(COORD, COORD)
@example(0.0, -0.0)  # -0 is spelt 0 on every path (a WKB point once kept its sign)
@example(-0.0, 1e300)
def test_a_point_reads_alike_from_wkb_of_either_order_point_text_and_wkt(x, y):
    little, big = wkb_series(binary(wkb_point(x, y), wkb_point(x, y, ">"))).to_list()
    (point,) = pg_geometric_series(pl.Series([f"({x!r},{y!r})"]), "point").to_list()
    (text,) = wkt_series(pl.Series([f"point ( {x!r}  {y!r} )"])).to_list()
    assert little == big == point == text
    assert little.startswith("POINT(") and ".0 " not in little and not little.endswith(".0)")


@given(POINTS)
def test_a_line_reads_alike_from_wkb_path_text_and_wkt(points):
    (wkb,) = wkb_series(binary(wkb_line(points, ">"))).to_list()
    (path,) = pg_geometric_series(
        pl.Series(["[" + ",".join(f"({x!r},{y!r})" for x, y in points) + "]"]), "path"
    )
    (text,) = wkt_series(pl.Series(["LINESTRING(" + ", ".join(f"{x!r} {y!r}" for x, y in points) + ")"]))
    assert wkb == path == text


@given(COORD, COORD, COORD)
def test_distinct_doubles_stay_distinct(x, y, other):
    a, b = wkb_series(binary(wkb_point(x, y), wkb_point(other, y))).to_list()
    assert (a == b) is (x == other)  # -0 and 0 are one coordinate


def test_empty_points_nulls_and_collections():
    nan = float("nan")
    collection = struct.pack("<BII", 1, 7, 2) + wkb_point(1, 2) + wkb_line([(0, 0), (1, 1)])
    assert wkb_series(binary(wkb_point(nan, nan), None, collection)).to_list() == [
        "POINT EMPTY",
        None,
        "GEOMETRYCOLLECTION(POINT(1 2),LINESTRING(0 0,1 1))",
    ]
