"""JSON values compare as values: any key order, blanks or number spelling of one value is equal,
and any other value is not (hypothesis)."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import polars as pl
from hypothesis import given
from hypothesis import strategies as st

from verify.engine.jsonvalues import same_json, same_json_values


def same(a: str | None, b: str | None) -> bool:
    """What the compare uses (a column of pairs, the fast path first), checked against the one
    pair at a time (canonical texts only)."""
    (fast,) = same_json_values(pl.Series([a], dtype=pl.String), pl.Series([b], dtype=pl.String))
    assert fast is same_json(a, b)
    return fast


SCALARS = st.none() | st.booleans() | st.integers(-(10**20), 10**20) | st.text(max_size=5)
NUMBERS = st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-1000, max_value=1000)
VALUES = st.recursive(
    SCALARS | NUMBERS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=12,
)


def spell(value, rng: random.Random) -> str:
    """One JSON text of `value`: keys shuffled, random blanks, numbers spelt one of several ways."""
    pad = lambda: rng.choice(["", " ", "\n  "])  # noqa: E731
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        return (
            "{" + ",".join(f"{pad()}{json.dumps(k)}{pad()}:{pad()}{spell(value[k], rng)}" for k in keys) + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(pad() + spell(v, rng) for v in value) + "]"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value, ensure_ascii=rng.random() < 0.5)
    d = Decimal(value)
    return rng.choice(
        [str(d), f"{d:.6f}", f"{d:E}".replace("E+", "e"), str(d) + ("0" if "." in str(d) else "")]
    )


@given(VALUES, st.randoms())
def test_every_spelling_of_a_value_is_the_same_value(value, rng):
    assert same(spell(value, rng), spell(value, rng))


def same_value(a, b) -> bool:
    """The oracle: JSON equality, with booleans apart from numbers and numbers by exact value."""
    if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None or isinstance(a, str):
        return type(a) is type(b) and a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    numbers = (int, Decimal)
    return isinstance(a, numbers) and isinstance(b, numbers) and Decimal(a) == Decimal(b)


@given(VALUES, VALUES, st.randoms())
def test_different_values_are_different(a, b, rng):
    assert same(spell(a, rng), spell(b, rng)) is same_value(a, b)


def test_the_traps():
    assert same('{"a": 1.0, "b": [1e2]}', '{"b":[100],"a":1}')
    assert not same('{"a": true}', '{"a": 1}')
    assert not same('{"a": null}', "{}")
    assert not same("0.1000000000000000055", "0.1")
    assert not same('"1"', "1")


def test_the_traps_of_doubles():
    """Decimals a double cannot hold apart, and bools beside numbers, in documents that orjson
    reads: each must still be told by its exact value."""
    assert not same("[9007199254740993.0]", "[9007199254740992.0]")  # one double, 2**53
    assert not same("[1e-400]", "[0.0]")  # the first is no double at all
    assert not same("[1.00000000000000001]", "[1]")
    assert same('{"a": true, "b": 1.5}', '{"b": 1.50, "a": true}')
    assert not same('{"a": true, "b": 1.5}', '{"b": 1.5, "a": 1}')
    assert not same('{"a": [true, 2]}', '{"a": [1, 2]}')
    assert same('{"a": -0.0, "b": 1e2}', '{"b": 100, "a": 0}')


@given(st.integers(10**13, 10**19), st.integers(-40, 40))
def test_decimals_one_digit_apart_differ_and_spellings_of_one_are_equal(mantissa, exponent):
    d, e = Decimal(mantissa).scaleb(exponent), Decimal(mantissa + 1).scaleb(exponent)
    doc = '{{"a": {0}, "b": [true, 0.5]}}'
    assert not same(doc.format(format(d, "f")), doc.format(format(e, "f")))
    assert not same(doc.format(format(d, "e")), doc.format(format(e, "E")))
    assert same(doc.format(format(d, "f")), '{{"b": [true, 0.50], "a": {}}}'.format(format(d, "e")))
    assert same('"\\u00e9"', '"é"')
    assert not same("not json", "not json ")
    assert same(None, None) and not same(None, "null")


def test_bools_and_fractions_are_not_the_integers_python_equates_them_with():
    assert not same('{"a": 1, "b": 0}', '{"b": false, "a": true}')
    assert not same("[1]", "[1.0000000000000000001]")
    assert same('{"a": 1, "b": [2, null, "x"]}', '{"b":[2,null,"x"],"a":1}')
    assert same('{"a": true}', '{ "a" : true }')
    # orjson reads an integer past 64 bits as a float: such texts go the exact way
    assert not same("[18446744073709551616]", "[18446744073709551617]")
    assert same('{"b": 123456789012345678901, "a": 1}', '{"a":1,"b":123456789012345678901}')
    assert not same("[NaN]", "[0]") and same("[NaN]", "[ NaN ]")
