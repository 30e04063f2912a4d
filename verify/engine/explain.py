"""What the unexplained differences have in common: patterns, and the mapping change or rule
that would explain each.

After a diff, every column's unexplained value differences (rule `unexplained`, read from the
run's mismatch parts) are tried against patterns that a migration's edge cases leave: blanks
at the ends, case, Unicode normal forms, NULL against '' or against one sentinel value, a
scale of 10^k, rounding, a constant time offset, integer codes recoded as texts. A pattern
that covers enough of a column's rows becomes a Suggestion: a YAML snippet for the mapping,
the rows it would explain, and how many of that column's unexplained rows it would not.

Missing rows are profiled too: where the unexplained rows missing in the new store mostly hold
one value of a column that the other rows mostly do not (a soft-delete flag), a
`missing_in_new` rule is suggested.

A suggestion is a suggestion: it never changes a verdict. Differences with no pattern (rows
dropped at random, values that differ at random) get none.
"""

from __future__ import annotations

import json
import math
from typing import Any

import polars as pl

from verify.engine.rules import UNEXPLAINED
from verify.results.summary import Suggestion

MIN_ROWS = 3  # a pattern must explain at least this many rows of a column
MIN_SHARE = 0.05  # and this share of the column's unexplained rows
PAIRS_LIMIT = 200_000  # unexplained cells looked at per column (patterns show long before)


def explain(entity: str, parts: list[str], types: dict[str, str]) -> list[Suggestion]:
    """The suggestions for one entity's mismatch parts; `types` are its columns' canonical types."""
    if not parts:
        return []
    cells = (
        pl.scan_parquet(parts)
        .filter((pl.col("kind") == "value") & (pl.col("rule") == UNEXPLAINED))
        .select("column", pl.col("old").cast(pl.String), pl.col("new").cast(pl.String))
    )
    counts = cells.group_by("column").len().collect()
    out = []
    for column, of in counts.iter_rows():
        pairs = cells.filter(pl.col("column") == column).head(PAIRS_LIMIT).collect()
        kind = types.get(column, "string").split("(")[0]
        out += _column(entity, column, kind, pairs, int(of))
    return sorted(out, key=lambda s: (s.entity, s.column, -s.rows))


def _column(entity: str, column: str, kind: str, pairs: pl.DataFrame, of: int) -> list[Suggestion]:
    """The patterns of one column that explain enough of its rows, the best first; a row is
    claimed by the first pattern that explains it."""
    found: list[Suggestion] = []
    left = pairs
    for pattern, test, make in _patterns(kind):
        candidates = test(left) if callable(test) else [(test, make)]
        for expr, made_by in candidates:
            if left.is_empty():
                return found
            try:  # a pattern that cannot be tried on these values is no pattern of theirs
                hit = left.select(expr.fill_null(False)).to_series()
                rows = int(hit.sum())
                if rows < MIN_ROWS or rows < MIN_SHARE * of:
                    continue
                made = made_by(left.filter(hit), column)
            except (pl.exceptions.PolarsError, ValueError, ArithmeticError):
                continue
            if made is None:
                continue
            why, snippet = made
            scaled = min(of, round(rows * of / max(pairs.height, 1)))  # pairs may be a head of `of`
            found.append(Suggestion(entity, column, pattern, scaled, of, why, snippet))
            left = left.filter(~hit)
    return found


OLD, NEW = pl.col("old"), pl.col("new")
BOTH = OLD.is_not_null() & NEW.is_not_null()


def _patterns(kind: str) -> list[tuple[str, Any, Any]]:
    nulls = [("null_empty", _null_empty(), _null_empty_rule), ("sentinel", _sentinels, None)]
    if kind == "string":
        return [
            (
                "rtrim",
                BOTH & (OLD.str.strip_chars_end(" ") == NEW.str.strip_chars_end(" ")),
                _normalize("rtrim"),
            ),
            ("trim", BOTH & (OLD.str.strip_chars() == NEW.str.strip_chars()), _normalize("trim")),
            ("lower", BOTH & (OLD.str.to_lowercase() == NEW.str.to_lowercase()), _normalize("lower")),
            ("nfc", BOTH & (OLD.str.normalize("NFC") == NEW.str.normalize("NFC")), _normalize("nfc")),
            ("recode", BOTH & OLD.str.contains(r"^-?\d+$"), _recode),
            *nulls,
        ]
    if kind in ("int", "uint", "decimal", "float"):
        o, n = OLD.cast(pl.Float64, strict=False), NEW.cast(pl.Float64, strict=False)
        ratio = n / o
        power = ratio.abs().log10().round(0)
        scaled = BOTH & (o != 0) & (power != 0) & ((ratio - 10.0**power).abs() <= 1e-9 * 10.0**power)
        return [
            ("scale", scaled, _scale),
            ("rounding", BOTH & ((o - n).abs() < 1) & (o != n), _rounding),
            *nulls,
        ]
    if kind == "timestamp":
        return [("offset", BOTH, _offset), *nulls]
    return nulls


