"""Plan a run: hold each entity against both live schemas, fix canonical types, cut segments."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from verify.engine.checksum import ChecksumSQL, checksum_sql
from verify.engine.compare import ColumnCheck
from verify.engine.meet import infer_type, kind_of
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
from verify.engine.segments import Segment, SideQuery, bucket_width, cut_segments
from verify.engine.subset import Subset, cohort_problem, sample_sql
from verify.errors import MappingError, RunError, SourceError, UsageError
from verify.mapping.model import Column, Entity, Mapping
from verify.mapping.types import CHOICES, CanonicalType
from verify.sources.base import Reader
from verify.sources.columns import SourceColumn
from verify.sources.geometry import compared_dtype

SIDES = ("old", "new")


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
    type_notes: tuple[str, ...] = ()  # how columns of particular types are compared (verify check)
    unpaired: dict[str, tuple[str, ...]] = field(default_factory=dict)  # "*": columns of one side only


class _Catalog:
    """One side's columns, as its database's catalog describes them."""

    def __init__(self, entity: Entity, side: str, reader: Reader) -> None:
        self.entity, self.side, self.reader = entity, side, reader
        try:
            self.columns = {c.name: c for c in reader.dialect.columns(reader, entity.side(side))}
        except SourceError as exc:
            raise SourceError(_unreadable(entity, side, reader, exc), exc.url_masked) from None
        self.needed: list[str] = []

    def lookup(self, name: str) -> str | None:
        """A column by name; exact first, then ignoring case (PostgreSQL folds names)."""
        if name in self.columns:
            return name
        folded = [c for c in self.columns if c.lower() == name.lower()]
        return folded[0] if len(folded) == 1 else None

    def need(self, name: str, line: int, problems: list[tuple[int | None, str]]) -> str | None:
        """The real name of a column the mapping reads, or None after saying why it cannot be."""
        real = self.lookup(name)
        if real is None:
            cols = list(self.columns)
            shown = ", ".join(cols[:25]) + (f", … ({len(cols)} in all)" if len(cols) > 25 else "")
            problems.append(
                (
                    line,
                    f"unknown column '{name}' in entity '{self.entity.name}' ({self.side} side, "
                    f"{self.entity.side(self.side).source_name}); columns there: {shown}",
                )
            )
            return None
        if not self.columns[real].supported:
            problems.append((line, self.columns[real].unsupported_message(self.entity.name, self.side)))
            return None
        if real not in self.needed:
            self.needed.append(real)
        return real

    def frame(self) -> pl.DataFrame:
        """The needed columns, typed and empty: what expressions are tried on."""
        return pl.DataFrame(schema={c: self.columns[c].dtype() for c in self.needed})

    def read_columns(self) -> tuple[SourceColumn, ...]:
        return tuple(self.columns[c] for c in self.needed)


@dataclass
class _Spec:
    """A canonical column being planned: its expression per side and what the mapping says."""

    name: str
    exprs: dict[str, str]
    ctype: CanonicalType | None
    column: Column | None
    line: int
    key: bool = False

    def value_map(self, side: str) -> tuple[tuple[Any, Any], ...] | None:
        return self.column.value_map(side) if self.column is not None else None


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
    catalogs = {side: _Catalog(entity, side, readers[side]) for side in SIDES}
    problems: list[tuple[int | None, str]] = []
    specs = _specs(entity, catalogs, problems)
    unpaired = _unpaired(entity, catalogs) if entity.all_shared else {}
    if problems:
        raise MappingError(mapping.path, problems)
    raw = {side: catalogs[side].frame() for side in SIDES}
    recipes, types, type_notes = _recipes(entity, specs, catalogs, raw, problems)
    if problems:
        raise MappingError(mapping.path, problems)
    keys = entity.key_names
    checks = tuple(
        ColumnCheck(s.name, s.column.tolerance if s.column else None, CanonicalType.parse(types[s.name]).kind)
        for s in specs[len(keys) :]
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
    # Rules see the rows as they are shown: a shape as its text (it is compared in another form).
    shown = canonicalize(raw["old"], side_recipes["old"]).schema
    canonical = pl.Schema({c: pl.String() if t == compared_dtype() else t for c, t in shown.items()})
    problems += [
        (line, f"entity '{entity.name}' {text}")
        for line, text in rule_problems(entity.rules, canonical, keys)
    ]
    if problems:
        raise MappingError(mapping.path, problems)
    partition, queries, notes = _partition(entity, catalogs)
    type_notes = (*_key_notes(entity, catalogs), *type_notes)
    problem = cohort_problem(subset, entity.name, list(types))
    if problem:
        raise UsageError(problem)
    if subset is not None and subset.fraction is not None:
        queries, segment_rows, note = _push_sample(entity, subset, catalogs, queries, segment_rows)
        notes = (*notes, note)
    rendered, checksum_notes = _checksums(entity, catalogs, side_recipes, checks, queries, partition, subset)
    if segments is None:
        segments = cut_segments(entity.name, partition, queries, readers, segment_rows)
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
        checksum=rendered,
        checksum_notes=checksum_notes,
        checksum_width=bucket_width(segments, segment_rows),
        subset=subset,
        type_notes=type_notes,
        unpaired=unpaired,
    )


def _specs(
    entity: Entity, catalogs: dict[str, _Catalog], problems: list[tuple[int | None, str]]
) -> list[_Spec]:
    """The key columns, then the compared ones (listed, or every shared name for "*"), with the
    raw columns each reads found in the catalogs."""
    key_lines = {k.name: k.line for k in entity.key}
    specs = [
        _Spec(k.name, {"old": k.old, "new": k.new}, k.type, None, key_lines[k.name], key=True)
        for k in entity.key
    ]
    if entity.all_shared:
        key_cols = {c.lower() for k in entity.key for c in (k.old, k.new)}
        new_lower = {c.lower(): c for c in catalogs["new"].columns}
        for c in catalogs["old"].columns:
            if c.lower() in new_lower and c.lower() not in key_cols and c not in entity.ignore:
                specs.append(_Spec(c, {"old": c, "new": new_lower[c.lower()]}, None, None, entity.line))
        for name in entity.ignore:
            if catalogs["old"].lookup(name) is None and catalogs["new"].lookup(name) is None:
                catalogs["old"].need(name, entity.line, problems)  # says it is unknown
    else:
        specs += [_Spec(c.name, {"old": c.old, "new": c.new}, c.type, c, c.line) for c in entity.columns]
    for spec in specs:
        for side in SIDES:
            text = spec.exprs[side]
            reals = [catalogs[side].need(r, spec.line, problems) for r in root_names(text)]
            if IDENTIFIER.match(text) and reals[0] is not None:
                spec.exprs[side] = reals[0]
    for side in SIDES:
        tz_col = entity.side(side).timezone_column
        if tz_col:
            catalogs[side].need(tz_col, entity.line, problems)
    return specs


def _unpaired(entity: Entity, catalogs: dict[str, _Catalog]) -> dict[str, tuple[str, ...]]:
    """With `columns: "*"`, the columns each side has that the other has not, by name (keys and
    ignored columns aside): a renamed column would otherwise go uncompared, unsaid."""
    names = {side: {c.lower(): c for c in catalogs[side].columns} for side in SIDES}
    skip = {c.lower() for k in entity.key for c in (k.old, k.new)} | {c.lower() for c in entity.ignore}
    skip |= {(entity.side(s).timezone_column or "").lower() for s in SIDES}
    out = {}
    for side, other in (("old", "new"), ("new", "old")):
        only = tuple(c for low, c in names[side].items() if low not in names[other] and low not in skip)
        if only:
            out[side] = only
    return out


def _recipes(
    entity: Entity,
    specs: list[_Spec],
    catalogs: dict[str, _Catalog],
    raw: dict[str, pl.DataFrame],
    problems: list[tuple[int | None, str]],
) -> tuple[dict[str, list[ColumnRecipe]], dict[str, str], tuple[str, ...]]:
    """Each column's canonical type (declared, or where both sides' types meet) and its recipes."""
    where = f"entity '{entity.name}'"
    recipes: dict[str, list[ColumnRecipe]] = {"old": [], "new": []}
    types: dict[str, str] = {}
    notes: list[str] = []
    for spec in specs:
        kinds: dict[str, str] = {}
        scales: list[int] = []
        for side in SIDES:
            probe = ColumnRecipe(
                spec.name, spec.exprs[side], spec.ctype or CanonicalType("string"), spec.value_map(side)
            )
            try:
                dtype = evaluate(raw[side], probe).dtype
            except Exception as exc:  # noqa: BLE001 - polars reports bad SQL in several types
                problems.append(
                    (
                        spec.line,
                        f"{where} column '{spec.name}' ({side} side): expression "
                        f"'{spec.exprs[side]}' fails: {str(exc).splitlines()[0]}",
                    )
                )
                continue
            source = catalogs[side].columns.get(spec.exprs[side])
            plain = source is not None and not spec.value_map(side)
            kinds[side] = source.kind if plain and source is not None else kind_of(dtype)
            if isinstance(dtype, pl.Decimal):
                scales.append(dtype.scale or 0)
        if len(kinds) < 2:
            continue
        ctype = spec.ctype or infer_type(kinds["old"], kinds["new"], max(scales, default=0))
        if ctype is None:
            shown = {
                s: catalogs[s].columns[spec.exprs[s]].db_type
                if spec.exprs[s] in catalogs[s].columns
                else kinds[s]
                for s in SIDES
            }
            problems.append(
                (
                    spec.line,
                    f"{where} column '{spec.name}': old side is {shown['old']}, new side is "
                    f"{shown['new']}; {_advice(kinds['old'], kinds['new'])}",
                )
            )
            continue
        if (
            spec.column is not None
            and spec.column.tolerance is not None
            and not (ctype.numeric or ctype.kind == "geometry")
        ):
            problems.append(
                (
                    spec.line,
                    f"{where} column '{spec.name}': a tolerance applies to numbers and geometry, "
                    f"not to {ctype}; remove it",
                )
            )
        types[spec.name] = str(ctype)
        for side in SIDES:
            source = catalogs[side].columns.get(spec.exprs[side])
            recipes[side].append(_side_recipe(where, spec, side, ctype, source, problems, notes))
    return recipes, types, tuple(notes)


def _side_recipe(
    where: str,
    spec: _Spec,
    side: str,
    ctype: CanonicalType,
    source: SourceColumn | None,
    problems: list[tuple[int | None, str]],
    notes: list[str],
) -> ColumnRecipe:
    """How one side makes a canonical column, once its type is known; what does not fit (a map's
    value, a declared type that would round the column) is told in `problems`."""
    value_map = spec.value_map(side)
    bad = _unfit_map_target(value_map, ctype)
    if bad is not None:
        problems.append(
            (
                spec.line,
                f"{where} column '{spec.name}': map_{side} maps to {bad!r}, which is not a "
                f"valid {ctype}; change the map's value or the column's 'type:'",
            )
        )
    if value_map:
        source = None  # the map's values are what is converted, not the column's
    lossy = _loses(source, ctype) if source is not None and spec.ctype is not None else None
    if lossy and source is not None and not (spec.column is not None and spec.column.round):
        problems.append(
            (
                spec.line,
                f"{where} column '{spec.name}' ({side} side): type {ctype} loses what "
                f"{source.db_type} holds ({lossy}); declare a type that holds it, or add "
                f"'round: true' to compare at {ctype} on purpose",
            )
        )
    pad = source is not None and source.pad and ctype.kind == "string"
    if pad and source is not None:
        notes.append(
            f"column '{spec.name}' ({side} side, {source.db_type}): trailing blanks are CHAR "
            "padding, not data, and are not compared"
        )
    return ColumnRecipe(
        spec.name,
        spec.exprs[side],
        ctype,
        value_map,
        spec.column.normalize if spec.column is not None else (),
        spec.column.timezone if spec.column else None,
        pad,
        source.kind if source is not None else "",
        key=spec.key,
    )


def _loses(source: SourceColumn, ctype: CanonicalType) -> str | None:
    """What a declared canonical type would round or cut away of what a source column holds, or
    None. A value that does not fit at all (text that is no number) is an error when read; this
    is about values that fit, silently changed."""
    kind, want = source.kind, ctype.kind
    digits = source.precision
    if (
        want == "decimal"
        and kind == "decimal"
        and digits is not None
        and (source.scale or 0) > (ctype.scale or 0)
    ):
        return f"{source.scale} decimal places, rounded to {ctype.scale}"
    if want in ("decimal", "int", "uint") and kind in ("float", "float32"):
        return "binary fractions, rounded"
    if want in ("int", "uint") and kind == "decimal" and (source.scale or 0) > 0:
        return f"{source.scale} decimal places, cut off"
    kept = ctype.precision if ctype.precision is not None else 6
    if want == "timestamp" and kind in ("timestamp", "timestamptz") and digits is not None and digits > kept:
        return f"{digits} digits of a second, cut to {kept}"
    if want == "date" and kind in ("timestamp", "timestamptz"):
        return "the time of day, cut off"
    if want == "float" and ctype.precision == 24 and kind == "float":
        return "double precision, rounded to single"
    return None


def _key_notes(entity: Entity, catalogs: dict[str, _Catalog]) -> list[str]:
    """Where the mapped key is neither the primary key nor a unique index of a side's table:
    its rows may repeat a key, and then every such key is reported as a duplicate."""
    notes = []
    for side in SIDES:
        table, catalog = entity.side(side).table, catalogs[side]
        if table is None:
            continue
        try:
            uniques = catalog.reader.dialect.unique_keys(catalog.reader, table)
        except Exception:  # noqa: BLE001 - without the catalog's word, nothing is said
            uniques = None
        if uniques is None:
            continue
        key = [catalog.lookup(k.on(side)) or k.on(side) for k in entity.key]
        held = {c.lower() for c in key}
        if any({c.lower() for c in u} <= held for u in uniques):
            continue
        there = "; unique there: " + ", ".join(f"({', '.join(u)})" for u in uniques) if uniques else ""
        notes.append(
            f"key ({', '.join(key)}) is neither the primary key nor a unique index of {table} ({side} "
            f"side){there}: rows that repeat a key are reported as duplicate_key"
        )
    return notes


def _advice(old: str, new: str) -> str:
    """What to write for two sides that do not meet. Integers against text are most often codes
    and their names (a status): declaring a type would make every row differ."""
    numbers, text = {"int", "uint64", "bit"}, {"string"}
    if (old in numbers and new in text) or (old in text and new in numbers):
        side = "old" if old in numbers else "new"
        return (
            f"if the numbers are codes for the texts, map them with map_{side} (e.g. "
            f"map_{side}: {{0: DRAFT, 1: READY}}); if the texts hold the numbers, declare 'type: int'"
        )
    return f"declare the canonical 'type:' (one of {CHOICES})"


def _checksums(
    entity: Entity,
    catalogs: dict[str, _Catalog],
    recipes: dict[str, SideRecipe],
    checks: tuple[ColumnCheck, ...],
    queries: dict[str, SideQuery],
    partition: str | None,
    subset: Subset | None,
) -> tuple[dict[str, ChecksumSQL] | None, tuple[str, ...]]:
    """Both sides' checksum renderings, or None and why the entity is read as rows."""
    tolerant = {c.name for c in checks if c.tolerance is not None}
    renderings = {
        side: checksum_sql(
            recipes[side], len(entity.key), catalogs[side].columns, catalogs[side].reader.dialect, tolerant
        )
        for side in SIDES
    }
    notes = tuple(why for side in SIDES for why in renderings[side][1])
    if partition is None or queries["old"].partition_bytes:
        notes += ("segments are not ranges of an integer key column",)
    if subset is not None:
        notes += ("a sample or cohort is compared: it is chosen among rows, not ranges",)
    rendered = {side: r for side, (r, _) in renderings.items() if r is not None}
    return (rendered if len(rendered) == 2 and not notes else None), notes


