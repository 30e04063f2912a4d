"""Plan a run: hold each entity against both live schemas, fix canonical types, cut segments."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from verify.engine import checksum
from verify.engine.checksum import ChecksumSQL, checksum_sql
from verify.engine.compare import ColumnCheck
from verify.engine.normalize import (
    IDENTIFIER,
    ColumnRecipe,
    SideRecipe,
    canonicalize,
    convert,
    evaluate,
    root_names,
)
from verify.engine.rules import PlannedRule, plan_rules, rule_problems
from verify.engine.subset import Subset, cohort_problem, sample_sql
from verify.errors import MappingError, RunError, SourceError, UsageError
from verify.mapping.model import Entity, Mapping
from verify.mapping.types import CanonicalType
from verify.sources.base import Reader

SIDES = ("old", "new")


@dataclass(frozen=True)
class SideQuery:
    """How to read one side: the select list and source; bounds are added per segment."""

    select: tuple[str, ...]
    table: str | None
    query: str | None
    where: str | None
    partition_sql: str | None  # the partition column as written in bounds
    partition_bytes: bool = False  # string partition: bound by byte order
    decimal_text: tuple[tuple[str, int], ...] = ()  # decimals read as text, and their scale
    sample: str | None = None  # the key-hashed sample as a condition (see engine/subset.py)


@dataclass(frozen=True)
class Segment:
    """A key range [lo, hi) of one entity's partition column; None is unbounded.

    A re-check (`--only-previous-mismatches`) narrows a segment to the partition `values`
    listed (SQL `IN`) and to exactly the canonical `keys` (a Polars frame) inside it.
    """

    entity: str
    index: int
    lo: Any = None
    hi: Any = None
    values: tuple[Any, ...] | None = None
    ranges: tuple[tuple[int, int], ...] | None = None  # checksums: only these [a, b) within it
    keys: Any = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class EntityPlan:
    """Everything a worker needs to diff a segment of one entity; picklable."""

    name: str
    keys: tuple[str, ...]
    checks: tuple[ColumnCheck, ...]
    types: dict[str, str]
    queries: dict[str, SideQuery]
    recipes: dict[str, SideRecipe]
    segments: tuple[Segment, ...]
    rules: tuple[PlannedRule, ...] = ()
    partition: str | None = None
    notes: tuple[str, ...] = ()
    # Per side, the SQL that renders rows for checksums; None when some column cannot be
    # rendered exactly in SQL (`checksum_notes` say which and why): then rows are read.
    checksum: dict[str, ChecksumSQL] | None = None
    checksum_notes: tuple[str, ...] = ()
    checksum_width: int | None = None  # partition width of a checksum bucket (~LEAF_ROWS rows)
    subset: Subset | None = None  # only these rows are compared (sample, cohort)


def _kind_of(dtype: pl.DataType) -> str:
    if dtype == pl.Null:
        return "null"
    if dtype.is_unsigned_integer():
        return "uint64" if dtype == pl.UInt64 else "uint"
    if dtype.is_integer():
        return "int"
    if isinstance(dtype, pl.Decimal):
        return "decimal"
    if dtype.is_float():
        return "float"
    if dtype in (pl.String, pl.Categorical) or isinstance(dtype, pl.Enum):
        return "string"
    if dtype == pl.Boolean:
        return "bool"
    if dtype == pl.Date:
        return "date"
    if isinstance(dtype, pl.Datetime):
        return "timestamp"
    return str(dtype)


def infer_type(old: pl.DataType, new: pl.DataType) -> CanonicalType | None:
    """The canonical type two sides' types meet at, or None when the mapping must declare one."""
    a, b = _kind_of(old), _kind_of(new)
    if a == "null":
        a = b
    if b == "null":
        b = a
    pair = {a, b}
    scale = max((d.scale or 0) for d in (old, new) if isinstance(d, pl.Decimal)) if "decimal" in pair else 0
    if pair <= {"int", "uint"}:
        return CanonicalType("int")
    if pair == {"uint64"}:
        return CanonicalType("uint")
    if pair <= {"int", "uint", "uint64", "decimal"}:
        return CanonicalType("decimal", 38, scale)
    if pair <= {"int", "uint", "float"}:
        return CanonicalType("float")
    if pair <= {"bool", "int", "uint"} and "bool" in pair:
        return CanonicalType("bool")
    if len(pair) == 1 and a in ("string", "bool", "date", "timestamp", "float"):
        return CanonicalType(a, 6 if a == "timestamp" else None)
    return None


