"""JSON values compared as values: key order, blanks and the spelling of numbers are no difference.

Canonical JSON per value in Python is slow (microseconds a value), so it is done only where it
can matter: a JSON column is compared as text first, which settles the common case (equal text
is an equal value), and only the cells whose texts differ are parsed here. Numbers compare by
exact value (1.0, 1 and 1e0 are one number; 0.1000000000000000055 is not 0.1), `true` is not
`1`, and a key that is absent is not one that is null.

Most texts that differ are one value spelt another way (another key order, other blanks: a
MariaDB text against PostgreSQL's jsonb, say). Those are parsed by orjson, at C speed, and
compared by Python's ==, which is laxer than JSON's equality (`true == 1`, and two decimals
can round to one double) but never stricter: unequal there is unequal. A pair == finds equal is
written again by orjson, keys sorted, and compared as bytes, which tells a bool from a number.
Equal bytes are equal values where every number is short: an integer of at most 18 digits, or
a decimal of at most 15 digits with an exponent under 100, which a double holds apart from
every other such decimal. Any other pair (a long number, 1 against 1.0, a text orjson cannot
read) is compared by its canonical text, with exact decimals.
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
_FRACTIONAL = re.compile(r"[0-9][.eE]")
_COMPACT = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False}
# What a double could get wrong (see the docstring): a number of 16 digits or more (16 digits and
# points in a row), an exponent of 3 digits. Looked for anywhere in the text, inside strings
# too: that only sends more texts the slower, exact way.
_LONG = r"[0-9.]{16}|[eE][-+]?[0-9]{3}"
_BOOL = r"true|false"


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

    flags = pl.select(
        (old.str.contains(_LONG) | new.str.contains(_LONG)).alias("long"),
        (old.str.contains(_FRACTIONAL.pattern) | new.str.contains(_FRACTIONAL.pattern)).alias("fractions"),
        (old.str.contains(_BOOL) | new.str.contains(_BOOL)).alias("bools"),
    )
    verdicts = []
    for a, b, long, fractions, bools in zip(old.to_list(), new.to_list(), *flags.get_columns(), strict=True):
        verdict = None if long or a is None or b is None else _short_verdict(a, b, fractions, bools)
        verdicts.append(same_json(a, b) if verdict is None else verdict)
    return verdicts


def _short_verdict(old: str, new: str, fractions: bool, bools: bool) -> bool | None:
    """Whether two JSON texts whose numbers are all short hold the same value; None where
    orjson cannot tell (1 against 1.0; no JSON, NaN, too deep), for the exact way to decide."""
    try:
        a, b = orjson.loads(old), orjson.loads(new)
        if a != b:
            return False
        if not (fractions or bools):  # texts, integers, null, lists, objects: == is JSON's equality
            return True
        if orjson.dumps(a, option=_SORTED) == orjson.dumps(b, option=_SORTED):
            return True
        return None if fractions else False  # integers only: a bool where the other has a number
    except (orjson.JSONDecodeError, orjson.JSONEncodeError, RecursionError):
        return None


_SORTED = orjson.OPT_SORT_KEYS


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
