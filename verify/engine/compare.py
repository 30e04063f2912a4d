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
    in hex (0x…), lists as JSON arrays of texts, lengths of time as [-]H:MM:SS[.ffffff].

    Lists are JSON so that no two differing lists look alike: ["a, b"] and ["a","b"], [null],
    [""] and [] are each their own."""
    if isinstance(dtype, pl.Datetime):
        return expr.dt.to_string("%Y-%m-%d %H:%M:%S%.f%:z")
    if dtype == pl.Binary:
        return pl.concat_str([pl.lit("0x"), expr.bin.encode("hex")])
    if isinstance(dtype, pl.List):
        encoded = pl.struct(expr.cast(pl.List(pl.String)).alias("v")).struct.json_encode()
        return pl.when(expr.is_not_null()).then(encoded.str.slice(len('{"v":')).str.strip_suffix("}"))
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
    if check.kind == "geometry":  # in the form shapes are compared in (sources/geometry.py)
        from verify.sources.geometry import same_shapes, wkt

        same = same_shapes(old, new)
        if check.tolerance is None:
            return same
        return same | _shapes_close(wkt(old), wkt(new), check.tolerance).fill_null(False)
    same = old.eq_missing(new)
    tol = check.tolerance
    if tol is None:
        return same
    a, b = old.cast(pl.Float64), new.cast(pl.Float64)
    close = (a - b).abs() <= (tol.abs + tol.rel * a.abs())
    return same | close.fill_null(False)


def _is_flat_list(dtype: pl.DataType) -> bool:
    return isinstance(dtype, pl.List) and not dtype.inner.is_nested()


def _same_lists(old: pl.Series, new: pl.Series) -> pl.Series:
    """old.eq_missing(new) for two columns of lists, in a quarter of the time: the lengths
    first (a NULL list is equal only to a NULL list), then every element at once, flat.

    A row whose lengths differ is already unequal; it takes the old side's list on both sides,
    so that the flat elements of the two sides line up row by row (a NULL list is one NULL
    element when flat, an empty one none)."""
    lengths = old.list.len()
    same = lengths.eq_missing(new.list.len())
    if not same.all():
        new = new.zip_with(same, old)
    flat_old, flat_new = old.explode(empty_as_null=False), new.explode(empty_as_null=False)
    differ = (~flat_old.eq_missing(flat_new)).arg_true()
    if differ.is_empty():
        return same
    ends = lengths.fill_null(1).cum_sum()  # the flat element at i is in the first row ending above i
    return same.scatter(ends.search_sorted(differ, side="right").unique(), False)


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

    Duplicate keys are reported as such and left out of the value comparison. Each side, in key
    order, keeps the first row of each key. When both then hold the same keys (the common case
    late in a migration) the rows are compared position by position. Otherwise only the keys
    are joined, to find which rows of each side have a partner: the partnered rows, taken from
    each side in key order, line up, and the rest are missing or extra. No column but the keys
    is ever joined or gathered row by row (a list column costs ten times more to gather than to
    filter), so the cost of a segment hardly grows with its differences.
    """
    old, old_repeats = _in_key_order(old, keys)
    new, new_repeats = _in_key_order(new, keys)
    counts = SegmentCounts(rows_old=old.height, rows_new=new.height)
    unique = old_repeats is None and new_repeats is None
    if unique and old.height == new.height and old.select(keys).equals(new.select(keys)):
        return _differences(old, new, _NO_ROWS, keys, columns, counts, _NO_DUPLICATES)
    old, n_old = _first_of_each_key(old, old_repeats)
    new, n_new = _first_of_each_key(new, new_repeats)
    pairs = (
        old.select(keys)
        .with_columns(pl.int_range(pl.len(), dtype=pl.UInt32).alias(_AT_OLD), n_old.alias(_N_OLD))
        .join(
            new.select(keys).with_columns(
                pl.int_range(pl.len(), dtype=pl.UInt32).alias(_AT_NEW), n_new.alias(_N_NEW)
            ),
            on=keys,
            how="full",
            coalesce=True,
            nulls_equal=True,  # a NULL key matches a NULL key, as NULL values match
            maintain_order="none",
        )
        .with_columns(pl.col(_N_OLD).fill_null(0), pl.col(_N_NEW).fill_null(0))
    )
    repeated = (pl.col(_N_OLD) > 1) | (pl.col(_N_NEW) > 1)
    dups = _NO_DUPLICATES
    if not unique:
        dups = pairs.filter(repeated).select(*keys, pl.col(_N_OLD).alias("old"), pl.col(_N_NEW).alias("new"))
        counts.duplicate_keys = dups.height
    pairs = pairs.filter(~repeated)
    both = pl.col(_AT_OLD).is_not_null() & pl.col(_AT_NEW).is_not_null()
    paired_old = _mask(old.height, pairs.filter(both)[_AT_OLD])
    paired_new = _mask(new.height, pairs.filter(both)[_AT_NEW])
    lone = _lone_rows(
        old.filter(_mask(old.height, pairs.filter(pl.col(_AT_NEW).is_null())[_AT_OLD])),
        new.filter(_mask(new.height, pairs.filter(pl.col(_AT_OLD).is_null())[_AT_NEW])),
        [c.name for c in columns],
    )
    old, new = old.filter(paired_old), new.filter(paired_new)
    if not old.select(keys).equals(new.select(keys)):  # both sides in one key order: cannot fail
        raise AssertionError("compare: the paired rows of the two sides do not line up by key")
    return _differences(old, new, lone, keys, columns, counts, dups)


