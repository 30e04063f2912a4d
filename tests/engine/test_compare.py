"""The comparison of two canonical frames, on tiny frames with their differences written down."""

from __future__ import annotations

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from verify.engine.compare import ColumnCheck, Differences, compare, in_key_order
from verify.engine.rules import classify
from verify.mapping.model import Tolerance


def rows(diffs: Differences) -> set[tuple]:
    """(key, kind, column, old, new) of every record, as written to the mismatch files."""
    records = classify(diffs, ())
    return {tuple(r) for r in records.select("k", "kind", "column", "old", "new").iter_rows()}


def test_same_keys_in_another_order_compare_position_by_position():
    old = pl.DataFrame({"k": [3, 1, 2], "v": ["c", "a", "b"]})
    new = pl.DataFrame({"k": [1, 2, 3], "v": ["a", "B", "c"]})  # 2 differs
    diffs, counts = compare(old, new, ["k"], [ColumnCheck("v")])
    assert rows(diffs) == {(2, "value", "v", "b", "B")}
    assert (counts.compared, counts.matched, counts.value_mismatch_rows) == (3, 2, 1)


def test_duplicates_on_either_side_are_reported_once_with_their_counts():
    # old: key 2 twice and NULL twice; new: key 3 twice; key 4 only in new; key 5 only in old.
    old = pl.DataFrame({"k": [None, None, 1, 2, 2, 3, 5], "v": [1] * 7})
    new = pl.DataFrame({"k": [1, 2, 3, 3, 4], "v": [1, 1, 1, 2, 1]})
    diffs, counts = compare(old, new, ["k"], [ColumnCheck("v")])
    assert rows(diffs) == {
        (None, "duplicate_key", None, "2", "0"),
        (2, "duplicate_key", None, "2", "1"),
        (3, "duplicate_key", None, "1", "2"),
        (4, "extra_in_new", None, None, None),
        (5, "missing_in_new", None, None, None),
    }
    assert (counts.duplicate_keys, counts.matched, counts.compared) == (3, 1, 6)


def test_nulls_are_equal_to_nulls_only_and_tolerance_is_what_the_mapping_declares():
    old = pl.DataFrame({"k": [1, 2, 3, 4], "s": [None, "", None, "x"], "f": [1.0, 1.0, 1.0, 1.0]})
    new = pl.DataFrame({"k": [1, 2, 3, 4], "s": [None, None, "", "x"], "f": [1.0005, 1.002, None, 1.0]})
    diffs, _ = compare(old, new, ["k"], [ColumnCheck("s"), ColumnCheck("f", Tolerance(abs=0.001))])
    assert rows(diffs) == {
        (2, "value", "s", "", None),
        (3, "value", "s", None, ""),
        (2, "value", "f", "1.0", "1.002"),
        (3, "value", "f", "1.0", None),
    }


def test_key_order_over_composite_keys_allows_repeats_but_not_nulls():
    assert in_key_order(pl.DataFrame({"a": [1, 1, 2], "b": [1, 2, 0]}), ["a", "b"])
    assert in_key_order(pl.DataFrame({"a": [1, 1, 2], "b": [2, 2, 0]}), ["a", "b"])
    assert not in_key_order(pl.DataFrame({"a": [1, 1, 2], "b": [2, 1, 0]}), ["a", "b"])
    assert not in_key_order(pl.DataFrame({"a": [1, 2, 1], "b": [0, 0, 5]}), ["a", "b"])
    assert not in_key_order(pl.DataFrame({"a": [None, 1], "b": [0, 0]}), ["a", "b"])


def test_differing_lists_never_look_alike_in_reports():
    # Joined with ", " and NULL elements dropped, each pair here was shown as two equal texts.
    pairs = [(["a, b"], ["a", "b"]), ([None], []), ([""], []), (["NULL"], [None]), (['q"u'], ["q'u"])]
    lists = {"v": pl.List(pl.String)}
    old = pl.DataFrame({"k": range(5), "v": [o for o, _ in pairs]}, schema_overrides=lists)
    new = pl.DataFrame({"k": range(5), "v": [n for _, n in pairs]}, schema_overrides=lists)
    diffs, _ = compare(old, new, ["k"], [ColumnCheck("v")])
    shown = {k: (o, n) for k, _, _, o, n in rows(diffs)}
    assert shown == {
        0: ('["a, b"]', '["a","b"]'),
        1: ("[null]", "[]"),
        2: ('[""]', "[]"),
        3: ('["NULL"]', "[null]"),
        4: ('["q\\"u"]', '["q\'u"]'),
    }
    assert all(o != n for o, n in shown.values())


_ELEMENT = st.one_of(st.none(), st.sampled_from(["", "a", "b", "a,b", "NULL"]))
_LIST = st.one_of(st.none(), st.lists(_ELEMENT, max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_LIST, _LIST, st.booleans()), max_size=25))
def test_lists_differ_exactly_where_polars_own_equality_says(pairs):
    # Each row: an old list, a new one, and whether the new side holds the old list instead.
    old = [a for a, _, _ in pairs]
    new = [a if same else b for a, b, same in pairs]
    frame = {"k": list(range(len(pairs)))}
    dtype = pl.List(pl.String)
    old_f = pl.DataFrame({**frame, "v": pl.Series(old, dtype=dtype)})
    new_f = pl.DataFrame({**frame, "v": pl.Series(new, dtype=dtype)})
    diffs, counts = compare(old_f, new_f, ["k"], [ColumnCheck("v")])
    expected = old_f["v"].eq_missing(new_f["v"])
    differing = {k for k, same in zip(frame["k"], expected, strict=True) if not same}
    assert set(diffs.rows["k"]) == differing
    assert counts.value_mismatch_rows == len(differing)
