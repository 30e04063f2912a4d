"""`verify init`: a mapping drafted from the two live schemas, for a person to review.

Both catalogs are read through the dialect layer. Tables pair by name (across schemas, a plural
`s` aside) or as `--table OLD=NEW` says; keys come from primary keys and unique indexes; columns
pair by name, then by likely renames (a normalized name and a type that meets), each with a
comment saying why. Where the two sides' types do not meet, the draft declares the one that
holds both; where a naive DATETIME meets a zoned timestamp it adds a `timezone:` to check. What
it could not pair is listed as comments. The draft passes `verify check` as written.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from verify.engine.meet import infer_type
from verify.errors import UsageError
from verify.mapping.model import Side
from verify.sources.base import Reader
from verify.sources.columns import SourceColumn

# Words that name the same thing in an old and a new schema, and unit suffixes a rename drops.
SYNONYMS = {"status": "state", "deleted": "archived", "removed": "archived", "order": "campaign"}
SUFFIXES = ("_micros", "_cents", "_code", "_flag", "_ts")
SCALES = {"_micros": 1_000_000, "_cents": 100}


@dataclass
class Pair:
    """One entity of the draft: a table of each side and how their columns pair."""

    name: str
    old: str
    new: str
    key: list[tuple[str, str]] = field(default_factory=list)  # (new name, old name)
    columns: list[tuple[str, str, dict[str, str], str]] = field(default_factory=list)  # new, old, keys, why
    unpaired: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def draft(old: Reader, new: Reader, tables: tuple[str, ...] = ()) -> str:
    """The mapping's YAML text."""
    pairs, alone = _tables(old, new, tables)
    entities = [_entity(old, new, o, n) for o, n in pairs]
    return _render(entities, alone)


def _stem(name: str) -> str:
    bare = name.rsplit(".", 1)[-1].lower()
    return bare[:-1] if bare.endswith("s") and not bare.endswith("ss") else bare


def _tables(
    old: Reader, new: Reader, asked: tuple[str, ...]
) -> tuple[list[tuple[str, str]], dict[str, list[str]]]:
    old_tables, new_tables = old.dialect.tables(old), new.dialect.tables(new)
    if asked:
        pairs = []
        for spec in asked:
            o, _, n = spec.partition("=")
            n = n or o
            for side, name, present in (("old", o, old_tables), ("new", n, new_tables)):
                if name not in present:
                    shown = ", ".join(present[:20]) or "none"
                    raise UsageError(
                        f"--table {spec}: no table {name} on the {side} side; tables there: {shown}"
                    )
            pairs.append((o, n))
        return pairs, {}
    by_stem: dict[str, list[str]] = {}
    for n in new_tables:
        by_stem.setdefault(_stem(n), []).append(n)
    pairs, used = [], set()
    for o in old_tables:
        found = [n for n in by_stem.get(_stem(o), []) if n not in used]
        if len(found) == 1:
            pairs.append((o, found[0]))
            used.add(found[0])
    paired_old = {o for o, _ in pairs}
    alone = {
        "old": [t for t in old_tables if t not in paired_old],
        "new": [t for t in new_tables if t not in used],
    }
    return pairs, alone


def _norm(name: str, table_stems: tuple[str, str]) -> str:
    """A column name as a rename would leave it: lower case, unit suffixes off, synonyms one word,
    and a bare `id` named after its table (`id` of line_items is `line_item_id`)."""
    n = name.lower()
    if n == "id":
        n = f"{table_stems[0]}_id"
    for suffix in SUFFIXES:
        if n.endswith(suffix) and len(n) > len(suffix):
            n = n[: -len(suffix)]
    words = [SYNONYMS.get(w, w) for w in n.split("_")]
    n = "_".join(words)
    return n.replace(table_stems[0], table_stems[1]) if table_stems[0] != table_stems[1] else n


def _entity(old: Reader, new: Reader, o: str, n: str) -> Pair:
    ocols = {c.name: c for c in old.dialect.columns(old, Side(table=o))}
    ncols = {c.name: c for c in new.dialect.columns(new, Side(table=n))}
    pair = Pair(_stem(n), o, n)
    matched: dict[str, str] = {}  # new -> old
    lower = {c.lower(): c for c in ncols}
    for c in ocols:
        if c.lower() in lower and lower[c.lower()] not in matched:
            matched[lower[c.lower()]] = c
    why: dict[str, str] = {}
    stems = (_stem(o), _stem(n))
    for c, col in ocols.items():
        if c in matched.values():
            continue
        want = _norm(c, stems)
        found = [
            m
            for m in ncols
            if m not in matched and _norm(m, (stems[1], stems[1])) == want and _meets(col, ncols[m])
        ]
        if len(found) == 1:
            matched[found[0]] = c
            why[found[0]] = f"likely rename: {c} -> {found[0]}"
    keys = _key(old, new, o, n, matched)
    pair.key = keys
    key_names = {k for k, _ in keys}
    for m, c in matched.items():
        if m in key_names:
            continue
        if not (ocols[c].supported and ncols[m].supported):
            why_not = ocols[c].why or ncols[m].why
            pair.notes.append(f"{m}: left out, a type verify cannot read ({why_not})")
            continue
        keys_, note = _types(ocols[c], ncols[m])
        if c != m:
            keys_ = {"old": c, **keys_}
        pair.columns.append((m, c, keys_, "; ".join(x for x in (why.get(m), note) if x)))
    pair.unpaired = {
        "old": [c for c in ocols if c not in matched.values()],
        "new": [m for m in ncols if m not in matched],
    }
    if not keys:
        pair.notes.append("no primary key or unique index pairs on both sides: write `key:` by hand")
    return pair


