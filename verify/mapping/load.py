"""Load and validate a version-1 mapping file; every problem is reported at once, with its line."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from verify.errors import MappingError
from verify.mapping.model import (
    NORMALIZERS,
    ROW_KINDS,
    SEVERITIES,
    SIDES,
    Column,
    Entity,
    KeyColumn,
    Mapping,
    Rule,
    Side,
    Tolerance,
)
from verify.mapping.types import CanonicalType
from verify.mapping.yaml_lines import LineDict, load_yaml

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_$]*$")
TOP_KEYS = ("version", "entities")
ENTITY_KEYS = ("old", "new", "key", "columns", "ignore", "rules", "segment_by")
SIDE_KEYS = ("table", "query", "where", "timezone")
KEY_KEYS = ("old", "new", "type")
COLUMN_KEYS = ("old", "new", "type", "round", "map_old", "map_new", "normalize", "tolerance", "timezone")
RULE_KEYS = ("name", "column", "kind", "when", "severity", "owner", "ticket", "note", "expires")


class _Problems:
    """Collects (line, message) pairs while the whole file is checked."""

    def __init__(self) -> None:
        self.items: list[tuple[int | None, str]] = []

    def add(self, line: int | None, message: str) -> None:
        self.items.append((line, message))

    def unknown_keys(self, node: LineDict, allowed: tuple[str, ...], where: str) -> None:
        for key in node:
            if key not in allowed:
                self.add(
                    node.line_of(key), f"unknown key '{key}' in {where}; valid keys: {', '.join(allowed)}"
                )


def file_sha256(path: str) -> str:
    """The hash that pins a run to the exact mapping file it used."""
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def load_mapping(path: str) -> Mapping:
    """Read, validate and build a mapping; raises MappingError naming every problem."""
    data, duplicates = load_yaml(path, "mapping")
    digest = file_sha256(path)
    problems = _Problems()
    problems.items.extend(duplicates)
    entities: dict[str, Entity] = {}
    if not isinstance(data, LineDict):
        raise MappingError(
            path, [(1, "a mapping file must be a YAML mapping with 'version: 1' and 'entities:'")]
        )
    problems.unknown_keys(data, TOP_KEYS, "the mapping file")
    if "version" not in data:
        problems.add(1, "the mapping has no 'version'; add 'version: 1' at the top")
    elif data.get("version") != 1:
        problems.add(
            data.line_of("version"),
            f"'version' must be 1 (got {data.get('version')!r}); add 'version: 1' at the top",
        )
    raw_entities = data.get("entities")
    if not isinstance(raw_entities, LineDict) or not raw_entities:
        problems.add(
            data.line_of("entities"),
            "'entities' must map entity names to their definitions, e.g. "
            "'entities: {orders: {old: {table: orders}, new: {table: orders}, key: [id]}}'",
        )
    else:
        for name, spec in raw_entities.items():
            entity = _entity(str(name), spec, raw_entities.line_of(name), problems)
            if entity is not None:
                entities[str(name)] = entity
    if problems.items:
        raise MappingError(path, problems.items)
    return Mapping(path=path, sha256=digest, entities=entities)


def _entity(name: str, spec: Any, line: int, problems: _Problems) -> Entity | None:
    where = f"entity '{name}'"
    if not isinstance(spec, LineDict):
        problems.add(line, f"{where} must be a mapping with old, new, key and columns")
        return None
    problems.unknown_keys(spec, ENTITY_KEYS, where)
    sides = {}
    for side in SIDES:
        if side not in spec:
            problems.add(spec.line, f"{where} has no '{side}:' side; add e.g. '{side}: {{table: {name}}}'")
        else:
            sides[side] = _side(spec[side], spec.line_of(side), f"{where} ({side} side)", problems)
    key = _key(spec.get("key"), spec.line_of("key") if "key" in spec else spec.line, where, problems)
    key_names = {k.name for k in key}
    ignore = _string_list(spec.get("ignore", []), spec.line_of("ignore"), f"{where} ignore", problems)
    raw_columns = spec.get("columns", "*")
    columns: list[Column] = []
    all_shared = raw_columns == "*"
    if not all_shared:
        if not isinstance(raw_columns, LineDict):
            problems.add(
                spec.line_of("columns"),
                f"{where}: 'columns' must be \"*\" (every column both sides share) "
                "or a mapping of canonical column names to their definitions",
            )
        else:
            for cname, cspec in raw_columns.items():
                col = _column(str(cname), cspec, raw_columns.line_of(cname), where, problems)
                if col is not None:
                    columns.append(col)
                if cname in key_names:
                    problems.add(
                        raw_columns.line_of(cname),
                        f"{where}: column '{cname}' is a key column; keys are always compared",
                    )
                if cname in ignore:
                    problems.add(
                        raw_columns.line_of(cname),
                        f"{where}: column '{cname}' is both listed and ignored; remove one",
                    )
    rules = _rules(spec.get("rules", []), spec.line_of("rules"), where, problems)
    segment_by = spec.get("segment_by")
    if segment_by is not None and (not isinstance(segment_by, str) or segment_by not in key_names):
        problems.add(
            spec.line_of("segment_by"),
            f"{where}: segment_by '{segment_by}' is not a key column; key columns: "
            f"{', '.join(k.name for k in key)}",
        )
    if len(sides) != 2 or not key:
        return None
    return Entity(
        name=name,
        old=sides["old"],
        new=sides["new"],
        key=tuple(key),
        columns=tuple(columns),
        all_shared=all_shared,
        ignore=tuple(ignore),
        rules=tuple(rules),
        segment_by=segment_by if isinstance(segment_by, str) else None,
        line=line,
    )


def _side(spec: Any, line: int, where: str, problems: _Problems) -> Side:
    if isinstance(spec, str):  # shorthand: old: orders
        spec_d: dict[str, Any] = {"table": spec}
        node_line = line
    elif isinstance(spec, LineDict):
        problems.unknown_keys(spec, SIDE_KEYS, where)
        spec_d, node_line = spec, spec.line
    else:
        problems.add(line, f"{where} must be a table name or a mapping with 'table' or 'query'")
        return Side()
    table, query, where_sql = spec_d.get("table"), spec_d.get("query"), spec_d.get("where")
    if (table is None) == (query is None):
        problems.add(node_line, f"{where} needs exactly one of 'table' or 'query'")
    if table is not None and not re.fullmatch(r"[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)?", str(table)):
        problems.add(
            node_line,
            f"{where}: table '{table}' is not a plain [schema.]table name; use 'query:' for anything else",
        )
    if query is not None:
        q = str(query).strip()
        if not re.match(r"(?is)^(select|with)\b", q) or ";" in q.rstrip(";"):
            problems.add(
                node_line,
                f"{where}: 'query' must be one SELECT (or WITH … SELECT) statement; verify only reads",
            )
        query = q.rstrip(";")
    if where_sql is not None and ";" in str(where_sql):
        problems.add(node_line, f"{where}: 'where' must be one SQL condition, without ';'")
    tz, tz_column = None, None
    raw_tz = spec_d.get("timezone")
    if isinstance(raw_tz, LineDict):
        problems.unknown_keys(raw_tz, ("column",), f"{where} timezone")
        tz_column = raw_tz.get("column")
        if not isinstance(tz_column, str) or not IDENTIFIER.match(tz_column):
            problems.add(raw_tz.line, f"{where}: 'timezone: {{column: NAME}}' needs a column name")
    elif raw_tz is not None:
        tz = str(raw_tz)
        try:
            ZoneInfo(tz)
        except (ZoneInfoNotFoundError, ValueError):
            problems.add(
                node_line,
                f"{where}: unknown time zone '{tz}'; use an IANA name such as "
                "America/New_York or UTC, or {column: NAME} for a per-row zone",
            )
    return Side(
        table=table and str(table),
        query=query,
        where=where_sql and str(where_sql),
        timezone=tz,
        timezone_column=tz_column,
    )


def _key(spec: Any, line: int, where: str, problems: _Problems) -> list[KeyColumn]:
    if spec is None:
        problems.add(line, f"{where} has no 'key'; add e.g. 'key: [id]'")
        return []
    items = spec if isinstance(spec, list) else [spec]
    keys: list[KeyColumn] = []
    for item in items:
        if isinstance(item, str):
            name, old, new, ctype, item_line = item, item, item, None, line
        elif isinstance(item, LineDict) and len(item) == 1:
            name = str(next(iter(item)))
            body = item[name] or LineDict(line=item.line)
            item_line = item.line
            if not isinstance(body, LineDict):
                problems.add(item_line, f"{where}: key '{name}' must map to {{old: COL, new: COL}}")
                continue
            problems.unknown_keys(body, KEY_KEYS, f"{where} key '{name}'")
            old, new = str(body.get("old", name)), str(body.get("new", name))
            ctype = _type(body.get("type"), item_line, f"{where} key '{name}'", problems)
        else:
            problems.add(line, f"{where}: each key must be a column name or {{NAME: {{old: COL, new: COL}}}}")
            continue
        for side, col in (("old", old), ("new", new)):
            if not IDENTIFIER.match(col):
                problems.add(
                    item_line,
                    f"{where}: key '{name}' must be a plain column on the {side} "
                    f"side (got '{col}'), so segments can be bounded in SQL",
                )
        keys.append(KeyColumn(name=name, old=old, new=new, type=ctype, line=item_line))
    if not keys and not items:
        problems.add(line, f"{where} has an empty 'key'; name the key columns, e.g. 'key: [id]'")
    if len({k.name for k in keys}) != len(keys):
        problems.add(line, f"{where}: a key column is named twice")
    return keys


def _column(name: str, spec: Any, line: int, where: str, problems: _Problems) -> Column | None:
    cwhere = f"{where} column '{name}'"
    if spec is None:
        spec = LineDict(line=line)
    if not isinstance(spec, LineDict):
        problems.add(line, f"{cwhere} must be a mapping (use {{}} to compare it as it is)")
        return None
    problems.unknown_keys(spec, COLUMN_KEYS, cwhere)
    old, new = str(spec.get("old", name)), str(spec.get("new", name))
    for side, text in (("old", old), ("new", new)):
        _check_expression(text, spec.line_of(side), f"{cwhere} ({side} side)", problems)
    normalize = _string_list(
        spec.get("normalize", []), spec.line_of("normalize"), f"{cwhere} normalize", problems
    )
    for n in normalize:
        if n not in NORMALIZERS:
            problems.add(
                spec.line_of("normalize"),
                f"{cwhere}: unknown normalization '{n}'; choose from {', '.join(NORMALIZERS)}",
            )
    timezone = spec.get("timezone")
    if timezone is not None:
        try:
            ZoneInfo(str(timezone))
        except (ZoneInfoNotFoundError, ValueError):
            problems.add(
                spec.line_of("timezone"),
                f"{cwhere}: unknown time zone '{timezone}'; use an IANA name such as UTC or Europe/Berlin",
            )
    rounds = spec.get("round", False)
    if not isinstance(rounds, bool):
        problems.add(
            spec.line_of("round"),
            f"{cwhere}: round must be true (compare at the declared type, rounding on purpose) or false",
        )
    return Column(
        name=name,
        old=old,
        new=new,
        round=rounds is True,
        timezone=timezone and str(timezone),
        type=_type(spec.get("type"), spec.line_of("type"), cwhere, problems),
        map_old=_value_map(spec.get("map_old"), spec.line_of("map_old"), cwhere, problems),
        map_new=_value_map(spec.get("map_new"), spec.line_of("map_new"), cwhere, problems),
        normalize=tuple(normalize),
        tolerance=_tolerance(spec.get("tolerance"), spec.line_of("tolerance"), cwhere, problems),
        line=line,
    )


def _type(raw: Any, line: int, where: str, problems: _Problems) -> CanonicalType | None:
    if raw is None:
        return None
    try:
        return CanonicalType.parse(str(raw))
    except ValueError as exc:
        problems.add(line, f"{where}: {exc}")
        return None


def _value_map(raw: Any, line: int, where: str, problems: _Problems) -> tuple[tuple[Any, Any], ...] | None:
    if raw is None:
        return None
    if not isinstance(raw, dict) or not raw:
        problems.add(line, f"{where}: a value map must be a non-empty mapping, e.g. {{0: DRAFT, 1: READY}}")
        return None
    for side, values in (("keys", raw.keys()), ("values", raw.values())):
        kinds = {_yaml_kind(v): v for v in values if v is not None}
        if len(kinds) > 1:
            (a, x), (b, y) = list(kinds.items())[:2]
            problems.add(
                line,
                f"{where}: a value map's {side} must all be of one type, but it has {a} {x!r} and "
                f"{b} {y!r}; write them as one type (quote a number meant as a string: '10')",
            )
            return None
    return tuple(raw.items())


def _yaml_kind(value: Any) -> str:
    """What YAML made of a scalar: a value map's keys, and its values, must each be one kind."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    return type(value).__name__  # dates and times, as YAML reads unquoted ISO dates


