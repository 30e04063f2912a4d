"""JSON values compared as values: key order, blanks and the spelling of numbers are no difference.

Canonical JSON per value in Python is slow (microseconds a value), so it is done only where it
can matter: a JSON column is compared as text first, which settles the common case (equal text
is an equal value), and only the cells whose texts differ are parsed here. Numbers compare by
exact value (1.0, 1 and 1e0 are one number; 0.1000000000000000055 is not 0.1), `true` is not
`1`, and a key that is absent is not one that is null.

Most texts that differ are one value spelt another way (another key order, other blanks: a
MariaDB text against PostgreSQL's jsonb, say), and most hold no bool and no number with a
fraction: those are parsed by orjson and compared by Python's ==, which for texts, integers,
null, lists and objects (in any key order) is exactly JSON's equality. The rest, and any pair
== finds unequal, are compared by their canonical texts.
"""

from __future__ import annotations

import decimal
import json
import re
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    import polars as pl

# A number token with a fraction or an exponent: such a document is parsed with exact decimals.
_FRACTIONAL = re.compile(r"\d[.eE]")
_COMPACT = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False}
# What == on parsed values could get wrong: a bool (True == 1), a fraction (1.0 == 1), and an
# integer of 19 digits or more, which orjson would turn into a float. Looked for anywhere in the
# text, inside strings too: that only sends more texts the slower, exact way.
_NOT_PLAIN = r"\d[.eE]|\d{19}|true|false"


def canonical_json(text: str) -> str:
    """One text per JSON value: keys sorted, no blanks, numbers by value."""
    if _FRACTIONAL.search(text) is None:  # only integers, which Python holds exactly: C speed
        return json.dumps(json.loads(text), **_COMPACT)  # type: ignore[arg-type]
    return _dump(json.loads(text, parse_float=decimal.Decimal, parse_int=decimal.Decimal))


def same_json(old: str | None, new: str | None) -> bool:
    """Whether two JSON texts hold the same value; text that is no JSON equals only itself."""
    if old is None or new is None:
        return old is new
    if old == new:
        return True
    try:
        return canonical_json(old) == canonical_json(new)
    except (ValueError, RecursionError):
        return False


def same_json_values(old: pl.Series, new: pl.Series) -> list[bool]:
    """same_json of each pair of two text columns."""
    import polars as pl

    plain = pl.select(~(old.str.contains(_NOT_PLAIN) | new.str.contains(_NOT_PLAIN))).to_series()
    return [
        (bool(p) and _same_plain(a, b)) or same_json(a, b)
        for a, b, p in zip(old.to_list(), new.to_list(), plain.to_list(), strict=True)
    ]


def _same_plain(old: str, new: str) -> bool:
    try:
        return bool(orjson.loads(old) == orjson.loads(new))
    except (orjson.JSONDecodeError, RecursionError):  # NaN, say: the exact way decides
        return False


def _dump(value: Any) -> str:
    if isinstance(value, dict):
        return (
            "{"
            + ",".join(f"{json.dumps(k, ensure_ascii=False)}:{_dump(value[k])}" for k in sorted(value))
            + "}"
        )
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    if isinstance(value, decimal.Decimal):
        return _number(value)
    return json.dumps(value, ensure_ascii=False)  # strings, true, false, null


def _number(d: decimal.Decimal) -> str:
    if not d.is_finite():
        return str(d)
    text = format(d.normalize(), "f")  # plain digits, as Python writes an integer
    return "0" if text == "-0" else text