def _unreadable(entity: Entity, side: str, reader: Reader, exc: SourceError) -> str:
    """Why a side of an entity cannot be read, in the database's words, and what to change."""
    s = entity.side(side)
    reason = exc.reason or str(exc)
    said = reason.lower()
    if "denied" in said:
        fix = "grant the URL's user SELECT on it (verify only reads)"
    elif s.table and any(w in said for w in ("doesn't exist", "does not exist", "no such table")):
        fix = "check 'table:' in the mapping, and the database (and schema) in the URL"
    elif any(w in said for w in ("url parameter", "connection string", "failed to connect")):
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
    catalogs: dict[str, _Catalog],
    queries: dict[str, SideQuery],
    segment_rows: int,
) -> tuple[dict[str, SideQuery], int, str]:
    """Put the sample into both sides' SQL when every key column is an integer on both sides.

    Segments then hold `segment_rows` sampled rows. Otherwise every row is read and the sample
    is taken after canonicalization (worker), by the same hash.
    """
    assert subset.fraction is not None
    columns = {s: [catalogs[s].lookup(k.on(s)) or k.on(s) for k in entity.key] for s in SIDES}
    integer = all(catalogs[s].columns[c].kind in ("int", "uint64") for s in SIDES for c in columns[s])
    dialects = {s: catalogs[s].reader.dialect for s in SIDES}
    conds = {s: sample_sql(subset, [dialects[s].quote(c) for c in columns[s]], dialects[s]) for s in SIDES}
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