def _tolerance(raw: Any, line: int, where: str, problems: _Problems) -> Tolerance | None:
    if raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, (int, float, dict)):
        problems.add(line, f"{where}: tolerance must be a number or {{abs: N, rel: N}}")
        return None
    if isinstance(raw, dict):
        if isinstance(raw, LineDict):
            problems.unknown_keys(raw, ("abs", "rel"), f"{where} tolerance")
        values = {k: raw.get(k, 0) for k in ("abs", "rel")}
    else:
        values = {"abs": raw, "rel": 0}
    bad = [
        v
        for v in values.values()
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1e300  # a finite number
    ]
    if bad:
        problems.add(line, f"{where}: tolerance values must be finite numbers >= 0 (got {str(bad[0])[:40]})")
        return None
    return Tolerance(abs=float(values["abs"]), rel=float(values["rel"]))


def _rules(raw: Any, line: int, where: str, problems: _Problems) -> list[Rule]:
    if not isinstance(raw, list):
        problems.add(line, f"{where}: 'rules' must be a list")
        return []
    rules: list[Rule] = []
    for item in raw:
        if not isinstance(item, LineDict):
            problems.add(line, f"{where}: each rule must be a mapping with name, when and severity")
            continue
        rwhere = f"{where} rule '{item.get('name', '?')}'"
        problems.unknown_keys(item, RULE_KEYS, rwhere)
        name, severity = item.get("name"), item.get("severity")
        if not isinstance(name, str) or not name:
            problems.add(item.line, f"{where}: a rule needs a 'name'")
        if severity not in SEVERITIES:
            problems.add(
                item.line_of("severity"),
                f"{rwhere}: severity must be one of {', '.join(SEVERITIES)} (got {severity!r})",
            )
        kind, column = item.get("kind"), item.get("column")
        if column is not None and not (isinstance(column, str) and column):
            problems.add(
                item.line_of("column"), f"{rwhere}: column must be a compared column's name (got {column!r})"
            )
            column = None
        if kind is not None and kind not in ROW_KINDS:
            problems.add(
                item.line_of("kind"), f"{rwhere}: kind must be one of {', '.join(ROW_KINDS)} (got {kind!r})"
            )
        if kind is not None and column is not None:
            problems.add(item.line, f"{rwhere}: give 'column' (a cell rule) or 'kind' (a row rule), not both")
        when = item.get("when")
        if when is not None:
            _check_expression(str(when), item.line_of("when"), rwhere, problems)
        expires = item.get("expires")
        if expires is not None and not isinstance(expires, dt.date):
            problems.add(item.line_of("expires"), f"{rwhere}: expires must be a date, YYYY-MM-DD")
        rules.append(
            Rule(
                name=str(name),
                severity=str(severity),
                column=column,
                kind=kind if kind in ROW_KINDS else None,
                when=when and str(when),
                owner=item.get("owner"),
                ticket=item.get("ticket") and str(item.get("ticket")),
                note=item.get("note"),
                expires=expires,
                line=item.line,
            )
        )
    names = [r.name for r in rules]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.add(line, f"{where}: rule '{dup}' is defined twice")
    return rules


def _string_list(raw: Any, line: int, where: str, problems: _Problems) -> list[str]:
    if isinstance(raw, str):
        return [raw]
    if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
        problems.add(line, f"{where} must be a list of names")
        return []
    return list(raw)


def _check_expression(text: str, line: int, where: str, problems: _Problems) -> None:
    """An expression must parse as Polars SQL; nothing from a mapping is ever eval'ed as Python."""
    if IDENTIFIER.match(text):
        return
    import polars as pl

    try:
        pl.sql_expr(text)
    except Exception as exc:  # noqa: BLE001 - polars raises several types for bad SQL
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        problems.add(line, f"{where}: expression '{text}' does not parse as SQL: {first}")