def _null_empty() -> pl.Expr:
    return (OLD.is_null() & (NEW == "")) | ((OLD == "") & NEW.is_null())


def _normalize(step: str) -> Any:
    words = {
        "rtrim": "trailing blanks",
        "trim": "blanks at the ends",
        "lower": "letter case",
        "nfc": "Unicode normal form (NFC against NFD)",
    }

    def make(rows: pl.DataFrame, column: str) -> tuple[str, str]:
        return (
            f"the two sides differ only in {words[step]}",
            f"{column}: {{normalize: [{step}]}}",
        )

    return make


def _rule(name: str, column: str, when: str, why: str) -> str:
    return (
        f"- name: {name}\n  column: {column}\n  when: {_yaml_text(when)}\n  severity: accept\n"
        f"  owner: TODO\n  note: {_yaml_text(why)}"
    )


def _yaml_text(text: str) -> str:
    """A text as a YAML scalar that reads back as it is, whatever it holds (a JSON string is one)."""
    return json.dumps(text, ensure_ascii=False)


def _null_empty_rule(rows: pl.DataFrame, column: str) -> tuple[str, str]:
    why = "one side holds NULL where the other holds an empty string"
    when = "(old IS NULL AND new = '') OR (old = '' AND new IS NULL)"
    return why, _rule(f"{column}_null_as_empty", column, when, why)


def _sentinels(rows: pl.DataFrame) -> list[tuple[pl.Expr, Any]]:
    """NULL on one side against one value on the other, for each value common enough."""
    out = []
    for null_side, other in (("old", "new"), ("new", "old")):
        held = rows.filter(pl.col(null_side).is_null() & pl.col(other).is_not_null()).get_column(other)
        for value, n in held.value_counts(sort=True).iter_rows():
            if n < MIN_ROWS:
                break
            expr = pl.col(null_side).is_null() & (pl.col(other) == value)
            out.append((expr, _sentinel_rule(null_side, other, str(value))))
    return out


def _sentinel_rule(null_side: str, other: str, value: str) -> Any:
    def make(rows: pl.DataFrame, column: str) -> tuple[str, str]:
        why = f"the {other} side holds {value} where the {null_side} side holds NULL"
        when = f"{null_side} IS NULL AND {other} = {_literal(value)}"
        name = f"{column}_null_as_{''.join(c if c.isalnum() else '_' for c in value[:20]).strip('_').lower()}"
        return why, _rule(name, column, when, why)

    return make


def _literal(value: str) -> str:
    """A shown value as a literal of the rules' SQL."""
    try:
        float(value)
        return value
    except ValueError:
        pass
    if len(value) >= 19 and value[4] == "-" and value[10] == " " and value[13] == ":":
        return f"TIMESTAMP '{value[:19]}'"  # rules see UTC times without a zone
    return "'" + value.replace("'", "''") + "'"


def _scale(rows: pl.DataFrame, column: str) -> tuple[str, str] | None:
    o, n = (rows.get_column(c).cast(pl.Float64) for c in ("old", "new"))
    powers = (n / o).abs().log10().round(0).unique()
    if powers.len() != 1:
        return None
    k = int(powers[0])
    factor = f"{10 ** abs(k):,}".replace(",", "")
    op = "*" if k > 0 else "/"
    why = f"the new values are the old ones {'times' if k > 0 else 'divided by'} {factor}"
    return why, f'{column}: {{old: "{column} {op} {factor}"}}  # the old side\'s column or expression'


def _rounding(rows: pl.DataFrame, column: str) -> tuple[str, str] | None:
    """The fewest decimals to which the old values round to the new ones."""
    o, n = (rows.get_column(c).cast(pl.Float64) for c in ("old", "new"))
    for places in range(0, 10):
        if ((o.round(places) - n).abs() <= 10.0 ** -(places + 6)).all():
            step = f"{10.0**-places:.{places}f}" if places else "1"
            why = f"the new values are the old ones rounded to {places} decimal(s)"
            when = f"ABS(old - new) < {step}"
            return why, _rule(f"{column}_rounded_to_{places}_places", column, when, why).replace(
                "severity: accept", "severity: warn"
            )
    return None