def plan_entity(
    entity: Entity,
    readers: dict[str, Reader],
    mapping: Mapping,
    segment_rows: int,
    today: dt.date | None = None,
    segments: tuple[Segment, ...] | None = None,
    subset: Subset | None = None,
) -> EntityPlan:
    """Resolve one entity against the live schemas; raises MappingError with every problem.

    `today` (default: the UTC date) decides which waivers have expired; `segments`, when given,
    are used as they are (a resumed run keeps the segments it started with). With a `subset`,
    only its rows are compared: the sample goes into the SQL where the key allows.
    """
    problems: list[tuple[int | None, str]] = []
    where = f"entity '{entity.name}'"
    raw: dict[str, pl.DataFrame] = {}
    for side in SIDES:
        s = entity.side(side)
        sql = readers[side].dialect.select(["*"], s.table, s.query, [s.where] if s.where else [])
        try:
            raw[side] = pl.DataFrame(schema=readers[side].schema(sql))
        except SourceError as exc:
            raise SourceError(_unreadable(entity, side, readers[side], exc), exc.url_masked) from None
    wide = {side: _wide_decimals(entity.side(side), readers[side], raw[side]) for side in SIDES}
    for side in SIDES:
        if wide[side]:
            raw[side] = raw[side].with_columns(
                pl.col(c).cast(pl.Decimal(38, s)) for c, s in wide[side].items()
            )

    def lookup(side: str, name: str) -> str | None:
        """A raw column by name; exact first, then ignoring case (PostgreSQL folds names)."""
        cols = raw[side].columns
        if name in cols:
            return name
        folded = [c for c in cols if c.lower() == name.lower()]
        return folded[0] if len(folded) == 1 else None

    def missing(side: str, name: str, line: int) -> None:
        cols = raw[side].columns
        shown = ", ".join(cols[:25]) + (f", … ({len(cols)} in all)" if len(cols) > 25 else "")
        problems.append(
            (
                line,
                f"unknown column '{name}' in {where} ({side} side, "
                f"{entity.side(side).source_name}); columns there: {shown}",
            )
        )

    # Canonical columns: (name, old expr, new expr, declared type, column spec or None)
    specs: list[tuple[str, str, str, CanonicalType | None, Any]] = []
    for k in entity.key:
        specs.append((k.name, k.old, k.new, k.type, None))
    if entity.all_shared:
        key_raw = {(k.old.lower(), k.new.lower()) for k in entity.key}
        key_cols = {c for pair in key_raw for c in pair}
        new_lower = {c.lower(): c for c in raw["new"].columns}
        for c in raw["old"].columns:
            if c.lower() in new_lower and c.lower() not in key_cols and c not in entity.ignore:
                specs.append((c, c, new_lower[c.lower()], None, None))
        for name in entity.ignore:
            if lookup("old", name) is None and lookup("new", name) is None:
                missing("old", name, entity.line)
    else:
        for col in entity.columns:
            specs.append((col.name, col.old, col.new, col.type, col))

    # Resolve raw names and check every referenced column exists.
    resolved: list[tuple[str, dict[str, str], CanonicalType | None, Any]] = []
    key_lines = {k.name: k.line for k in entity.key}
    needed: dict[str, list[str]] = {"old": [], "new": []}
    for name, old_expr, new_expr, ctype, spec in specs:
        exprs = {}
        line = spec.line if spec is not None else key_lines.get(name) or entity.line
        for side, text in (("old", old_expr), ("new", new_expr)):
            roots = root_names(text)
            for r in roots:
                real = lookup(side, r)
                if real is None:
                    missing(side, r, line)
                elif real not in needed[side]:
                    needed[side].append(real)
            exprs[side] = lookup(side, text) or text if IDENTIFIER.match(text) else text
        resolved.append((name, exprs, ctype, spec))
    for side in SIDES:
        tz_col = entity.side(side).timezone_column
        if tz_col:
            real = lookup(side, tz_col)
            if real is None:
                missing(side, tz_col, entity.line)
            elif real not in needed[side]:
                needed[side].append(real)
    if problems:
        raise MappingError(mapping.path, problems)

    # Canonical types: declared, or where both sides' types meet.
    recipes: dict[str, list[ColumnRecipe]] = {"old": [], "new": []}
    types: dict[str, str] = {}
    for name, exprs, ctype, spec in resolved:
        out_types = {}
        for side in SIDES:
            probe = ColumnRecipe(
                name,
                exprs[side],
                ctype or CanonicalType("string"),
                spec.value_map(side) if spec is not None else None,
            )
            try:
                out_types[side] = evaluate(raw[side].select(needed[side]), probe).dtype
            except Exception as exc:  # noqa: BLE001 - polars reports bad SQL in several types
                problems.append(
                    (
                        spec.line if spec else entity.line,
                        f"{where} column '{name}' ({side} side): expression "
                        f"'{exprs[side]}' fails: {str(exc).splitlines()[0]}",
                    )
                )
        if len(out_types) < 2:
            continue
        if ctype is None:
            ctype = infer_type(out_types["old"], out_types["new"])
            if ctype is None:
                problems.append(
                    (
                        spec.line if spec else entity.line,
                        f"{where} column '{name}': old side is {out_types['old']}, new side "
                        f"is {out_types['new']}; declare the canonical 'type:' (one of int, "
                        "decimal(P,S), float, string, bool, date, timestamp(0|3|6))",
                    )
                )
                continue
        types[name] = str(ctype)
        for side in SIDES:
            value_map = spec.value_map(side) if spec is not None else None
            bad = _unfit_map_target(value_map, ctype)
            if bad is not None:
                problems.append(
                    (
                        spec.line if spec else entity.line,
                        f"{where} column '{name}': map_{side} maps to {bad!r}, which is not a "
                        f"valid {ctype}; change the map's value or the column's 'type:'",
                    )
                )
            recipes[side].append(
                ColumnRecipe(
                    name,
                    exprs[side],
                    ctype,
                    value_map,
                    spec.normalize if spec is not None else (),
                    spec.timezone if spec else None,
                )
            )
    if problems:
        raise MappingError(mapping.path, problems)

    keys = entity.key_names
    checks = (
        tuple(ColumnCheck(c.name, c.tolerance) for c in entity.columns)
        if not entity.all_shared
        else tuple(ColumnCheck(name) for name, *_ in specs[len(keys) :])
    )
    side_recipes = {
        side: SideRecipe(
            side,
            entity.name,
            tuple(recipes[side]),
            entity.side(side).timezone,
            entity.side(side).timezone_column,
        )
        for side in SIDES
    }
    canonical = canonicalize(raw["old"], side_recipes["old"]).schema
    problems = [(line, f"{where} {text}") for line, text in rule_problems(entity.rules, canonical, keys)]
    if problems:
        raise MappingError(mapping.path, problems)
    partition, queries, notes = _partition(entity, raw, readers, needed, wide, lookup)
    problem = cohort_problem(subset, entity.name, list(types))
    if problem:
        raise UsageError(problem)
    if subset is not None and subset.fraction is not None:
        queries, segment_rows, note = _push_sample(
            entity, subset, raw, readers, queries, lookup, segment_rows
        )
        notes = (*notes, note)
    tolerant = {c.name for c in checks if c.tolerance is not None}
    renderings = {
        side: checksum_sql(side_recipes[side], len(keys), raw[side].schema, readers[side].dialect, tolerant)
        for side in SIDES
    }
    checksum_notes = tuple(why for side in SIDES for why in renderings[side][1])
    if partition is None or queries["old"].partition_bytes:
        checksum_notes += ("segments are not ranges of an integer key column",)
    if subset is not None:
        checksum_notes += ("a sample or cohort is compared: it is chosen among rows, not ranges",)
    rendered = {side: r for side, (r, _) in renderings.items() if r is not None}
    if segments is None:
        segments = _segments(entity.name, partition, queries, readers, segment_rows)
    return EntityPlan(
        name=entity.name,
        keys=keys,
        checks=checks,
        types=types,
        queries=queries,
        recipes=side_recipes,
        segments=segments,
        rules=plan_rules(entity.rules, today or dt.datetime.now(dt.UTC).date()),
        partition=partition,
        notes=notes,
        checksum=rendered if len(rendered) == 2 and not checksum_notes else None,
        checksum_notes=checksum_notes,
        checksum_width=_bucket_width(segments, segment_rows),
        subset=subset,
    )