def _partition(
    entity: Entity, catalogs: dict[str, _Catalog]
) -> tuple[str | None, dict[str, SideQuery], tuple[str, ...]]:
    """Pick the key column that bounds segments (a number or a string on both sides) and the SQL."""
    partition = None
    notes: tuple[str, ...] = ()
    for k in [k for k in entity.key if entity.segment_by in (None, k.name)]:
        kinds = {catalogs[s].columns[catalogs[s].lookup(k.on(s)) or k.on(s)].kind for s in SIDES}
        # Integer bounds cut any numbers into ranges, decimals too (BIGINT UNSIGNED as NUMERIC).
        if kinds <= {"int", "uint64", "decimal"} or kinds == {"string"}:
            partition = k
            break
    if partition is None:
        what = f"key column '{entity.segment_by}' is" if entity.segment_by else "no key column is"
        notes = (f"{what} a number or a string on both sides: '{entity.name}' is read as one segment",)
    queries = {}
    for side in SIDES:
        s, catalog = entity.side(side), catalogs[side]
        dialect = catalog.reader.dialect
        part_sql, as_bytes = None, False
        if partition is not None:
            col = catalog.lookup(partition.on(side)) or partition.on(side)
            as_bytes = catalog.columns[col].kind == "string"
            part_sql = dialect.quote(col)
            if as_bytes:
                part_sql = dialect.byte_order(part_sql)
        read = catalog.read_columns()
        queries[side] = SideQuery(
            tuple(dialect.read_sql(c) for c in read), s.table, s.query, s.where, part_sql, as_bytes, read
        )
    return (partition.name if partition else None), queries, notes