def _offset(rows: pl.DataFrame, column: str) -> tuple[str, str] | None:
    """One time offset between the sides: the old side's local times read in another zone (or,
    an hour only in some rows, the DST fall-back hour resolved the other way)."""
    fmt = "%Y-%m-%d %H:%M:%S%.f%:z"
    o, n = (rows.get_column(c).str.to_datetime(fmt, strict=False) for c in ("old", "new"))
    seconds = (n - o).dt.total_seconds()
    common = seconds.drop_nulls().mode()
    if common.is_empty() or common[0] == 0:
        return None
    delta = float(common[0])
    if (seconds == delta).sum() < max(MIN_ROWS, math.ceil(0.9 * rows.height)):
        return None
    hours = delta / 3600
    shown = f"{hours:+g} h"
    if abs(hours) == 1 and bool((o.dt.month().is_in([3, 4, 10, 11])).all()):
        why = f"the new times are {shown} from the old ones, only in spring and autumn: a DST hour"
        snippet = (
            "old: {timezone: TODO}  # the zone the old side's local times are in; check "
            "how each side resolves the DST fall-back hour"
        )
        return why, snippet
    why = f"the new times are {shown} from the old ones: the old side's times are local to another zone"
    if hours.is_integer():  # new = old + h: the old side's clock is h hours behind UTC
        zone = f"Etc/GMT{'+' if hours > 0 else '-'}{abs(int(hours))}"
        note = f"UTC{-hours:+g} all year: name the real zone if it keeps DST"
        return why, f"old: {{timezone: {zone}}}  # {note}; a column in UTC says timezone: UTC"
    return why, f"old: {{timezone: TODO}}  # the zone of the old side's local times ({shown} from UTC)"


def _recode(rows: pl.DataFrame, column: str) -> tuple[str, str] | None:
    """Integer codes on the old side that map one-to-one to texts on the new."""
    pairs = rows.select("old", "new").unique()
    if pairs.get_column("new").str.contains(r"^-?\d+$").any():
        return None
    if (
        pairs.get_column("old").n_unique() != pairs.height
        or pairs.get_column("new").n_unique() != pairs.height
    ):
        return None  # a code with two texts, or two codes with one text: no recoding
    mapping = ", ".join(
        f"{o}: {json.dumps(n)}" for o, n in sorted(pairs.iter_rows(), key=lambda r: int(r[0]))
    )
    why = "the old side's integer codes stand one-to-one for the new side's texts"
    return why, f"{column}: {{map_old: {{{mapping}}}}}"


# --- missing rows that share a value -------------------------------------------------------------

PROFILED = 10  # a column is profiled where a segment's old rows hold at most this many values


def missing_values(
    rows: pl.DataFrame, records: pl.DataFrame, old: pl.DataFrame, keys: list[str]
) -> dict[str, dict[str, list[int]]]:
    """For one segment, per column of few values (a flag, a status): each value's count among
    the unexplained missing rows and among all the segment's old rows, to tell a value that the
    missing rows share (a soft delete) from one every row holds. Values are JSON texts."""
    if rows.is_empty() or records.is_empty():
        return {}
    unexplained = records.filter((pl.col("kind") == "missing_in_new") & (pl.col("rule") == UNEXPLAINED))
    if unexplained.is_empty():
        return {}
    missing = rows.filter(pl.col("__old__").is_not_null() & pl.col("__new__").is_null()).join(
        unexplained.select(keys).unique(), on=keys, how="semi", nulls_equal=True
    )
    out: dict[str, dict[str, list[int]]] = {}
    for column, dtype in old.schema.items():
        if column in keys or column not in missing.columns:
            continue
        if not (dtype == pl.Boolean or dtype.is_integer() or dtype == pl.String):
            continue
        values = old.get_column(column)
        # Many values among the first rows are many in all (and far cheaper to find out).
        if values.head(20 * PROFILED).n_unique() > PROFILED or values.n_unique() > PROFILED:
            continue
        held = values.value_counts()
        counted = dict(missing.get_column(column).value_counts().iter_rows())
        out[column] = {json.dumps(v): [int(counted.get(v, 0)), int(n)] for v, n in held.iter_rows()}
    return out


def explain_missing(entity: str, profile: dict[str, dict[str, list[int]]]) -> list[Suggestion]:
    """Unexplained missing rows that mostly hold one value that the other rows mostly do not:
    rows left out of the migration on purpose (soft-deleted, archived), or by a bug worth a look."""
    out = []
    for column, values in sorted(profile.items()):
        missing = sum(m for m, _ in values.values())
        held = sum(h for _, h in values.values())
        for value, (m, h) in values.items():
            if m < MIN_ROWS or m < 0.5 * missing or m / missing < 2 * h / max(held, 1):
                continue
            shown = json.loads(value)
            literal = "NULL" if shown is None else _literal(str(shown)) if not isinstance(shown, bool) else ""
            when = (
                f"old_{column}"
                if shown is True
                else f"NOT old_{column}"
                if shown is False
                else (f"old_{column} IS NULL" if shown is None else f"old_{column} = {literal}")
            )
            why = (
                f"{m:,} of the {missing:,} unexplained missing rows hold {column} = {value}, which "
                f"{h:,} of the old side's {held:,} rows hold"
            )
            slug = "".join(c if c.isalnum() else "_" for c in str(shown).lower())[:20]
            snippet = (
                f"- name: {column}_{slug}_not_migrated\n  kind: missing_in_new\n  when: {_yaml_text(when)}\n"
                f"  severity: accept\n  owner: TODO\n  note: {_yaml_text(why)}"
            )
            out.append(Suggestion(entity, column, "missing_shared", m, missing, why, snippet))
    return out
