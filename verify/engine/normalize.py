"""Normalization: turn one side's raw Arrow rows into canonical rows (Polars, no Python per row).

A canonical frame has the canonical key columns and the compared columns, each with its
canonical type: timestamps in UTC at the declared precision, decimals at the declared
scale, strings byte-exact unless the mapping asks for trim, lower or NFC.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import polars as pl

from verify.errors import RunError
from verify.mapping.types import CanonicalType

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
ZERO_DATE = "0000-00-00"
_TRUE = ("1", "t", "true", "y", "yes")
_FALSE = ("0", "f", "false", "n", "no")


@dataclass(frozen=True)
class ColumnRecipe:
    """How one canonical column is made from one side's raw columns."""

    name: str
    expr: str
    type: CanonicalType
    value_map: tuple[tuple[Any, Any], ...] | None = None
    normalize: tuple[str, ...] = ()
    timezone: str | None = None  # the column's own zone for naive values, over the side's


@dataclass(frozen=True)
class SideRecipe:
    """Everything needed to canonicalize one side of an entity, picklable for worker processes."""

    side: str
    entity: str
    columns: tuple[ColumnRecipe, ...]  # key columns first, then compared columns
    timezone: str | None = None
    timezone_column: str | None = None


def root_names(expr: str) -> list[str]:
    """The raw columns an expression reads."""
    if IDENTIFIER.match(expr):
        return [expr]
    return list(dict.fromkeys(pl.sql_expr(expr).meta.root_names()))


def evaluate(df: pl.DataFrame, recipe: ColumnRecipe) -> pl.Series:
    """The column's expression over the raw frame, with its value map applied."""
    if IDENTIFIER.match(recipe.expr):
        series = df.get_column(recipe.expr)
    else:
        source = df
        if recipe.type.kind == "decimal":
            # Evaluate arithmetic on integers and decimals as decimals, so money stays exact.
            scale = recipe.type.scale or 0
            casts = [
                pl.col(c).cast(pl.Decimal(38, scale))
                for c in root_names(recipe.expr)
                if df.schema[c].is_integer() or isinstance(df.schema[c], pl.Decimal)
            ]
            if casts:
                source = df.with_columns(casts)
        series = source.select(pl.sql_expr(recipe.expr)).to_series()
    if recipe.value_map:
        series = _apply_map(series, recipe.value_map)
    return series.alias(recipe.name)


def _apply_map(series: pl.Series, pairs: tuple[tuple[Any, Any], ...]) -> pl.Series:
    targets = pl.Series([v for _, v in pairs])
    keys = pl.Series([k for k, _ in pairs]).cast(series.dtype, strict=False)
    out_dtype = targets.dtype if targets.dtype != pl.Null else series.dtype
    return series.replace_strict(
        keys, targets, default=series.cast(out_dtype, strict=False), return_dtype=out_dtype
    )


def canonicalize(raw: pl.DataFrame, recipe: SideRecipe) -> pl.DataFrame:
    """The canonical frame of one side of a segment."""
    out = []
    for col in recipe.columns:
        series = evaluate(raw, col)
        series = convert(series, col.type, recipe, raw, col.name, col.timezone)
        out.append(normalize_strings(series, col.normalize))
    return pl.DataFrame(out)


def normalize_strings(series: pl.Series, steps: tuple[str, ...]) -> pl.Series:
    for step in steps:
        if step == "trim":
            series = series.str.strip_chars()
        elif step == "rtrim":
            series = series.str.strip_chars_end(" ")
        elif step == "lower":
            series = series.str.to_lowercase()
        elif step == "nfc":
            series = series.str.normalize("NFC")
    return series


