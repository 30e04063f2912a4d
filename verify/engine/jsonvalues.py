"""JSON values compared as values: key order, blanks and the spelling of numbers are no difference.

Canonical JSON per value in Python is slow (microseconds a value), so it is done only where it
can matter: a JSON column is compared as text first, which settles the common case (equal text
is an equal value), and only the cells whose texts differ are parsed here. Numbers compare by
exact value (1.0, 1 and 1e0 are one number; 0.1000000000000000055 is not 0.1), `true` is not
`1`, and a key that is absent is not one that is null.
"""

from __future__ import annotations

import decimal
import json
import re
from typing import Any

# A number token with a fraction or an exponent: such a document is parsed with exact decimals.
_FRACTIONAL = re.compile(r"\d[.eE]")
_COMPACT = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False}


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
        if _plain(old) and _plain(new) and json.loads(old) == json.loads(new):
            return True  # Python's == is JSON's equality once no text holds a bool or a fraction
        return canonical_json(old) == canonical_json(new)
    except (ValueError, RecursionError):
        return False


def _plain(text: str) -> bool:
    """Whether a text holds no bool and no number with a fraction or exponent: then its values
    are texts, integers (exact in Python), null, lists and objects, whose == (objects in any
    key order) is exactly JSON's equality; a bool would equal 1 or 0, and 1.0 would equal 1.
    (The words are looked for anywhere, inside strings too: that only sends more texts the
    slower way.)"""
    return _FRACTIONAL.search(text) is None and "true" not in text and "false" not in text


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
