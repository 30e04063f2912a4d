"""A time zone per row (`timezone: {column: NAME}`): each naive time is read in its own row's
zone, as Python's zoneinfo reads it (an ambiguous time is its earlier instant, a time that does
not exist is NULL), whatever the mix of zones in a segment (hypothesis)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import polars as pl
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from verify.engine.normalize import SideRecipe, convert
from verify.errors import RunError
from verify.mapping.types import CanonicalType

ZONES = ["America/New_York", "Europe/Berlin", "Australia/Lord_Howe", "Asia/Kathmandu", "UTC"]
RECIPE = SideRecipe("old", "advertiser", (), None, "tz")
UTC = dt.UTC


def read_in_zone(local: dt.datetime | None, zone: str | None) -> dt.datetime | None:
    """The oracle, one value at a time."""
    if local is None or zone is None:
        return None
    first = local.replace(tzinfo=zoneinfo.ZoneInfo(zone), fold=0)  # fold 0: the earlier instant
    if first.astimezone(UTC).astimezone(first.tzinfo).replace(tzinfo=None) != local:
        return None  # skipped by a spring-forward gap
    return first.astimezone(UTC)


def canonical(times: list, zones: list) -> list:
    raw = pl.DataFrame(
        {"t": pl.Series(times, dtype=pl.Datetime("us")), "tz": pl.Series(zones, dtype=pl.String)}
    )
    return convert(raw.get_column("t"), CanonicalType("timestamp"), RECIPE, raw, "t").to_list()


times = st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2030, 12, 31)).map(
    lambda t: t.replace(second=0, microsecond=0)
)
rows = st.lists(st.tuples(st.none() | times, st.none() | st.sampled_from(ZONES)), max_size=40)


@given(rows)
@example([(dt.datetime(2024, 3, 10, 2, 30), "America/New_York"), (dt.datetime(2024, 3, 10, 2, 30), "UTC")])
@example(
    [
        (dt.datetime(2024, 11, 3, 1, 30), "America/New_York"),
        (dt.datetime(2024, 10, 27, 2, 30), "Europe/Berlin"),
    ]
)
@example(
    [(dt.datetime(2024, 4, 7, 1, 45), "Australia/Lord_Howe"), (None, "UTC"), (dt.datetime(2024, 1, 1), None)]
)
def test_each_row_is_read_in_its_own_zone(pairs):
    times, zones = [p[0] for p in pairs], [p[1] for p in pairs]
    assert canonical(times, zones) == [read_in_zone(t, z) for t, z in pairs]


def test_a_zone_that_is_no_zone_names_the_column_and_the_value():
    with pytest.raises(RunError, match="time zone column 'tz' holds 'Mars/Olympus'"):
        canonical([dt.datetime(2024, 1, 1)] * 2, ["UTC", "Mars/Olympus"])
