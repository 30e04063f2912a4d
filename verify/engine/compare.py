"""Compare two canonical frames of one segment: duplicates, missing, extra, differing cells.

The result keeps the differing rows typed and side by side, so that business-logic rules
can be evaluated on real values before anything is turned into display strings.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import polars as pl

from verify.mapping.model import Tolerance

_OLD, _NEW = "__old__", "__new__"
_NO_DUPLICATES = pl.DataFrame()


@dataclass(frozen=True)
class ColumnCheck:
    """How one canonical column is compared."""

    name: str
    tolerance: Tolerance | None = None
    kind: str = ""  # the canonical type's kind: geometry takes its tolerance per coordinate


@dataclass
class SegmentCounts:
    """Counters of one segment; merged by plain addition into the entity's summary."""

    rows_old: int = 0
    rows_new: int = 0
    compared: int = 0
    matched: int = 0
    missing_in_new: int = 0
    extra_in_new: int = 0
    duplicate_keys: int = 0
    value_mismatch_rows: int = 0
    skipped_unsettled: int = 0  # keys left out because they changed too recently (--settle-*)
    rows_read: int = 0  # rows transferred from both stores (checksums spare the equal ones)
    by_column: dict[str, int] = field(default_factory=dict)
    # column -> value -> [unexplained missing rows holding it, old rows holding it] (explain.py)
    missing_values: dict[str, dict[str, list[int]]] = field(default_factory=dict)

    def add(self, other: SegmentCounts) -> None:
        for name in (
            "rows_old",
            "rows_new",
            "compared",
            "matched",
            "missing_in_new",
            "extra_in_new",
            "duplicate_keys",
            "value_mismatch_rows",
            "skipped_unsettled",
            "rows_read",
        ):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for col, n in other.by_column.items():
            self.by_column[col] = self.by_column.get(col, 0) + n
        for col, values in other.missing_values.items():
            into = self.missing_values.setdefault(col, {})
            for value, (missing, held) in values.items():
                was = into.get(value, [0, 0])
                into[value] = [was[0] + missing, was[1] + held]


def display(expr: pl.Expr, dtype: pl.DataType) -> pl.Expr:
    """A value as the string shown in reports: ISO timestamps with offset, plain numbers, bytes
    in hex (0x…), lists in brackets, lengths of time as [-]H:MM:SS[.ffffff]."""
    if isinstance(dtype, pl.Datetime):
        return expr.dt.to_string("%Y-%m-%d %H:%M:%S%.f%:z")
    if dtype == pl.Binary:
        return pl.concat_str([pl.lit("0x"), expr.bin.encode("hex")])
    if isinstance(dtype, pl.List):
        return pl.concat_str([pl.lit("["), expr.cast(pl.List(pl.String)).list.join(", "), pl.lit("]")])
    if isinstance(dtype, pl.Duration):
        return _duration_text(expr)
    return expr.cast(pl.String)