_N_OLD, _N_NEW = "__n_old__", "__n_new__"
_AT_OLD, _AT_NEW = "__at_old__", "__at_new__"
_NO_ROWS = pl.DataFrame()


def _first_of_each_key(df: pl.DataFrame, repeats: pl.Series | None) -> tuple[pl.DataFrame, pl.Series]:
    """The first row of each key of a frame in key order, and each one's row count."""
    if repeats is None:
        return df, pl.Series(_N_OLD, [1], pl.UInt32).new_from_index(0, df.height)
    starts = (~repeats).arg_true()
    ends = pl.concat([starts.slice(1), pl.Series([df.height], dtype=starts.dtype)])
    return df.filter(~repeats), (ends - starts).cast(pl.UInt32)


def _mask(height: int, at: pl.Series) -> pl.Series:
    """A filter of `height` rows that keeps the rows at `at`."""
    return pl.Series([False], dtype=pl.Boolean).new_from_index(0, height).scatter(at, True)


def _lone_rows(missing: pl.DataFrame, extra: pl.DataFrame, names: list[str]) -> pl.DataFrame:
    """The rows of one side only, laid out as the differing rows are (see Differences)."""
    if not (missing.height or extra.height):
        return _NO_ROWS
    flags = [pl.lit(False).alias(f"diff:{c}") for c in names]
    return pl.concat(
        [
            missing.with_columns(pl.lit(True).alias(_OLD), *flags),
            extra.rename({c: f"{c}{_NEW}" for c in names}).with_columns(pl.lit(True).alias(_NEW), *flags),
        ],
        how="diagonal_relaxed",
    )


def _json_values(flags: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """JSON cells whose texts differ, compared again as JSON values (few cells, in Python)."""
    from verify.engine.jsonvalues import same_json_values

    for c in columns:
        at = flags.get_column(f"diff:{c}").arg_true()
        if at.is_empty():
            continue
        old, new = flags.get_column(c).gather(at), flags.get_column(f"{c}{_NEW}").gather(at)
        equal = pl.Series(same_json_values(old, new), dtype=pl.Boolean)
        if equal.any():
            flags = flags.with_columns(flags.get_column(f"diff:{c}").scatter(at.filter(equal), False))
    return flags


def _differences(
    old: pl.DataFrame,
    new: pl.DataFrame,
    lone: pl.DataFrame,
    keys: list[str],
    columns: list[ColumnCheck],
    counts: SegmentCounts,
    duplicates: pl.DataFrame,
) -> tuple[Differences, SegmentCounts]:
    """Flag the differing cells of the paired rows (`old` and `new` line up row by row) and
    add the rows of one side only (`lone`, see _lone_rows)."""
    names = [c.name for c in columns]
    present = pl.Series(_NEW, [True]).new_from_index(0, new.height)  # a lone literal is one row
    flags = old.with_columns(pl.lit(True).alias(_OLD)).hstack(
        [*new.select(pl.col(c).alias(f"{c}{_NEW}") for c in names), present]
    )
    flags = flags.with_columns(
        *[
            (~_same_lists(old.get_column(c), new.get_column(c))).alias(f"diff:{c}")
            if _is_flat_list(old.schema[c])
            else (~_equal(pl.col(c), pl.col(f"{c}{_NEW}"), old.schema[c], col)).alias(f"diff:{c}")
            for c, col in zip(names, columns, strict=True)
        ],
    )
    flags = _json_values(flags, [c.name for c in columns if c.kind == "json"])
    any_diff = pl.any_horizontal([pl.col(f"diff:{c}") for c in names]) if names else pl.lit(False)
    totals = flags.select(any_diff.sum().alias("values"), *[pl.col(f"diff:{c}").sum() for c in names]).row(
        0, named=True
    )
    counts.missing_in_new = int(lone.get_column(_OLD).sum()) if lone.height else 0
    counts.extra_in_new = lone.height - counts.missing_in_new
    counts.value_mismatch_rows = int(totals["values"] or 0)
    counts.by_column = {c: int(totals[f"diff:{c}"]) for c in names if totals[f"diff:{c}"]}
    counts.compared = flags.height + lone.height + counts.duplicate_keys
    counts.matched = flags.height - counts.value_mismatch_rows
    rows = flags.filter(any_diff) if counts.value_mismatch_rows else flags.clear()
    if lone.height:
        rows = pl.concat([rows, lone.select(rows.columns)], how="vertical_relaxed")
    shapes = [c.name for c in columns if c.kind == "geometry"]
    if shapes:  # the rows shown: shapes as their text from here on
        from verify.sources.geometry import wkt

        rows = rows.with_columns(wkt(pl.col(n)).alias(n) for c in shapes for n in (c, f"{c}{_NEW}"))
    types = {c: pl.String() if c in shapes else old.schema[c] for c in names}
    if not duplicates.height:
        duplicates = pl.DataFrame(
            schema={**{k: old.schema[k] for k in keys}, "old": pl.UInt32, "new": pl.UInt32}
        )
    return Differences(tuple(keys), tuple(names), types, rows, duplicates), counts
