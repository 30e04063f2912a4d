"""Source columns: what a database's catalog says a column holds, and how it arrives as Polars.

Each dialect turns its catalog's type of a column into a `SourceColumn`: a source *kind* (the
family-free name of what the column holds), the SQL that reads it exactly with every reader
(`select`, where a plain column would not do), and the `decode` that turns what the reader
returns into the column's raw Polars type. Everything after this point is dialect-free.

    kind         raw Polars type          read as
    int          Int64                    any integer that fits 64 bits signed (YEAR too)
    uint64       UInt64                   BIGINT UNSIGNED
    decimal      Decimal(38, scale)       native, or text parsed at the declared scale (18 where the
                                          catalog gives none); a value with more places is refused
    float        Float64
    float32      Float32                  FLOAT / real: compared at single precision
    string       String                   text, varchar, enums; CHAR(n) with `pad`
    bool         Boolean                  PostgreSQL boolean (MySQL's BOOLEAN is TINYINT(1): int)
    date         Date
    timestamp    Datetime(us)             naive: the mapping's time zone applies
    timestamptz  Datetime(us, UTC)        an instant (timestamptz, MySQL TIMESTAMP)
    binary       Binary                   BLOB, VARBINARY, BINARY(n), bytea
    json         String                   the JSON text; compared as JSON values
    geometry     Struct(x, y, wkt)        a 2D point's doubles, or any other shape's canonical WKT (from
                                          WKB, or PostgreSQL's point, path, polygon): geometry.py
    set          List(String)             MySQL SET: its members, sorted
    array        List(String)             PostgreSQL arrays: the elements as text, in order (one
                                          dimension from index 1; others fail the read)
    uuid         String                   lower-case, hyphenated
    time         Duration(us)             TIME, time, interval: a signed length of time (an
                                          interval's month is 30 days, as PostgreSQL's = has it)
    bit          UInt64                   BIT(n), bit(n): up to 64 bits
    varbit       String                   bit varying: its bits as text ('00101'), for the length is
                                          part of the value; the number they spell where it meets one
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

KINDS = (
    "int",
    "uint64",
    "decimal",
    "float",
    "float32",
    "string",
    "bool",
    "date",
    "timestamp",
    "timestamptz",
    "binary",
    "json",
    "geometry",
    "set",
    "array",
    "uuid",
    "time",
    "bit",
    "varbit",
)


@dataclass(frozen=True)
class SourceColumn:
    """One column of a side as the catalog describes it, and how verify reads it."""

    name: str
    db_type: str  # as the database spells it, for messages: "set('a','b')", "character(20)"
    kind: str  # one of KINDS, or "unsupported"
    select: str | None = None  # SQL over "{}" (the quoted column) when not read as it is
    decode: str | None = None  # the step from what the reader returns to the raw type (DECODERS)
    scale: int | None = None  # decimal: the scale it is read at
    precision: int | None = None  # decimal: its digits; times: digits of a second; None: not known
    pad: bool = False  # CHAR(n): trailing blanks are padding, not data
    why: str | None = None  # unsupported: why it cannot be read

    @property
    def supported(self) -> bool:
        return self.kind != "unsupported"

    def dtype(self) -> pl.DataType:
        """The column's raw Polars type once read and decoded."""
        import polars as pl

        from verify.sources.geometry import compared_dtype

        if self.kind == "decimal":
            return pl.Decimal(38, self.scale if self.scale is not None else 0)
        return {
            "int": pl.Int64(),
            "uint64": pl.UInt64(),
            "float": pl.Float64(),
            "float32": pl.Float32(),
            "string": pl.String(),
            "bool": pl.Boolean(),
            "date": pl.Date(),
            "timestamp": pl.Datetime("us"),
            "timestamptz": pl.Datetime("us", "UTC"),
            "binary": pl.Binary(),
            "json": pl.String(),
            "geometry": compared_dtype(),
            "set": pl.List(pl.String),
            "array": pl.List(pl.String),
            "uuid": pl.String(),
            "time": pl.Duration("us"),
            "bit": pl.UInt64(),
            "varbit": pl.String(),
        }.get(self.kind, pl.Null())

    def unsupported_message(self, entity: str, side: str) -> str:
        return (
            f"entity '{entity}' ({side} side): column '{self.name}' has type {self.db_type}, which "
            f"verify cannot read ({self.why}); add it to 'ignore:', or read that side with a "
            "'query:' that casts it to a type verify reads (text, a number, bytes)"
        )


