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
# Source kinds whose decoded values are already canonical (verify/sources/columns.py): geometry in
# the form it is compared in, a SET's members sorted. Converting them again would only repeat the work.
DECODED_CANONICAL = ("geometry", "set")
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
    pad: bool = False  # a CHAR(n) column: its trailing blanks are padding, not compared
    source: str = ""  # the source kind of a plain column (verify/sources/columns.py), else ""
    key: bool = False  # a key column: joined, sorted and shown, so a shape is its text


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
        # with_columns, not select: a constant (old: "'USD'") is one value per row, not one value
        series = source.with_columns(pl.sql_expr(recipe.expr).alias("__value__")).get_column("__value__")
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
        if col.source == "varbit" and col.type.numeric:
            series = _spelt_number(series, recipe, col.name)
        if not (col.type.kind == col.source and col.source in DECODED_CANONICAL):
            series = convert(series, col.type, recipe, raw, col.name, col.timezone)
        if col.key and isinstance(series.dtype, pl.Struct):
            series = _shape_text(series)
        out.append(normalize_strings(series, ("rtrim", *col.normalize) if col.pad else col.normalize))
    return pl.DataFrame(out)


def _shape_text(series: pl.Series) -> pl.Series:
    """A geometry column, read in the form it is compared in, as its canonical WKT."""
    from verify.sources.geometry import wkt

    return pl.select(wkt(pl.lit(series)).alias(series.name)).to_series()


def _spelt_number(series: pl.Series, recipe: SideRecipe, column: str) -> pl.Series:
    """A bit varying column's bits as the number they spell, where it meets numbers."""
    from verify.sources.columns import bit_value

    try:
        return bit_value(series)
    except pl.exceptions.PolarsError:
        bad = series.filter(series.str.to_integer(base=2, strict=False).is_null() & series.is_not_null())
        raise RunError(
            f"entity '{recipe.entity}' ({recipe.side} side): column '{column}' holds the bits "
            f"'{bad[0]}', which spell no unsigned 64-bit number (compared with the other side's "
            "numbers); compare both sides as text, e.g. declare 'type: string' over a query that "
            "reads the other side's bits as text"
        ) from None


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
    if isinstance(src, pl.Struct) and ctype.kind != "geometry":  # a shape compared otherwise: its text
        series = _shape_text(series)
    try:
        if ctype.kind == "timestamp":
            return _to_timestamp(series, ctype, recipe, raw, zone)
        return _checked(_CONVERSIONS[ctype.kind](series, ctype), series, column, recipe, ctype)
    except (pl.exceptions.PolarsError, ValueError) as exc:
        raise RunError(
            f"entity '{recipe.entity}' ({recipe.side} side): column '{column}' cannot be "
            f"converted from {src} to {ctype}: {str(exc).splitlines()[0]}; "
            "declare a matching 'type:' or an expression in the mapping"
        ) from None


def _to_date(series: pl.Series, ctype: CanonicalType) -> pl.Series:
    if series.dtype == pl.String:
        series = _null_zero_dates(series).str.to_date(strict=False)
    elif isinstance(series.dtype, pl.Datetime):
        series = series.dt.date()
    return series.cast(pl.Date)


def _to_decimal(series: pl.Series, ctype: CanonicalType) -> pl.Series:
    dtype = pl.Decimal(38, ctype.scale or 0)
    if series.dtype == pl.String:
        return series.str.strip_chars().cast(dtype, strict=False)
    if series.dtype.is_float():
        return series.round(ctype.scale or 0).cast(dtype)
    return series.cast(dtype)


def _to_integer(series: pl.Series, ctype: CanonicalType) -> pl.Series:
    int_type = pl.Int64 if ctype.kind == "int" else pl.UInt64
    if series.dtype == pl.String:
        return series.str.strip_chars().cast(int_type, strict=False)
    return series.cast(int_type)


def _to_float(series: pl.Series, ctype: CanonicalType) -> pl.Series:
    out = series.cast(pl.Float64, strict=series.dtype != pl.String)
    return out.cast(pl.Float32).cast(pl.Float64) if ctype.precision == 24 else out


def _to_bool(series: pl.Series, ctype: CanonicalType) -> pl.Series:
    """Booleans as they are; text as 1/0, t/f, yes/no...; numbers 0 and 1 only (a 2 is no bool)."""
    if series.dtype == pl.Boolean:
        return series
    if series.dtype == pl.String:
        low = series.str.strip_chars().str.to_lowercase()
        out = pl.when(low.is_in(_TRUE)).then(True).when(low.is_in(_FALSE)).then(False).otherwise(None)
    else:
        number = series.cast(pl.Float64)
        out = pl.when(number == 1).then(True).when(number == 0).then(False).otherwise(None)
    return pl.select(out.alias(series.name)).to_series()


def _to_string(series: pl.Series, ctype: CanonicalType) -> pl.Series:
    return series.cast(pl.String)


def _to_binary(series: pl.Series, ctype: CanonicalType) -> pl.Series:
    return series.cast(pl.Binary)


def _to_json(series: pl.Series, ctype: CanonicalType) -> pl.Series:
    """JSON as the store's text; equal texts are equal values, and the texts that differ are
    compared as JSON values (verify/engine/jsonvalues.py), after the cheap comparison."""
    return series.cast(pl.String)