def _bucket_width(segments: tuple[Segment, ...], segment_rows: int) -> int | None:
    """Integer segments are equally wide: a bucket is the part of one that holds ~LEAF_ROWS rows."""
    bounds = [s.hi for s in segments[:-1]]
    if len(bounds) < 2 or not all(isinstance(b, int) for b in bounds):
        return None
    return max(1, (bounds[1] - bounds[0]) * checksum.LEAF_ROWS // max(segment_rows, 1))


def _unreadable(entity: Entity, side: str, reader: Reader, exc: SourceError) -> str:
    """Why a side of an entity cannot be read, in the database's words, and what to change."""
    s = entity.side(side)
    reason = exc.reason or str(exc)
    said = reason.lower()
    if "denied" in said:
        fix = "grant the URL's user SELECT on it (verify only reads)"
    elif s.table and any(w in said for w in ("doesn't exist", "does not exist", "no such table")):
        fix = "check 'table:' in the mapping, and the database (and schema) in the URL"
    elif any(w in said for w in ("url parameter", "connection string")):
        fix = "check the URL's parameters (or read with --reader sqlalchemy)"
    else:
        parts = [f"'{k}:'" for k in ("table", "query", "where") if getattr(s, k)]
        fix = f"check {' and '.join(parts)} of that side in the mapping, and the URL"
    what = f"table {s.table}" if s.table else "its query"
    return (
        f"entity '{entity.name}' ({side} side): cannot read {what} from {reader.masked_url}: {reason}; {fix}"
    )


def _push_sample(
    entity: Entity,
    subset: Subset,
    raw: dict[str, pl.DataFrame],
    readers: dict[str, Reader],
    queries: dict[str, SideQuery],
    lookup: Any,
    segment_rows: int,
) -> tuple[dict[str, SideQuery], int, str]:
    """Put the sample into both sides' SQL when every key column is an integer on both sides.

    Segments then hold `segment_rows` sampled rows. Otherwise every row is read and the sample
    is taken after canonicalization (worker), by the same hash.
    """
    assert subset.fraction is not None
    columns = {s: [lookup(s, k.on(s)) for k in entity.key] for s in SIDES}
    integer = all(_kind_of(raw[s].schema[c]) in ("int", "uint", "uint64") for s in SIDES for c in columns[s])
    conds = {
        s: sample_sql(subset, [readers[s].dialect.quote(c) for c in columns[s]], readers[s].dialect)
        for s in SIDES
    }
    share = f"sampled {subset.fraction:g} of '{entity.name}' keys (seed {subset.seed})"
    if not integer or None in conds.values():
        return queries, segment_rows, f"{share} after reading every row (the key is not integer in SQL)"
    pushed = {s: dataclasses.replace(q, sample=conds[s]) for s, q in queries.items()}
    return pushed, math.ceil(segment_rows / subset.fraction), f"{share} in the sources' SQL"


def _unfit_map_target(pairs: tuple[tuple[Any, Any], ...] | None, ctype: CanonicalType) -> Any:
    """The first value a value map produces that its column's canonical type cannot hold, or
    None (a map may produce NULL, which every type holds)."""
    recipe = SideRecipe("", "", ())
    for _, target in pairs or ():
        if target is None:
            continue
        try:
            convert(pl.Series("v", [target]), ctype, recipe, pl.DataFrame(), "v", zone="UTC")
        except (RunError, pl.exceptions.PolarsError):
            return target
    return None


def _wide_decimals(side: Any, reader: Reader, raw: pl.DataFrame) -> dict[str, int]:
    """Decimal columns that travel as text, with their scale.

    Arrow readers fetch every DECIMAL at scale 10 in 96 bits: digits past the tenth decimal
    would be rounded away and values near 2^63 (BIGINT UNSIGNED as NUMERIC(20,0)) would not
    fit. Such columns are read as text and parsed at their declared scale instead. So is every
    PostgreSQL NUMERIC: ConnectorX decodes it value by value, which costs more client CPU
    than Polars parsing its text (0.8-1.1 s against 0.6 s for two columns of 1M rows).
    """
    decimals = [c for c, t in raw.schema.items() if isinstance(t, pl.Decimal)]
    d = reader.dialect
    if not decimals or d.family not in ("mysql", "postgres"):
        return {}
    declared: dict[str, tuple[int | None, int | None]] = {}
    if side.table is not None:
        schema, _, name = side.table.rpartition(".")
        where_schema = (
            d.literal(schema) if schema else ("DATABASE()" if d.family == "mysql" else "current_schema()")
        )
        sql = (
            "SELECT column_name, numeric_precision, numeric_scale FROM information_schema.columns "
            f"WHERE table_schema = {where_schema} AND table_name = {d.literal(name)}"
        )
        for name_, p, s in reader.read(sql).iter_rows():
            declared[str(name_).lower()] = (p, s)
    wide = {}
    for c in decimals:
        p, s = declared.get(c.lower(), (None, None))
        if d.family == "postgres" or p is None or s is None or s > 10 or p - s > 18:
            wide[c] = min(int(s), 38) if s is not None else 18
    return wide


def _partition(
    entity: Entity,
    raw: dict[str, pl.DataFrame],
    readers: dict[str, Reader],
    needed: dict[str, list[str]],
    wide: dict[str, dict[str, int]],
    lookup: Any,
) -> tuple[str | None, dict[str, SideQuery], tuple[str, ...]]:
    """Pick the key column that bounds segments (integer or string on both sides) and the SQL."""
    partition = None
    notes: tuple[str, ...] = ()
    candidates = [k for k in entity.key if entity.segment_by in (None, k.name)]
    for k in candidates:
        kinds = {_kind_of(raw[s].schema[lookup(s, k.on(s))]) for s in SIDES}
        if kinds <= {"int", "uint", "uint64"} or kinds == {"string"}:
            partition = k
            break
    if partition is None:
        what = f"key column '{entity.segment_by}' is" if entity.segment_by else "no key column is"
        notes = (f"{what} integer or string on both sides: '{entity.name}' is read as one segment",)
    queries = {}
    for side in SIDES:
        s = entity.side(side)
        dialect = readers[side].dialect
        select = []
        for c in needed[side]:
            dtype = raw[side].schema[c]
            q = dialect.quote(c)
            if dtype == pl.Date or isinstance(dtype, pl.Datetime):
                q = f"{dialect.guard_temporal(q)} AS {dialect.quote(c)}"
            elif c in wide[side]:
                q = f"{dialect.as_text(q)} AS {dialect.quote(c)}"
            select.append(q)
        part_sql, as_bytes = None, False
        if partition is not None:
            col = lookup(side, partition.on(side))
            as_bytes = raw[side].schema[col] == pl.String
            part_sql = dialect.quote(col)
            if as_bytes:
                part_sql = dialect.byte_order(part_sql)
        queries[side] = SideQuery(
            tuple(select),
            s.table,
            s.query,
            s.where,
            part_sql,
            as_bytes,
            tuple((c, sc) for c, sc in wide[side].items() if c in needed[side]),
        )
    return (partition.name if partition else None), queries, notes


def _segments(
    entity: str,
    partition: str | None,
    queries: dict[str, SideQuery],
    readers: dict[str, Reader],
    segment_rows: int,
) -> tuple[Segment, ...]:
    """Cut the partition column's range so each segment holds about `segment_rows` rows."""
    if partition is None:
        return (Segment(entity, 0),)

    def stats(side: str) -> tuple[Any, ...]:
        q, d = queries[side], readers[side].dialect
        assert q.partition_sql
        conds = [q.where] if q.where else []
        n = _estimated_rows(q, readers[side])
        if n is None:
            (n,) = readers[side].row(d.select(["COUNT(*)"], q.table, q.query, conds))
        if not n:  # MIN of nothing is NULL, whose type some readers cannot tell
            return None, None, 0
        lo, hi = readers[side].row(
            d.select([f"MIN({q.partition_sql})", f"MAX({q.partition_sql})"], q.table, q.query, conds)
        )
        return lo, hi, n

    with ThreadPoolExecutor(2) as pool:
        (lo_o, hi_o, n_o), (lo_n, hi_n, n_n) = pool.map(stats, SIDES)
    rows = max(int(n_o or 0), int(n_n or 0))
    count = math.ceil(rows / segment_rows)
    if count <= 1 or not (n_o or n_n):
        return (Segment(entity, 0),)
    if queries["old"].partition_bytes:
        side = "old" if n_o else "new"
        bounds = _sampled_bounds(queries[side], readers[side], count, int(n_o or n_n or 0))
    else:
        lows = [int(v) for v in (lo_o, lo_n) if v is not None]
        highs = [int(v) for v in (hi_o, hi_n) if v is not None]
        lo, hi = min(lows), max(highs)
        width = max(1, math.ceil((hi - lo + 1) / count))
        bounds = [lo + i * width for i in range(1, count) if lo + i * width <= hi]
    edges: list[Any] = [None, *bounds, None]
    return tuple(Segment(entity, i, edges[i], edges[i + 1]) for i in range(len(edges) - 1))


def _estimated_rows(query: SideQuery, reader: Reader) -> int | None:
    """The catalog's row estimate of a whole table (enough to size segments), or None.

    Counting a large table costs a full scan; the estimate only decides how many segments
    there are, never which rows are compared.
    """
    if query.table is None or query.where:
        return None
    d = reader.dialect
    schema, _, name = query.table.rpartition(".")
    try:
        if d.family == "mysql":
            where_schema = d.literal(schema) if schema else "DATABASE()"
            (n,) = reader.row(
                "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE "
                f"TABLE_SCHEMA = {where_schema} AND TABLE_NAME = {d.literal(name)}"
            )
        elif d.family == "postgres":
            (n,) = reader.row(
                f"SELECT reltuples::bigint FROM pg_class WHERE oid = "
                f"{d.literal(d.table(query.table))}::regclass"
            )
        else:
            return None
    except Exception:  # noqa: BLE001 - no estimate is fine: count instead
        return None
    return int(n) if n is not None and int(n) > 0 else None


def _sampled_bounds(query: SideQuery, reader: Reader, count: int, rows: int) -> list[Any]:
    """String keys: bounds at the quantiles (byte order) of a random sample of the old side."""
    d = reader.dialect
    want = count * 64
    fraction = min(1.0, want / max(rows, 1))
    random = {
        "mysql": "RAND()",
        "postgres": "random()",
        "sqlite": "(abs(random()) / 9223372036854775807.0)",
    }.get(d.family, "RAND()")
    conds = [query.where] if query.where else []
    if fraction < 1.0:
        conds.append(f"{random} < {fraction!r}")
    assert query.partition_sql
    sample = reader.read(d.select([f"{query.partition_sql} AS k"], query.table, query.query, conds))
    values = sample.get_column("k").drop_nulls().sort().to_list()
    picks = sorted({values[(i * len(values)) // count] for i in range(1, count)} if values else set())
    return picks


def segment_sql(query: SideQuery, segment: Segment, dialect: Any, columns: list[str] | None = None) -> str:
    """The SELECT for one side of one segment: the side's filter and the segment's key range.

    The first segment (no lower bound) also holds the rows whose partition value is NULL.
    """
    conds = [query.where] if query.where else []
    if query.partition_sql is not None:
        p = query.partition_sql
        if segment.lo is not None:
            conds.append(f"{p} >= {dialect.literal(segment.lo)}")
        if segment.hi is not None:
            below = f"{p} < {dialect.literal(segment.hi)}"
            conds.append(below if segment.lo is not None else f"{below} OR {p} IS NULL")
        if segment.values:
            conds.append(
                f"{query.partition_sql} IN ({', '.join(dialect.literal(v) for v in segment.values)})"
            )
        if segment.ranges:
            conds.append(" OR ".join(f"({p} >= {a} AND {p} < {b})" for a, b in segment.ranges))
    if query.sample is not None:
        conds.append(query.sample)
    return dialect.select(columns or list(query.select), query.table, query.query, conds)