def from_polars(name: str, dtype: pl.DataType) -> SourceColumn:
    """A column known only by the Polars type a reader gives it (SQLite, other dialects, queries)."""
    import polars as pl

    if dtype == pl.Null:
        return SourceColumn(name, "NULL", "string")
    if dtype == pl.UInt64:
        return SourceColumn(name, str(dtype), "uint64")
    if dtype.is_integer():
        return SourceColumn(name, str(dtype), "int")
    if isinstance(dtype, pl.Decimal):
        return SourceColumn(name, str(dtype), "decimal", scale=dtype.scale)
    if dtype == pl.Float32:
        return SourceColumn(name, str(dtype), "float32")
    kinds = {
        pl.Float64: "float",
        pl.String: "string",
        pl.Categorical: "string",
        pl.Boolean: "bool",
        pl.Date: "date",
        pl.Binary: "binary",
    }
    for base, kind in kinds.items():
        if dtype == base:
            return SourceColumn(name, str(dtype), kind)
    if isinstance(dtype, pl.Enum):
        return SourceColumn(name, str(dtype), "string")
    if isinstance(dtype, pl.Datetime):
        return SourceColumn(name, str(dtype), "timestamptz" if dtype.time_zone else "timestamp")
    if isinstance(dtype, pl.Duration):
        return SourceColumn(name, str(dtype), "time")
    if isinstance(dtype, pl.List):
        return SourceColumn(name, str(dtype), "array", decode="list_text")
    return SourceColumn(name, str(dtype), "unsupported", why=f"no canonical type for {dtype}")


def decode(frame: pl.DataFrame, columns: tuple[SourceColumn, ...]) -> pl.DataFrame:
    """What the reader returned, as each column's raw type (the types the plan was made with)."""
    import polars as pl

    out = []
    for col in columns:
        series = frame.get_column(col.name)
        step = DECODERS.get(col.decode or "")
        if step is not None and series.dtype != pl.Null:  # a reader's all-NULL column: no values
            series = step(series, col)
        target = col.dtype()
        if series.dtype != target:
            series = series.cast(target)
        out.append(series.alias(col.name))
    return pl.DataFrame(out, height=frame.height)


def _decimal_text(series: pl.Series, col: SourceColumn) -> pl.Series:
    """Decimal text parsed at the column's scale, which must hold every place a value has: a
    column whose catalog gives no scale (an unconstrained NUMERIC) or more than 38 digits
    could hold a value that would be rounded, and such a value is refused, never rounded."""
    import polars as pl

    if series.dtype != pl.String:
        return series
    text = series.str.strip_chars()
    scale = col.scale if col.scale is not None else 0
    if col.precision is None or col.precision > 38:
        places = text.str.extract(r"\.(\d*?)0*$").str.len_chars()
        over = (places > scale).arg_true()
        if len(over):
            value, n = text[over[0]], places[over[0]]
            raise _refused(
                col, f"{value}, with {n} decimal places; it is read at {scale}, and rounding it", _WIDER
            )
    try:
        return text.cast(pl.Decimal(38, scale))
    except pl.exceptions.InvalidOperationError:
        bad = text.filter(text.cast(pl.Decimal(38, scale), strict=False).is_null() & text.is_not_null())
        if bad[0].lower().lstrip("+-") in ("nan", "infinity", "inf"):
            raise _refused(col, f"{bad[0]}, which is no decimal", _SPECIAL) from None
        what = f"{bad[0]}, which is no decimal of 38 digits with {scale} places"
        raise _refused(col, what, _AS_TEXT) from None


_WIDER = (
    " would change the value compared: read the column through the side's `query` with a cast "
    "that holds its values exactly, e.g. CAST({name} AS NUMERIC(38,20)), or leave it out of `columns`"
)


_AS_TEXT = (
    ": read it through the side's `query` as text (a CAST to CHAR or TEXT) on both sides, which "
    "compares exactly where both print the same decimal places, or leave it out of `columns`"
)
_SPECIAL = (
    ": map it in the side's `query`, CASE WHEN {name} IN ('NaN', 'Infinity', '-Infinity') THEN NULL "
    "ELSE {name} END AS {name}, and, if those must match too, compare CASE WHEN {name} IN ('NaN', "
    "'Infinity', '-Infinity') THEN CAST({name} AS TEXT) END AS {name}_special as a column of its own"
)


def _refused(col: SourceColumn, what: str, fix: str) -> Exception:
    """A value no exact reading of the column holds: the read fails, naming it and the fix
    (`fix` may name the column as {name})."""
    from verify.errors import RunError

    return RunError(f"column {col.name} ({col.db_type}) holds {what}{fix.format(name=col.name)}")


def by_distinct(series: pl.Series, fn: Any) -> pl.Series:
    """fn of a text column, computed once per distinct text and gathered back (exact: the
    texts themselves are looked up). Columns of few distinct values (sets, codes, arrays of
    tags) are decoded in a fraction of the time; others go through fn as they are."""
    import polars as pl

    texts = series.drop_nulls().unique().sort()
    if not len(texts) or len(texts) * 4 > len(series):
        return fn(series)
    at = texts.search_sorted(series).cast(pl.UInt32).clip(0, len(texts) - 1)
    at = pl.select(pl.when(series.is_null()).then(None).otherwise(at)).to_series()
    return fn(texts).gather(at).alias(series.name)


