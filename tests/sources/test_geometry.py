"""Geometry as canonical WKT: every path a value can come by spells it the same (hypothesis).

WKB in either byte order (points go through Polars alone, other shapes through Python),
PostgreSQL's point text and WKT written by hand must all give one text for one shape, and
distinct doubles must stay distinct."""

from __future__ import annotations

import struct

import polars as pl
from hypothesis import example, given
from hypothesis import strategies as st

from verify.sources.geometry import (
    compared,
    pg_geometric_series,
    same_shapes,
    wkb_compared,
    wkb_series,
    wkt,
    wkt_series,
)

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


# What a geometry column can hold, as WKB: points of any double (NaN, infinities, -0), empty
# points, lines, NULLs; in either byte order.
ANY_COORD = st.floats(width=64) | st.sampled_from([0.0, -0.0, float("nan"), float("inf")])
VALUES = st.one_of(
    st.none(),
    st.builds(wkb_point, ANY_COORD, ANY_COORD, st.sampled_from(["<", ">"])),
    st.builds(wkb_line, POINTS, st.sampled_from(["<", ">"])),
)


def forms(values: list) -> pl.DataFrame:
    """Each value's canonical WKT and its compared form, by each path that makes one."""
    series = binary(*values)
    texts = wkb_series(series)
    return pl.DataFrame({"text": texts, "form": wkb_compared(series), "from_text": compared(texts)})


@given(st.lists(VALUES, max_size=12), st.lists(VALUES, max_size=12))
@example([wkb_point(0.0, 1.0)], [wkb_point(-0.0, 1.0, ">")])
@example([wkb_point(float("nan"), 1.0)], [wkb_point(float("nan"), 1.0)])
@example([wkb_point(float("nan"), float("nan"))], [None])
def test_compared_forms_are_equal_exactly_where_the_texts_are(a, b):
    """A column is compared in its form, not its text: the two must agree on every pair, give
    the text back, and not depend on the path (WKB of points only, or mixed, or text)."""
    left, right = forms(a), forms(b)
    assert left.select(wkt(pl.col("form"))).to_series().to_list() == left["text"].to_list()
    assert left["form"].to_list() == left["from_text"].to_list()
    for x in range(len(a)):
        for y in range(len(b)):
            pair = pl.DataFrame({"l": left["form"][x : x + 1], "r": right["form"][y : y + 1]})
            same = pair.select(same_shapes(pl.col("l"), pl.col("r"))).item()
            assert same is (left["text"][x] == right["text"][y])  # NULL text: both NULL or not