def _meets(a: SourceColumn, b: SourceColumn) -> bool:
    return infer_type(a.kind, b.kind) is not None or {a.kind, b.kind} <= {"int", "decimal", "string", "bool"}


def _key(old: Reader, new: Reader, o: str, n: str, matched: dict[str, str]) -> list[tuple[str, str]]:
    """As (new name, old name): a key unique on both sides where there is one (the new side's
    primary key, where it holds the old one's columns), else the old side's, else the new side's."""
    back = {c: m for m, c in matched.items()}
    old_keys = [
        [back[c] for c in cols]
        for cols in old.dialect.unique_keys(old, o) or []
        if all(c in back for c in cols)
    ]
    new_keys = [
        list(cols) for cols in new.dialect.unique_keys(new, n) or [] if all(m in matched for m in cols)
    ]
    for cols in new_keys:
        if any(set(k) <= set(cols) for k in old_keys):
            return [(m, matched[m]) for m in cols]
    for cols in old_keys + new_keys:
        return [(m, matched[m]) for m in cols]
    return []


def _types(a: SourceColumn, b: SourceColumn) -> tuple[dict[str, str], str]:
    """The column keys to declare where the sides do not meet by themselves, and why."""
    kinds = {a.kind, b.kind}
    if infer_type(a.kind, b.kind) is not None:
        if a.kind == "timestamp" and b.kind == "timestamptz":
            return {
                "timezone": "UTC"
            }, "a naive DATETIME against a zoned timestamp: check the zone it was written in"
        return {}, ""
    for suffix, factor in SCALES.items():
        scaled = a.kind == "int" and b.kind in ("decimal", "string", "float")
        if scaled and a.name.lower().endswith(suffix) and not b.name.lower().endswith(suffix):
            expr = f"{a.name} / {factor}"
            return {"old": expr, "type": "decimal(38,6)"}, f"{suffix[1:]} on the old side: {expr}"
    if kinds <= {"int", "bool", "bit"}:
        return {"type": "bool"}, "an integer against a boolean: compared as booleans"
    if "string" in kinds and kinds & {"int", "decimal", "uint64"}:
        return {"type": "string"}, "a number against a text: compared as texts (codes? then map_old)"
    if kinds <= {"int", "decimal", "float", "float32", "uint64"}:
        return {"type": "decimal(38,6)"}, "numbers of different kinds: compared as decimals (check the scale)"
    return {"type": "string"}, f"{a.db_type} against {b.db_type}: compared as texts"


_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")


def _scalar(v: str) -> str:
    return (
        v
        if _PLAIN.match(v) and v.lower() not in ("yes", "no", "true", "false", "null", "on", "off")
        else json.dumps(v, ensure_ascii=False)  # a JSON string is a YAML scalar
    )


def _render(entities: list[Pair], alone: dict[str, list[str]]) -> str:
    out = [
        "# Drafted by verify init from the two live schemas: review every line, then verify check.",
        "version: 1",
        "entities:" if entities else "entities: {}",
    ]
    for p in entities:
        out.append(f"  {p.name}:")
        out.append(f"    old: {{table: {_scalar(p.old)}}}")
        out.append(f"    new: {{table: {_scalar(p.new)}}}")
        for note in p.notes:
            out.append(f"    # {note}")
        if p.key:
            out.append("    key:  # from the primary keys and unique indexes")
            for m, c in p.key:
                out.append(
                    f"      - {_scalar(m)}" if m == c else f"      - {_scalar(m)}: {{old: {_scalar(c)}}}"
                )
        out.append("    columns:" if p.columns else "    columns: {}")
        for m, _, keys, why in p.columns:
            body = ", ".join(f"{k}: {_scalar(v)}" for k, v in keys.items())
            comment = f"  # {why}" if why else ""
            out.append(f"      {_scalar(m)}: {{{body}}}{comment}")
        for side in ("old", "new"):
            if p.unpaired.get(side):
                out.append(f"    # only on the {side} side, not compared: {', '.join(p.unpaired[side])}")
    for side in ("old", "new"):
        if alone.get(side):
            out.append(
                f"# tables only on the {side} side (pair one with --table OLD=NEW): {', '.join(alone[side])}"
            )
    return "\n".join(out) + "\n"