def _to_geometry(series: pl.Series, ctype: CanonicalType) -> pl.Series:
    """Shapes in the form they are compared in (verify/sources/geometry.py)."""
    from verify.sources.geometry import compared, wkb_compared, wkt_series

    return wkb_compared(series) if series.dtype == pl.Binary else compared(wkt_series(series.cast(pl.String)))


def _to_set(series: pl.Series, ctype: CanonicalType) -> pl.Series:
    from verify.sources.columns import set_members

    return set_members(series)


def _to_array(series: pl.Series, ctype: CanonicalType) -> pl.Series:
    from verify.sources.columns import text_list

    return text_list(series)


_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def _to_uuid(series: pl.Series, ctype: CanonicalType) -> pl.Series:
    """Lower-case and hyphenated, from text (with or without hyphens) or 16 bytes."""
    if series.dtype == pl.Binary:
        hexed = pl.when(series.bin.size() == 16).then(series.bin.encode("hex")).otherwise(None)
        text = pl.select(hexed.alias(series.name)).to_series()
    else:
        text = series.cast(pl.String).str.strip_chars().str.to_lowercase()
    bare = text.str.replace_all("-", "", literal=True)
    dashed = pl.concat_str(
        [
            bare.str.slice(0, 8),
            bare.str.slice(8, 4),
            bare.str.slice(12, 4),
            bare.str.slice(16, 4),
            bare.str.slice(20),
        ],
        separator="-",
    )
    out = pl.when(dashed.str.contains(_UUID)).then(dashed).otherwise(None)
    return pl.select(out.alias(series.name)).to_series()


def _to_time(series: pl.Series, ctype: CanonicalType) -> pl.Series:
    """A signed length of time in microseconds, from a duration, a time of day or text
    '[-]H:MM:SS[.ffffff]' (MySQL TIME's spelling)."""
    if isinstance(series.dtype, pl.Duration):
        return series.cast(pl.Duration("us"))
    if series.dtype == pl.Time:
        return (series.cast(pl.Int64) // 1000).cast(pl.Duration("us"))
    parts = (
        series.cast(pl.String)
        .str.strip_chars()
        .str.extract_groups(r"^(-)?(\d+):([0-5]\d):([0-5]\d)(?:\.(\d{1,6}))?$")
    )
    f = parts.struct.field
    whole = (f("2").cast(pl.Int64) * 3600 + f("3").cast(pl.Int64) * 60 + f("4").cast(pl.Int64)) * 1_000_000
    micros = whole + f("5").fill_null("0").str.pad_end(6, "0").cast(pl.Int64)
    signed = pl.when(f("1") == "-").then(-micros).otherwise(micros)
    return pl.select(signed.alias(series.name)).to_series().cast(pl.Duration("us"))


_CONVERSIONS = {
    "date": _to_date,
    "decimal": _to_decimal,
    "int": _to_integer,
    "uint": _to_integer,
    "float": _to_float,
    "bool": _to_bool,
    "string": _to_string,
    "binary": _to_binary,
    "json": _to_json,
    "geometry": _to_geometry,
    "set": _to_set,
    "array": _to_array,
    "uuid": _to_uuid,
    "time": _to_time,
}


def _checked(
    out: pl.Series, before: pl.Series, column: str, recipe: SideRecipe, ctype: CanonicalType | None = None
) -> pl.Series:
    """A conversion that turned a non-null value into null lost data: say which value."""
    if out.null_count() == before.null_count():  # conversions keep NULLs: so none was lost
        return out
    lost = before.is_not_null() & out.is_null()
    if before.dtype == pl.String:
        lost = lost & ~before.str.starts_with(ZERO_DATE)
    if lost.any():
        example = before.filter(lost)[0]
        raise RunError(
            f"entity '{recipe.entity}' ({recipe.side} side): column '{column}' has "
            f"value {example!r} that is not a valid {ctype or out.dtype}; fix the data or map it "
            "with an expression or map_{old,new} in the mapping, or declare the 'type:' it holds"
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
    # Each zone converts only its own rows: the rows in zone order, one slice per zone.
    zones = raw.get_column(recipe.timezone_column)
    order = zones.arg_sort(nulls_last=True).head(len(zones) - zones.null_count())
    runs = zones.gather(order).rle()
    times = series.gather(order)
    unit = series.dtype.time_unit  # type: ignore[attr-defined]
    parts, start = [], 0
    for length, name in runs.struct.unnest().iter_rows():
        try:
            local = times.slice(start, length).dt.replace_time_zone(
                name, ambiguous="earliest", non_existent="null"
            )
        except pl.exceptions.PolarsError:
            raise RunError(
                f"entity '{recipe.entity}' ({recipe.side} side): time zone column "
                f"'{recipe.timezone_column}' holds '{name}', which is not an IANA "
                "time zone name"
            ) from None
        parts.append(local.dt.convert_time_zone("UTC"))
        start += length
    result = pl.Series(series.name, [None] * len(series), dtype=pl.Datetime(unit, "UTC"))
    if parts:
        result = result.scatter(order, pl.concat(parts))
    return result.alias(series.name)