def _duration_text(expr: pl.Expr) -> pl.Expr:
    us = expr.dt.total_microseconds()
    size = us.abs()
    two = [(size // unit % 60).cast(pl.String).str.zfill(2) for unit in (60_000_000, 1_000_000)]
    frac = size % 1_000_000
    return pl.concat_str(
        [
            pl.when(us < 0).then(pl.lit("-")).otherwise(pl.lit("")),
            (size // 3_600_000_000).cast(pl.String),
            pl.lit(":"),
            two[0],
            pl.lit(":"),
            two[1],
            pl.when(frac > 0)
            .then(pl.lit(".") + frac.cast(pl.String).str.zfill(6).str.strip_chars_end("0"))
            .otherwise(pl.lit("")),
        ]
    )


def _equal(old: pl.Expr, new: pl.Expr, dtype: pl.DataType, check: ColumnCheck) -> pl.Expr:
    """Null-safe equality; numbers (and a geometry's coordinates) within the declared tolerance
    count as equal."""
    same = old.eq_missing(new)
    tol = check.tolerance
    if tol is None:
        return same
    if check.kind == "geometry":
        return same | _shapes_close(old, new, tol).fill_null(False)
    a, b = old.cast(pl.Float64), new.cast(pl.Float64)
    close = (a - b).abs() <= (tol.abs + tol.rel * a.abs())
    return same | close.fill_null(False)


def _shapes_close(old: pl.Expr, new: pl.Expr, tol: Tolerance) -> pl.Expr:
    """Canonical WKT of the same shape (the text with every number taken out) whose coordinates
    are each within the tolerance."""
    from verify.sources.geometry import NUMBER

    shape = old.str.replace_all(NUMBER, "#").eq(new.str.replace_all(NUMBER, "#"))
    empty = pl.lit([], pl.List(pl.Float64))

    def coords(e: pl.Expr) -> pl.Expr:  # emptied where shapes differ, so the lists line up
        return (
            pl.when(shape)
            .then(e.str.extract_all(NUMBER).list.eval(pl.element().cast(pl.Float64)))
            .otherwise(empty)
        )

    a, b = coords(old), coords(new)
    magnitude = pl.element().abs()
    worst = ((a - b).list.eval(magnitude) - a.list.eval(magnitude) * tol.rel).list.max()
    return shape & (worst.fill_null(0.0) <= tol.abs)


def in_key_order(df: pl.DataFrame, keys: list[str]) -> bool:
    """True when no row's key is smaller than the one before (equal keys may repeat).

    A NULL key counts as out of order, so a frame with one is sorted (NULLs first).
    """
    if df.height < 2:
        return True
    cond: pl.Expr | None = None
    for k in reversed(keys):
        cur, prev = pl.col(k), pl.col(k).shift(1)
        cond = cur >= prev if cond is None else (cur > prev) | ((cur == prev) & cond)
    assert cond is not None
    return bool(df.select(cond.slice(1).fill_null(False).all()).item())


def _repeats(df: pl.DataFrame, keys: list[str]) -> pl.Series | None:
    """In a frame in key order: which rows repeat the key of the row before (NULL equal to
    NULL), or None when every key is unique."""
    if df.height < 2:
        return None
    same = pl.all_horizontal([pl.col(k).eq_missing(pl.col(k).shift(1)) for k in keys])
    not_first = pl.int_range(pl.len()) > 0  # the shift's NULL would match a NULL key
    repeat = df.select((not_first & same).alias("repeat")).to_series()
    return repeat if repeat.any() else None


def _in_key_order(df: pl.DataFrame, keys: list[str]) -> tuple[pl.DataFrame, pl.Series | None]:
    """The frame in key order (sorted only if the server returned another order), and its
    repeated rows (see _repeats)."""
    if not in_key_order(df, keys):
        df = df.sort(keys)
    return df, _repeats(df, keys)


@dataclass(frozen=True)
class Differences:
    """The differing rows of one segment, typed.

    `rows` holds every row with a missing, extra or differing value, the old value of each
    compared column under its name and the new one under `<name>__new__`, presence flags and
    one `diff:<name>` flag per column. `duplicates` holds each duplicated key with its row
    count per side. `types` are the canonical types of the compared columns.
    """

    keys: tuple[str, ...]
    names: tuple[str, ...]
    types: dict[str, pl.DataType]
    rows: pl.DataFrame
    duplicates: pl.DataFrame

    def groups(self) -> Iterator[tuple[str, str | None, pl.LazyFrame]]:
        """(kind, column, rows) for each kind of difference present, as lazy frames.

        Each frame has the key columns, `old_<c>` and `new_<c>` for every compared column, and
        `old`/`new`: the differing cell's values (value), the row counts (duplicate_key), or
        NULL (missing_in_new, extra_in_new).
        """
        both = [pl.col(c).alias(f"old_{c}") for c in self.names] + [
            pl.col(f"{c}{_NEW}").alias(f"new_{c}") for c in self.names
        ]
        keys = list(self.keys)
        if self.duplicates.height:
            yield (
                "duplicate_key",
                None,
                self.duplicates.lazy().select(
                    *keys,
                    *(pl.lit(None, self.types[c]).alias(f"old_{c}") for c in self.names),
                    *(pl.lit(None, self.types[c]).alias(f"new_{c}") for c in self.names),
                    pl.col("old"),
                    pl.col("new"),
                ),
            )
        if not self.rows.height:
            return
        in_old, in_new = pl.col(_OLD).is_not_null(), pl.col(_NEW).is_not_null()
        wheres: dict[tuple[str, str | None], pl.Expr] = {
            ("missing_in_new", None): in_old & ~in_new,
            ("extra_in_new", None): in_new & ~in_old,
            **{("value", c): pl.col(f"diff:{c}") for c in self.names},
        }
        present = self.rows.select(w.any().alias(str(i)) for i, w in enumerate(wheres.values())).row(0)
        rows = self.rows.lazy()
        for ((kind, column), where), found in zip(wheres.items(), present, strict=True):
            if not found:
                continue
            if column is None:
                shown = (pl.lit(None).alias("old"), pl.lit(None).alias("new"))
            else:
                shown = (pl.col(column).alias("old"), pl.col(f"{column}{_NEW}").alias("new"))
            yield kind, column, rows.filter(where).select(*keys, *both, *shown)


def compare(
    old: pl.DataFrame, new: pl.DataFrame, keys: list[str], columns: list[ColumnCheck]
) -> tuple[Differences, SegmentCounts]:
    """Every difference between the two sides of a segment, and its counts.

    Duplicate keys are reported as such and left out of the value comparison. When both sides
    hold the same unique keys (the common case late in a migration) the rows are compared
    position by position, with no join. Otherwise each side, in key order, is cut to the first
    row of each key and its row count, found from its neighbours, and the sides are joined once.
    """
    old, old_repeats = _in_key_order(old, keys)
    new, new_repeats = _in_key_order(new, keys)
    counts = SegmentCounts(rows_old=old.height, rows_new=new.height)
    names = [c.name for c in columns]
    unique = old_repeats is None and new_repeats is None
    if unique and old.height == new.height and old.select(keys).equals(new.select(keys)):
        joined = old.with_columns(pl.lit(True).alias(_OLD)).hstack(
            new.select(*(pl.col(c).alias(f"{c}{_NEW}") for c in names), pl.lit(True).alias(_NEW))
        )
        return _differences(joined, old, keys, columns, counts, _NO_DUPLICATES)
    # Each side keeps the first row of each key, with how many rows hold it where a key repeats.
    old = _first_of_each_key(old, old_repeats, _N_OLD)
    new = _first_of_each_key(new, new_repeats, _N_NEW)
    joined = old.with_columns(pl.lit(True).alias(_OLD)).join(
        new.with_columns(pl.lit(True).alias(_NEW)).rename({c: f"{c}{_NEW}" for c in names}),
        on=keys,
        how="full",
        coalesce=True,
        nulls_equal=True,  # a NULL key matches a NULL key, as NULL values match
        maintain_order="none",
    )
    dups = _NO_DUPLICATES
    if not unique:
        joined, dups = _split_duplicates(joined, keys)
        counts.duplicate_keys = dups.height
    return _differences(joined, old, keys, columns, counts, dups)


_N_OLD, _N_NEW = "__n_old__", "__n_new__"


def _first_of_each_key(df: pl.DataFrame, repeats: pl.Series | None, name: str) -> pl.DataFrame:
    """The first row of each key of a frame in key order, with its row count under `name`
    when some key repeats (a frame whose keys are unique is returned as it is)."""
    if repeats is None:
        return df
    starts = (~repeats).arg_true()
    ends = pl.concat([starts.slice(1), pl.Series([df.height], dtype=starts.dtype)])
    return df.gather(starts).with_columns((ends - starts).cast(pl.UInt32).alias(name))


def _split_duplicates(joined: pl.DataFrame, keys: list[str]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each key held by more than one row of a side, once, with its row count per side (0 where
    a side has none); and the rest, to compare. Both sides were collapsed to one row per key
    (_first_of_each_key), so this needs no search for the duplicated keys; a side without a
    count column held each of its keys once."""
    helpers = [c for c in (_N_OLD, _N_NEW) if c in joined.columns]
    in_old, in_new = pl.col(_OLD).is_not_null(), pl.col(_NEW).is_not_null()
    count_old = pl.col(_N_OLD) if _N_OLD in helpers else pl.lit(1, pl.UInt32)
    count_new = pl.col(_N_NEW) if _N_NEW in helpers else pl.lit(1, pl.UInt32)
    old_rows = pl.when(in_old).then(count_old).otherwise(pl.lit(0, pl.UInt32))
    new_rows = pl.when(in_new).then(count_new).otherwise(pl.lit(0, pl.UInt32))
    repeated = (old_rows > 1) | (new_rows > 1)
    dups = joined.filter(repeated).select(*keys, old_rows.alias("old"), new_rows.alias("new"))
    return joined.filter(~repeated).drop(helpers), dups


def _json_values(flags: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """JSON cells whose texts differ, compared again as JSON values (few cells, in Python)."""
    from verify.engine.jsonvalues import same_json

    for c in columns:
        at = flags.get_column(f"diff:{c}").arg_true()
        if at.is_empty():
            continue
        pairs = flags.select(pl.col(c).gather(at), pl.col(f"{c}{_NEW}").gather(at)).iter_rows()
        equal = pl.Series([same_json(old, new) for old, new in pairs])
        if equal.any():
            flags = flags.with_columns(flags.get_column(f"diff:{c}").scatter(at.filter(equal), False))
    return flags


def _differences(
    joined: pl.DataFrame,
    old: pl.DataFrame,
    keys: list[str],
    columns: list[ColumnCheck],
    counts: SegmentCounts,
    duplicates: pl.DataFrame,
) -> tuple[Differences, SegmentCounts]:
    """Flag missing, extra and differing rows of the two sides laid side by side."""
    names = [c.name for c in columns]
    in_old, in_new = pl.col(_OLD).is_not_null(), pl.col(_NEW).is_not_null()
    flags = joined.with_columns(
        *[
            (in_old & in_new & ~_equal(pl.col(c), pl.col(f"{c}{_NEW}"), old.schema[c], col)).alias(
                f"diff:{c}"
            )
            for c, col in zip(names, columns, strict=True)
        ],
    )
    flags = _json_values(flags, [c.name for c in columns if c.kind == "json"])
    any_diff = pl.any_horizontal([pl.col(f"diff:{c}") for c in names]) if names else pl.lit(False)
    totals = flags.select(
        (in_old & ~in_new).sum().alias("missing"),
        (in_new & ~in_old).sum().alias("extra"),
        any_diff.sum().alias("values"),
        *[pl.col(f"diff:{c}").sum() for c in names],
    ).row(0, named=True)
    counts.missing_in_new = int(totals["missing"])
    counts.extra_in_new = int(totals["extra"])
    counts.value_mismatch_rows = int(totals["values"] or 0)
    counts.by_column = {c: int(totals[f"diff:{c}"]) for c in names if totals[f"diff:{c}"]}
    counts.compared = joined.height + counts.duplicate_keys
    counts.matched = joined.height - counts.missing_in_new - counts.extra_in_new - counts.value_mismatch_rows
    differing = counts.missing_in_new + counts.extra_in_new + counts.value_mismatch_rows
    rows = flags.filter(~in_old | ~in_new | any_diff) if differing else flags.clear()
    types = {c: old.schema[c] for c in names}
    if not duplicates.height:
        duplicates = pl.DataFrame(
            schema={**{k: old.schema[k] for k in keys}, "old": pl.UInt32, "new": pl.UInt32}
        )
    return Differences(tuple(keys), tuple(names), types, rows, duplicates), counts