def convert(
    series: pl.Series,
    ctype: CanonicalType,
    recipe: SideRecipe,
    raw: pl.DataFrame,
    column: str,
    zone: str | None = None,
) -> pl.Series:
    """Cast a series to its canonical type; values that cannot be converted are a RunError."""
    src = series.dtype
    kind = ctype.kind
    try:
        if kind == "timestamp":
            return _to_timestamp(series, ctype, recipe, raw, zone)
        if kind == "date":
            if src == pl.String:
                series = _null_zero_dates(series).str.to_date(strict=False)
            elif isinstance(src, pl.Datetime):
                series = series.dt.date()
            return _checked(series.cast(pl.Date), series, column, recipe)
        if kind == "decimal":
            dtype = pl.Decimal(38, ctype.scale or 0)
            if src == pl.String:
                return _checked(series.str.strip_chars().cast(dtype, strict=False), series, column, recipe)
            if src.is_float():
                return series.round(ctype.scale or 0).cast(dtype)
            return series.cast(dtype)
        if kind in ("int", "uint"):
            int_type = pl.Int64 if kind == "int" else pl.UInt64
            if src == pl.String:
                return _checked(series.str.strip_chars().cast(int_type, strict=False), series, column, recipe)
            return series.cast(int_type)
        if kind == "float":
            if src == pl.String:
                return _checked(series.cast(pl.Float64, strict=False), series, column, recipe)
            return series.cast(pl.Float64)
        if kind == "bool":
            if src == pl.Boolean:
                return series
            if src == pl.String:
                low = series.str.strip_chars().str.to_lowercase()
                out = pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False).otherwise(None)
                return _checked(pl.select(out.alias(series.name)).to_series(), series, column, recipe)
            return series.cast(pl.Float64).ne(0).alias(series.name)
        return series.cast(pl.String)
    except pl.exceptions.PolarsError as exc:
        raise RunError(
            f"entity '{recipe.entity}' ({recipe.side} side): column '{column}' cannot be "
            f"converted from {src} to {ctype}: {str(exc).splitlines()[0]}; "
            "declare a matching 'type:' or an expression in the mapping"
        ) from None


def _checked(out: pl.Series, before: pl.Series, column: str, recipe: SideRecipe) -> pl.Series:
    """A conversion that turned a non-null value into null lost data: say which value."""
    lost = before.is_not_null() & out.is_null()
    if before.dtype == pl.String:
        lost = lost & ~before.str.starts_with(ZERO_DATE)
    if lost.any():
        example = before.filter(lost)[0]
        raise RunError(
            f"entity '{recipe.entity}' ({recipe.side} side): column '{column}' has "
            f"value {example!r} that is not a valid {out.dtype}; fix the data or map it "
            "with an expression or map_{old,new} in the mapping"
        )
    return out


def _null_zero_dates(series: pl.Series) -> pl.Series:
    return pl.select(
        pl.when(series.str.starts_with(ZERO_DATE)).then(None).otherwise(series).alias(series.name)
    ).to_series()


def _to_timestamp(
    series: pl.Series, ctype: CanonicalType, recipe: SideRecipe, raw: pl.DataFrame, zone: str | None
) -> pl.Series:
    name = series.name
    if series.dtype == pl.String:
        before = _null_zero_dates(series)
        series = _checked(before.str.to_datetime(time_unit="us", strict=False), before, name, recipe)
    elif series.dtype == pl.Date:
        series = series.cast(pl.Datetime("us"))
    elif not isinstance(series.dtype, pl.Datetime):
        raise RunError(
            f"entity '{recipe.entity}' ({recipe.side} side): column '{name}' is "
            f"{series.dtype}, not a date or time; declare a 'type:' or an expression"
        )
    dtype = series.dtype
    assert isinstance(dtype, pl.Datetime)
    if dtype.time_zone is None:
        series = _localize(series, recipe, raw, zone)
    series = series.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if ctype.precision == 0:
        series = series.dt.truncate("1s")
    elif ctype.precision == 3:
        series = series.dt.truncate("1ms")
    return series.alias(name)


def _localize(series: pl.Series, recipe: SideRecipe, raw: pl.DataFrame, zone: str | None) -> pl.Series:
    """Naive local times to aware ones; an ambiguous (fall-back) time is its earlier instant."""
    if zone is not None or recipe.timezone_column is None:
        return series.dt.replace_time_zone(
            zone or recipe.timezone or "UTC", ambiguous="earliest", non_existent="null"
        )
    zones = raw.get_column(recipe.timezone_column)
    result = pl.Series(series.name, [None] * len(series), dtype=pl.Datetime("us", "UTC"))
    for zone in zones.drop_nulls().unique().to_list():
        try:
            local = series.dt.replace_time_zone(zone, ambiguous="earliest", non_existent="null")
        except pl.exceptions.PolarsError:
            raise RunError(
                f"entity '{recipe.entity}' ({recipe.side} side): time zone column "
                f"'{recipe.timezone_column}' holds '{zone}', which is not an IANA "
                "time zone name"
            ) from None
        result = pl.select(
            pl.when(zones == zone).then(local.dt.convert_time_zone("UTC")).otherwise(result)
        ).to_series()
    return result.alias(series.name)