def set_members(series: pl.Series, col: SourceColumn | None = None) -> pl.Series:
    """A set's members, sorted: from a list, or from MySQL SET text 'a,c' ('' is the empty set;
    SET members hold no comma). A member a list holds twice is kept twice: no SET holds one
    twice, so an array that does holds something the old store cannot, and differs."""
    import polars as pl

    if series.dtype == pl.String:
        return by_distinct(series, _sorted_set_text)
    distinct = series.unique()
    # list.eval: list.sort() takes seconds for a million short lists where this takes a tenth.
    members = pl.element().sort()
    if len(distinct) * 4 > len(series):
        return series.list.eval(members)
    # Few distinct lists (sets of tags): each sorted once, then looked up by the list itself.
    at = (
        series.to_frame("v")
        .join(
            distinct.to_frame("v").with_row_index("at"),
            on="v",
            how="left",
            nulls_equal=True,
            maintain_order="left",
        )
        .get_column("at")
    )
    return distinct.list.eval(members).gather(at).alias(series.name)


def _sorted_set_text(series: pl.Series) -> pl.Series:
    import polars as pl

    parts = pl.when(series == "").then(pl.lit([], pl.List(pl.String))).otherwise(series.str.split(","))
    return set_members(pl.select(parts.alias(series.name)).to_series())


def text_list(series: pl.Series, col: SourceColumn | None = None) -> pl.Series:
    """A JSON array of texts ('["a","b,c"]', as PostgreSQL's to_json gives one) to a list."""
    import polars as pl

    if isinstance(series.dtype, pl.List):
        return series.cast(pl.List(pl.String))
    return by_distinct(series, lambda texts: texts.str.json_decode(pl.List(pl.String)))


def _micros(series: pl.Series, col: SourceColumn) -> pl.Series:
    import polars as pl

    if isinstance(series.dtype, pl.Duration):
        return series
    return series.cast(pl.Int64).cast(pl.Duration("us"))


def bit_value(series: pl.Series, col: SourceColumn | None = None) -> pl.Series:
    """A bit string ('00101') to its unsigned value; wider than 64 bits cannot be one."""
    import polars as pl

    if series.dtype != pl.String:
        return series
    return series.str.to_integer(base=2, dtype=pl.UInt64, strict=True)


def _utc(series: pl.Series, col: SourceColumn) -> pl.Series:
    """A session in UTC hands instants over as naive UTC times (MySQL TIMESTAMP)."""
    import polars as pl

    dtype = series.dtype
    if isinstance(dtype, pl.Datetime) and dtype.time_zone is None:
        return series.dt.replace_time_zone("UTC")
    return series


# PostgreSQL's first day, 4714-11-24 BC, in days from 1970: no finite date or time is earlier.
_PG_FIRST_DAY = -2_440_588
_CHRONO_LAST_US = 8_210_266_876_799_999_999  # +262143-12-31 23:59:59.999999, Rust's latest time


def _finite(series: pl.Series, col: SourceColumn) -> pl.Series:
    """PostgreSQL dates and times, which must be finite. The readers hand 'infinity' and
    '-infinity' over as times no finite value has: ADBC as times some 292,000 years before 1970
    (its epoch shift wraps), ConnectorX as Rust's earliest and latest times (psycopg refuses
    them, as ConnectorX does infinite dates). Such a value is refused, not compared."""
    import polars as pl

    if isinstance(series.dtype, pl.Datetime):
        per_us = {"ms": 10**-3, "us": 1, "ns": 10**3}[series.dtype.time_unit]
        first, last = _PG_FIRST_DAY * 86_400 * 10**6 * per_us, _CHRONO_LAST_US * per_us
    elif series.dtype == pl.Date:  # an infinite date comes as the far past, or not at all
        first, last = _PG_FIRST_DAY, _CHRONO_LAST_US // (86_400 * 10**6) + 1
    else:
        return series
    physical = series.to_physical()
    earliest, latest = physical.min(), physical.max()
    if earliest is None or (earliest >= first and latest < last):  # type: ignore[operator]
        return series
    what = "date" if series.dtype == pl.Date else "time"
    raise _refused(
        col, f"infinity or -infinity (or a {what} after the year 262143, which no reader holds)", _FINITE
    )


_FINITE = (
    ", which is no time to compare: map it in the side's `query`, e.g. CASE WHEN isfinite({name}) "
    "THEN {name} ELSE '9999-12-31' END, and a rule can then accept what the old store holds there"
)


def _wkb(series: pl.Series, col: SourceColumn) -> pl.Series:
    from verify.sources.geometry import wkb_compared

    return wkb_compared(series)


def _pg_geometric(series: pl.Series, col: SourceColumn) -> pl.Series:
    from verify.sources.geometry import pg_geometric_series

    return pg_geometric_series(series, col.db_type, compare=True)


DECODERS: dict[str, Any] = {
    "decimal_text": _decimal_text,
    "set_text": set_members,
    "list_text": text_list,
    "micros": _micros,
    "bits": bit_value,
    "utc": _utc,
    "finite": _finite,
    "wkb": _wkb,
    "pg_geometric": _pg_geometric,
}
