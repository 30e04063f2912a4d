"""Decoding by distinct value gives exactly what decoding every value gives."""

from __future__ import annotations

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from verify.sources.columns import by_distinct, set_members

members = st.lists(st.sampled_from(["a", "b", "c", "é", "ctv", "x y"]), max_size=4)
texts = st.lists(st.one_of(st.none(), members.map(",".join)), max_size=60)


def sorted_sets_one_by_one(series: pl.Series) -> list:
    return [None if t is None else sorted(t.split(",")) if t else [] for t in series.to_list()]


@given(texts)
def test_set_text_decoded_by_distinct_value_is_decoded_value_by_value(values):
    series = pl.Series("s", values, dtype=pl.String)
    assert set_members(series).to_list() == sorted_sets_one_by_one(series)


@given(st.lists(st.one_of(st.none(), st.text(max_size=3)), max_size=80))
def test_by_distinct_is_the_function_applied_to_each_value(values):
    series = pl.Series("s", values, dtype=pl.String)
    assert by_distinct(series, lambda s: (s + "!").str.len_chars()).to_list() == [
        None if v is None else len(v) + 1 for v in values
    ]


lists = st.lists(
    st.one_of(st.none(), st.lists(st.one_of(st.none(), st.sampled_from(["a", "b", "é", "ctv"])), max_size=4)),
    max_size=60,
)
# Members that a join of the members could confuse: the empty text, blanks, the separators.
awkward = st.sampled_from(["", " ", "a", "a\x1f", "\x1f", "a,b", ",", "\x1fb"])


def _set_key(member: str | None) -> tuple[bool, str]:
    return (member is not None, member or "")  # NULL first, as Polars sorts


@given(lists)
def test_sets_from_lists_sorted_by_distinct_list_are_sorted_list_by_list(values):
    series = pl.Series("s", values, dtype=pl.List(pl.String))
    # A member held twice stays twice: a SET never holds one twice, so an array that does differs.
    expected = [None if v is None else sorted(v, key=_set_key) for v in values]
    assert set_members(series).to_list() == expected


@given(st.lists(st.one_of(st.none(), st.lists(awkward, max_size=3)), max_size=60))
def test_sets_of_awkward_members_keep_every_member_as_it_is(values):
    series = pl.Series("s", values, dtype=pl.List(pl.String))
    expected = [None if v is None else sorted(v) for v in values]
    assert set_members(series).to_list() == expected
