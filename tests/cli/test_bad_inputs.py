"""Bad input: one catalogue of wrong mappings, URLs, options and run directories.

Each case runs the real `verify` console script in a subprocess and must give its exact exit
code and a message that names the problem and the fix, with no traceback, no password, and
nothing half-written: a run that exits 2 writes no file at all, and a run directory that exists
after a failure never says `complete`. The README's "Bad input" table is rendered from CASES
(`test_the_readme_lists_every_case`); `VERIFY_UPDATE_README=1` rewrites it.

Placeholders in command lines, files and messages: {tmp} (the case's directory, also its working
directory), {old} and {new} (SQLite stores made by `sqlite_stores`), {pw} (a password that must
never be shown), {blackhole} (a port that accepts connections and never answers), and those of
`mysql_store` / `postgres_store` for the cases that need a server.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from readme import sync_section

from verify.sources.urls import SourceURL

PW = "Bad-pw-0xC0FFEE/@"  # never to be printed; '/' and '@' test the masking of odd passwords
START, END = "<!-- bad-inputs:start -->", "<!-- bad-inputs:end -->"


@dataclass(frozen=True)
class Case:
    """One bad input: the command line, the files it needs, and what verify must answer."""

    id: str
    what: str  # the bad input, in words (the README's first column)
    argv: tuple[str, ...]
    exit: int
    says: tuple[str, ...]  # fragments of the message: the problem and the fix
    files: dict[str, str] = field(default_factory=dict)  # name under {tmp} -> text
    env: dict[str, str] = field(default_factory=dict)
    needs: tuple[str, ...] = ()  # "mysql", "postgres", "blackhole", "linux"
    stream: str = "stderr"  # where the message is: stderr, or stdout for a run that happened
    max_seconds: float = 60.0


def diff(*extra: str, old: str = "{old}", new: str = "{new}", out: str = "{tmp}/run") -> tuple[str, ...]:
    """`verify diff` over the case's mapping {tmp}/m.yaml."""
    return ("diff", "--mapping", "{tmp}/m.yaml", "--old", old, "--new", new, "--out", out, *extra)


def check(old: str = "{old}", new: str = "{new}") -> tuple[str, ...]:
    return ("check", "--mapping", "{tmp}/m.yaml", "--old", old, "--new", new)


HEAD = "version: 1\nentities:\n  t:\n    old: {table: t}\n    new: {table: t}\n"
MAPPING = HEAD + "    key: [id]\n    columns:\n      name: {}\n      amount: {}\n"


def mapping(text: str) -> dict[str, str]:
    return {"m.yaml": text}


def entity(body: str, old: str = "t", new: str = "t") -> dict[str, str]:
    """A mapping of one entity 't' over tables `old` and `new` with the given lines (line 6 on)."""
    head = f"version: 1\nentities:\n  t:\n    old: {{table: {old}}}\n    new: {{table: {new}}}\n"
    return mapping(head + "".join(f"    {line}\n" for line in body.strip("\n").split("\n")))


CONNECT_FIX = "check the host, port, user, password and database in the URL"
NOT_A_URL = "is not a database URL; write it as a SQLAlchemy URL, e.g. mysql+pymysql://user@host/db"

CASES = [
    # --- the mapping file ----------------------------------------------------------------------
    Case(
        "yaml-syntax",
        "YAML syntax error",
        diff(),
        2,
        ("m.yaml:5: YAML syntax error: expected ',' or '}', but got ':'",),
        mapping("version: 1\nentities:\n  t:\n    old: {table: t\n    new: {table: t}\n"),
    ),
    Case(
        "yaml-tab",
        "a tab in the indentation",
        diff(),
        2,
        ("m.yaml:3: YAML syntax error: found character '\\t' that cannot start any token",),
        mapping("version: 1\nentities:\n\tt: {old: t}\n"),
    ),
    # Found by the fuzzer (tests/cli/test_fuzz.py): each crashed with a Python exception before.
    Case(
        "yaml-nul",
        "a NUL character in the mapping file",
        check(),
        2,
        (
            "m.yaml:3: character '\\x00' is not allowed in YAML (special characters are not allowed); "
            "remove it",
        ),
        mapping("version: 1\nentities:\n  t: {old: t\x00}\n"),
    ),
    Case(
        "yaml-too-deep",
        "YAML nested thousands of levels deep",
        check(),
        2,
        ("m.yaml: the mapping nests too deeply to read",),
        mapping("version: 1\nentities: " + "[" * 3000 + "]" * 3000 + "\n"),
    ),
    Case(
        "yaml-mapping-key",
        "a list or a mapping as a key",
        check(),
        2,
        ("m.yaml:3: YAML syntax error: a key must be a plain name or value, not a list or a mapping",),
        mapping("version: 1\nentities:\n  ? {t: 1}\n  : {old: t}\n"),
    ),
    Case(
        "segment-by-not-a-name",
        "`segment_by` that is not a name",
        check(),
        2,
        ("m.yaml:7: entity 't': segment_by '{'id': 1}' is not a key column; key columns: id",),
        entity("key: [id]\nsegment_by: {id: 1}"),
    ),
    Case(
        "rule-column-not-a-name",
        "a rule's `column` that is not a name",
        check(),
        2,
        ("entity 't' rule 'r': column must be a compared column's name (got [])",),
        entity("key: [id]\ncolumns:\n  name: {}\nrules:\n  - {name: r, column: [], severity: accept}"),
    ),
    Case(
        "tolerance-huge",
        "a tolerance too large to be a number",
        check(),
        2,
        ("entity 't' column 'amount': tolerance values must be finite numbers >= 0 (got 1000000000000",),
        entity("key: [id]\ncolumns:\n  amount: {tolerance: " + "1" + "0" * 400 + "}"),
    ),
    Case(
        "empty-file",
        "an empty mapping file",
        diff(),
        2,
        ("m.yaml:1: a mapping file must be a YAML mapping with 'version: 1' and 'entities:'",),
        mapping(""),
    ),
    Case(
        "no-version",
        "no `version`",
        diff(),
        2,
        ("m.yaml:1: the mapping has no 'version'; add 'version: 1' at the top",),
        mapping(MAPPING.replace("version: 1\n", "")),
    ),
    Case(
        "wrong-version",
        "`version: 2`",
        diff(),
        2,
        ("m.yaml:1: 'version' must be 1 (got 2); add 'version: 1' at the top",),
        mapping(MAPPING.replace("version: 1", "version: 2")),
    ),
    Case(
        "unknown-top-key",
        "an unknown top-level key",
        diff(),
        2,
        ("m.yaml:2: unknown key 'flavour' in the mapping file; valid keys: version, entities",),
        mapping(MAPPING.replace("version: 1\n", "version: 1\nflavour: strict\n")),
    ),
    Case(
        "unknown-entity-key",
        "an unknown entity key",
        diff(),
        2,
        ("m.yaml:7: unknown key 'colums' in entity 't'; valid keys: old, new, key, columns, ignore",),
        entity("key: [id]\ncolums: '*'"),
    ),
    Case(
        "unknown-column-key",
        "an unknown column key",
        diff(),
        2,
        (
            "m.yaml:8: unknown key 'tolerence' in entity 't' column 'amount'; valid keys: old, new, "
            "type, round, map_old, map_new, normalize, tolerance, timezone",
        ),
        entity("key: [id]\ncolumns:\n  amount: {tolerence: 1}"),
    ),
    Case(
        "unknown-rule-key",
        "an unknown rule key",
        diff(),
        2,
        ("m.yaml:9: unknown key 'colour' in entity 't' rule 'r'; valid keys: name, column, kind, when",),
        entity("key: [id]\ncolumns: {amount: {}}\nrules:\n  - {name: r, severity: warn, colour: red}"),
    ),
    Case(
        "wrong-types",
        "wrong value types (key, columns, rules)",
        diff(),
        2,
        (
            "3 problems in {tmp}/m.yaml",
            "entity 't': each key must be a column name or {NAME: {old: COL, new: COL}}",
            "entity 't': 'columns' must be \"*\" (every column both sides share) or a mapping",
            "entity 't': 'rules' must be a list",
        ),
        entity("key: 5\ncolumns: [name, amount]\nrules: {r: warn}"),
    ),
    Case(
        "entities-not-a-mapping",
        "`entities` is a list",
        diff(),
        2,
        ("m.yaml:2: 'entities' must map entity names to their definitions, e.g. 'entities: {orders:",),
        mapping("version: 1\nentities: [t]\n"),
    ),
    Case(
        "duplicate-key",
        "a key given twice",
        diff(),
        2,
        ("m.yaml:9: key 'name' is given twice",),
        entity("key: [id]\ncolumns:\n  name: {}\n  name: {normalize: [trim]}"),
    ),
    Case(
        "no-new-side",
        "an entity without `new`",
        diff(),
        2,
        ("m.yaml:4: entity 't' has no 'new:' side; add e.g. 'new: {table: t}'",),
        mapping("version: 1\nentities:\n  t:\n    old: {table: t}\n    key: [id]\n"),
    ),
    Case(
        "query-not-select",
        "a side `query` that is not a SELECT",
        diff(),
        2,
        ("entity 't' (old side): 'query' must be one SELECT (or WITH … SELECT) statement; verify only",),
        mapping(MAPPING.replace("old: {table: t}", "old: {query: 'DELETE FROM t'}")),
    ),
    Case(
        "key-missing-one-side",
        "a key column missing on one side",
        diff(),
        2,
        ("m.yaml:6: unknown column 'id' in entity 't' (new side, t_ident); columns there: ident, name",),
        entity("key: [id]\ncolumns: {amount: {}}", new="t_ident"),
    ),
    Case(
        "column-missing",
        "a compared column that is not there",
        diff(),
        2,
        (
            "m.yaml:8: unknown column 'nmae' in entity 't' (old side, t); columns there: id, name, amount",
            "unknown column 'nmae' in entity 't' (new side, t); columns there: id, name, amount",
        ),
        entity("key: [id]\ncolumns:\n  nmae: {}"),
    ),
    Case(
        "expression-does-not-parse",
        "an expression that does not parse",
        diff(),
        2,
        ("m.yaml:8: entity 't' column 'amount' (old side): expression 'amount +* 2' does not parse as SQL",),
        entity("key: [id]\ncolumns:\n  amount: {old: 'amount +* 2'}"),
    ),
    Case(
        "unknown-function",
        "an expression with an unknown function",
        diff(),
        2,
        ("expression 'frobnicate(amount)' does not parse as SQL: unsupported function 'frobnicate'",),
        entity("key: [id]\ncolumns:\n  amount: {old: 'frobnicate(amount)'}"),
    ),
    Case(
        "incompatible-types",
        "types that do not meet, with no `type:`",
        diff(),
        2,
        (
            "m.yaml:8: entity 't' column 'amount': old side is Int64, new side is String; if the "
            "numbers are codes for the texts, map them with map_old (e.g. map_old: {0: DRAFT, 1: READY}); "
            "if the texts hold the numbers, declare 'type: int'",
        ),
        entity("key: [id]\ncolumns:\n  amount: {}", new="t_text"),
    ),
    Case(
        "map-target-unfit",
        "a value map whose value the column's type cannot hold",
        diff(),
        2,
        (
            "m.yaml:8: entity 't' column 'amount': map_old maps to 'one', which is not a valid int; "
            "change the map's value or the column's 'type:'",
        ),
        entity("key: [id]\ncolumns:\n  amount: {map_old: {1: one, 2: two}, type: int}"),
    ),
    Case(
        "map-mixed-types",
        "a value map whose values mix numbers and strings",
        check(),
        2,
        (
            "m.yaml:8: entity 't' column 'amount': a value map's values must all be of one type, "
            "but it has number 10 and string 'lots'; write them as one type "
            "(quote a number meant as a string: '10')",
        ),
        entity("key: [id]\ncolumns:\n  amount: {map_old: {1: 10, 2: lots}}"),
    ),
    Case(
        "bad-type",
        "a `type:` that does not exist",
        diff(),
        2,
        ("entity 't' column 'amount': unknown type 'money'; choose one of: int, uint, decimal(P,S), float",),
        entity("key: [id]\ncolumns:\n  amount: {type: money}"),
    ),
    Case(
        "bad-normalize",
        "an unknown `normalize` step",
        diff(),
        2,
        ("entity 't' column 'name': unknown normalization 'upper'; choose from trim, rtrim, lower, nfc",),
        entity("key: [id]\ncolumns:\n  name: {normalize: [trim, upper]}"),
    ),
    Case(
        "bad-tolerance",
        "a negative tolerance",
        diff(),
        2,
        ("entity 't' column 'amount': tolerance values must be finite numbers >= 0 (got -0.5)",),
        entity("key: [id]\ncolumns:\n  amount: {tolerance: {abs: -0.5}}"),
    ),
    Case(
        "bad-severity",
        "a rule severity that does not exist",
        diff(),
        2,
        ("entity 't' rule 'r': severity must be one of accept, warn, block (got 'fatal')",),
        entity("key: [id]\nrules:\n  - {name: r, severity: fatal}"),
    ),
    Case(
        "rule-column-not-compared",
        "a rule on a column that is not compared",
        diff(),
        2,
        ("m.yaml:9: entity 't' rule 'r': column 'amout' is not compared; compared: amount",),
        entity("key: [id]\ncolumns: {amount: {}}\nrules:\n  - {name: r, column: amout, severity: accept}"),
    ),
    Case(
        "bad-timezone",
        "an unknown time zone",
        diff(),
        2,
        ("entity 't' (old side): unknown time zone 'Mars/Base'; use an IANA name such as America/New_York",),
        mapping(MAPPING.replace("old: {table: t}", "old: {table: t, timezone: Mars/Base}")),
    ),
    Case(
        "where-fails",
        "a `where` the store cannot run",
        diff(),
        2,
        (
            "entity 't' (old side): cannot read table t from sqlite:///{tmp}/old.db: no such column: nope",
            "check 'table:' and 'where:' of that side in the mapping, and the URL",
        ),
        mapping(MAPPING.replace("old: {table: t}", "old: {table: t, where: 'nope = 1'}")),
    ),
    Case(
        "unknown-entity",
        "`--entity` not in the mapping",
        diff("--entity", "ghost"),
        2,
        ("--entity ghost is not in {tmp}/m.yaml; entities there: t",),
    ),
    Case(
        "mapping-not-found",
        "a mapping file that does not exist",
        ("diff", "--mapping", "{tmp}/nope.yaml", "--old", "{old}", "--new", "{new}"),
        2,
        ("{tmp}/nope.yaml: mapping file not found; check the path",),
    ),
    Case(
        "mapping-is-a-directory",
        "a directory as the mapping file",
        ("check", "--mapping", "{tmp}", "--old", "{old}", "--new", "{new}"),
        2,
        ("Invalid value for '--mapping': File '{tmp}' is a directory.",),
    ),
    Case(
        "check-column-missing",
        "`check`: a column that is not there",
        check(),
        2,
        ("unknown column 'nmae' in entity 't' (old side, t); columns there: id, name, amount, created",),
        entity("key: [id]\ncolumns:\n  nmae: {}"),
    ),
    Case(
        "empty-both-sides",
        "tables empty on both sides (not an error: a clean run that says so)",
        diff(),
        0,
        ("t: 0 rows compared (0 old, 0 new)", "note: 't' is empty on both sides: no rows were compared"),
        entity("key: [id]", old="empty", new="empty"),
        stream="stdout",
    ),
    Case(
        "segment-fails",
        "a value a segment cannot convert (the run goes on, then says partial)",
        diff("--segment-rows", "10", "--workers", "1"),
        3,
        (
            "failed: t segment 3: entity 't' (old side): column 'qty' has value 'twelve' that is not a "
            "valid int; fix the data or map it",
            "run PARTIAL (some segments failed)",
        ),
        entity("key: [id]\ncolumns: {qty: {type: int}}", old="counts", new="counts"),
        stream="stdout",
    ),
    # --- URLs and sources -----------------------------------------------------------------------
    Case(
        "bad-scheme",
        "a URL with a scheme that is no database",
        diff(old="http://example.com/db"),
        2,
        (
            "http://example.com/db: unknown database type 'http'; use e.g. mysql+pymysql://, "
            "postgresql+psycopg:// or sqlite:///",
        ),
    ),
    Case(
        "not-a-url",
        "a URL that does not parse",
        diff(old="old-db.example.com"),
        2,
        ("'old-db.example.com' for --old (or VERIFY_OLD_URL) " + NOT_A_URL,),
    ),
    Case(
        "bad-port",
        "a URL with a port that is not a number (password masked)",
        diff(new="mysql+pymysql://root:{pw_q}@127.0.0.1:33o6/db"),
        2,
        ("'mysql+pymysql://root:***@127.0.0.1:33o6/db' for --new (or VERIFY_NEW_URL) " + NOT_A_URL,),
    ),
    Case(
        "env-url-garbage",
        "`VERIFY_OLD_URL` set to garbage",
        ("diff", "--mapping", "{tmp}/m.yaml", "--new", "{new}", "--out", "{tmp}/run"),
        2,
        ("'garbage' for --old (or VERIFY_OLD_URL) " + NOT_A_URL,),
        env={"VERIFY_OLD_URL": "garbage"},
    ),
    Case(
        "no-old-url",
        "neither `--old` nor `VERIFY_OLD_URL`",
        ("diff", "--mapping", "{tmp}/m.yaml", "--new", "{new}"),
        2,
        ("Missing option '--old' (or VERIFY_OLD_URL).",),
    ),
    Case(
        "sqlite-missing",
        "a SQLite file that does not exist",
        diff(old="sqlite:///{tmp}/nope.db"),
        2,
        ("sqlite:///{tmp}/nope.db: there is no SQLite file {tmp}/nope.db; check the path",),
    ),
    Case(
        "sqlite-not-a-database",
        "a SQLite URL to a file that is no database",
        diff(old="sqlite:///{tmp}/m.yaml"),
        2,
        ("sqlite:///{tmp}/m.yaml: {tmp}/m.yaml is not a SQLite database file; check the path",),
    ),
    Case(
        "sqlite-no-table",
        "a table that does not exist (SQLite)",
        diff(),
        2,
        (
            "entity 't' (old side): cannot read table ghost from sqlite:///{tmp}/old.db:",
            "no such table: ghost",
            "check 'table:' in the mapping, and the database (and schema) in the URL",
        ),
        mapping(MAPPING.replace("old: {table: t}", "old: {table: ghost}")),
    ),
    Case(
        "refused",
        "a port where nothing listens",
        diff(old="postgresql+psycopg://root:{pw_q}@127.0.0.1:1/db"),
        2,
        (
            "cannot connect to postgresql+psycopg://root:***@127.0.0.1:1/db:",
            "Connection refused",
            CONNECT_FIX,
        ),
        max_seconds=10,
    ),
    Case(
        "no-answer-mysql",
        "a MySQL host that accepts and never answers",
        diff(old="mysql+pymysql://root:{pw_q}@127.0.0.1:{blackhole}/db"),
        2,
        (
            "cannot connect to mysql+pymysql://root:***@127.0.0.1:{blackhole}/db: no answer within 5 s",
            "check the host and port in the URL, and that the server runs and a firewall lets you through",
        ),
        needs=("blackhole",),
        max_seconds=10,
    ),
    Case(
        "no-answer-postgres",
        "a PostgreSQL host that accepts and never answers",
        check(new="postgresql+psycopg://root@127.0.0.1:{blackhole}/db"),
        2,
        ("cannot connect to postgresql+psycopg://root@127.0.0.1:{blackhole}/db: no answer within 5 s",),
        needs=("blackhole",),
        max_seconds=10,
    ),
    Case(
        "unroutable",
        "a host that does not answer (10.255.255.1)",
        diff(old="mysql+pymysql://root:{pw_q}@10.255.255.1/db"),
        2,
        ("cannot connect to mysql+pymysql://root:***@10.255.255.1/db:", "check the host"),
        max_seconds=10,
    ),
    Case(
        "mysql-wrong-password",
        "a wrong password (MariaDB)",
        diff(old="{mysql_reader_url_wrong_pw}"),
        2,
        ("cannot connect to {mysql_reader_masked}: Access denied for user '{mysql_reader}'", CONNECT_FIX),
        needs=("mysql",),
    ),
    Case(
        "postgres-unknown-user",
        "a user that does not exist (PostgreSQL)",
        diff(new="postgresql+psycopg://nobody_{pg_db}:{pw_q}@{pg_hostport}/{pg_db}"),
        2,
        (
            "cannot connect to postgresql+psycopg://nobody_{pg_db}:***@{pg_hostport}/{pg_db}:",
            'role "nobody_{pg_db}" does not exist',
            CONNECT_FIX,
        ),
        needs=("postgres",),
    ),
    Case(
        "mysql-no-database",
        "a database that does not exist (MariaDB)",
        check(old="mysql+pymysql://root@{mysql_hostport}/no_such_db"),
        2,
        (
            "cannot connect to mysql+pymysql://root@{mysql_hostport}/no_such_db:",
            "Unknown database",
            CONNECT_FIX,
        ),
        needs=("mysql",),
    ),
    Case(
        "lossy-declared-type",
        "a declared type narrower than the column (PostgreSQL)",
        check(old="{pg_url}", new="{pg_url}"),
        2,
        (
            "m.yaml:8: entity 't' column 'amount' (old side): type decimal(12,0) loses what "
            "numeric(12,2) holds (2 decimal places, rounded to 0); declare a type that holds it, or add "
            "'round: true' to compare at decimal(12,0) on purpose",
        ),
        entity("key: [id]\ncolumns:\n  amount: {type: 'decimal(12,0)'}", old="money", new="money"),
        needs=("postgres",),
    ),
    Case(
        "postgres-no-database",
        "a database that does not exist (PostgreSQL)",
        diff(new="postgresql+psycopg://root@{pg_hostport}/no_such_db"),
        2,
        ('database "no_such_db" does not exist', CONNECT_FIX),
        needs=("postgres",),
    ),
    Case(
        "mysql-no-table",
        "a table that does not exist (MariaDB)",
        diff(old="{mysql_url}"),
        2,
        (
            "entity 't' (old side): cannot read table ghost from {mysql_url}:",
            "Table '{mysql_db}.ghost' doesn't exist",
            "check 'table:' in the mapping, and the database (and schema) in the URL",
        ),
        mapping(MAPPING.replace("old: {table: t}", "old: {table: ghost}")),
        needs=("mysql",),
    ),
    Case(
        "postgres-no-table",
        "a table that does not exist (PostgreSQL)",
        check(new="{pg_url}"),
        2,
        (
            "entity 't' (new side): cannot read table ghost from {pg_url}:",
            'relation "ghost" does not exist',
            "check 'table:' in the mapping, and the database (and schema) in the URL",
        ),
        mapping(MAPPING.replace("new: {table: t}", "new: {table: ghost}")),
        needs=("postgres",),
    ),
    Case(
        "url-parameter",
        "a URL parameter the reader does not know (PostgreSQL)",
        diff(new="{pg_url}?sslmode=sometimes"),
        2,
        (
            "cannot connect to {pg_url}?sslmode=sometimes:",
            'invalid sslmode value: "sometimes"',
            "check the host, port, user, password and database in the URL, and its parameters (sslmode)",
        ),
        needs=("postgres",),
    ),
    Case(
        "mysql-no-select",
        "a user without SELECT on the table (MariaDB)",
        diff(old="{mysql_reader_url}"),
        2,
        (
            "entity 't' (old side): cannot read table t from {mysql_reader_masked}:",
            "SELECT command denied to user '{mysql_reader}'",
            "grant the URL's user SELECT on it (verify only reads)",
        ),
        needs=("mysql",),
    ),
    Case(
        "mysql-usage-only",
        "a user with no privilege on the database (MariaDB)",
        diff(old="{mysql_usage_url}"),
        2,
        ("Access denied for user '{mysql_usage}'@'%' to database '{mysql_db}'", CONNECT_FIX),
        needs=("mysql",),
    ),
    Case(
        "postgres-no-select",
        "a user without SELECT on the table (PostgreSQL)",
        diff(new="{pg_reader_url}"),
        2,
        (
            "entity 't' (new side): cannot read table t from {pg_reader_masked}:",
            "permission denied for table t",
            "grant the URL's user SELECT on it (verify only reads)",
        ),
        needs=("postgres",),
    ),
    # --- options and the run directory ----------------------------------------------------------
    Case(
        "workers-0",
        "`--workers 0`",
        diff("--workers", "0"),
        2,
        ("Invalid value for '--workers': 0 is not in the range x>=1.",),
    ),
    Case(
        "segment-rows-0",
        "`--segment-rows 0`",
        diff("--segment-rows", "0"),
        2,
        ("Invalid value for '--segment-rows': 0 is not in the range x>=1.",),
    ),
    Case(
        "bad-format",
        "`--format xml`",
        diff("--format", "xml"),
        2,
        ("Invalid value for '--format': 'xml' is not one of 'text', 'json'.",),
    ),
    Case(
        "out-is-a-file",
        "`--out` is a regular file",
        diff(out="{tmp}/m.yaml"),
        2,
        ("Invalid value for '--out': Directory '{tmp}/m.yaml' is a file.",),
    ),
    Case(
        "out-under-a-file",
        "`--out` under a regular file",
        diff(out="{tmp}/m.yaml/run"),
        2,
        (
            "cannot create the run directory {tmp}/m.yaml/run: {tmp}/m.yaml is a file",
            "choose a writable --out",
        ),
    ),
    Case(
        "out-not-writable",
        "`--out` where not even root may write (sysfs)",
        diff(out="/sys/verify-run-{case_id}"),
        2,
        ("cannot write the run directory /sys/verify-run-", "choose a writable --out"),
        needs=("linux",),
    ),
    Case(
        "out-holds-files",
        "`--out` is a directory that holds other files",
        diff(),
        2,
        ("--out {tmp}/run already holds files (an earlier run?); choose a new directory or remove that one",),
        files={"run/notes.txt": "not a run\n"},
    ),
]


# --- the stores every case may use --------------------------------------------------------------


def sqlite_stores(tmp: Path) -> None:
    """old.db and new.db: t (2 rows, the same), empty, counts (a bad value in old), t_ident, t_text."""
    counts = [(i, str(i)) for i in range(1, 41)]
    for name in ("old", "new"):
        with sqlite3.connect(tmp / f"{name}.db") as c:
            c.execute("CREATE TABLE t (id INTEGER, name TEXT, amount INTEGER, created TEXT)")
            c.executemany(
                "INSERT INTO t VALUES (?, ?, ?, ?)",
                [(1, "a", 10, "2024-01-01 00:00:00"), (2, "b", 20, "2024-01-02 00:00:00")],
            )
            c.execute("CREATE TABLE empty (id INTEGER, name TEXT)")
            c.execute("CREATE TABLE counts (id INTEGER, qty TEXT)")
            c.executemany("INSERT INTO counts VALUES (?, ?)", counts)
            if name == "old":
                c.execute("UPDATE counts SET qty = 'twelve' WHERE id = 35")  # in segment 3 of 0..3
            c.execute("CREATE TABLE t_ident (ident INTEGER, name TEXT, amount INTEGER)")
            c.execute("CREATE TABLE t_text (id INTEGER, name TEXT, amount TEXT)")
            c.execute("INSERT INTO t_text VALUES (1, 'a', '10')")


def _hostport(url: str) -> str:
    u = SourceURL.parse(url)
    return f"{u.host}:{u.port}"


@pytest.fixture(scope="module")
def mysql_store(mysql_db) -> Iterator[dict[str, str]]:  # noqa: ANN001
    """Table t, and two users: one with SELECT on another table only, one with no privilege."""
    tag = uuid.uuid4().hex[:8]
    reader, usage = f"vt_r_{tag}", f"vt_u_{tag}"
    mysql_db.execute(
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), amount INT)",
        "INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20)",
        "CREATE TABLE other (id INT)",
        f"CREATE USER '{reader}'@'%' IDENTIFIED BY '{PW}'",
        f"GRANT SELECT ON `{mysql_db.name}`.`other` TO '{reader}'@'%'",
        f"CREATE USER '{usage}'@'%' IDENTIFIED BY '{PW}'",
        f"GRANT USAGE ON *.* TO '{usage}'@'%'",
    )
    hostport = _hostport(mysql_db.url)
    base = f"mysql+pymysql://{{user}}:{{pw}}@{hostport}/{mysql_db.name}"
    try:
        yield {
            "mysql_url": mysql_db.url,
            "mysql_db": mysql_db.name,
            "mysql_hostport": hostport,
            "mysql_reader": reader,
            "mysql_reader_url": base.format(user=reader, pw=quote(PW, safe="")),
            "mysql_reader_url_wrong_pw": base.format(user=reader, pw="wrong-" + quote(PW, safe="")),
            "mysql_reader_masked": base.format(user=reader, pw="***"),
            "mysql_usage": usage,
            "mysql_usage_url": base.format(user=usage, pw=quote(PW, safe="")),
        }
    finally:
        mysql_db.execute(f"DROP USER IF EXISTS '{reader}'@'%'", f"DROP USER IF EXISTS '{usage}'@'%'")


@pytest.fixture(scope="module")
def postgres_store(postgres_db) -> Iterator[dict[str, str]]:  # noqa: ANN001
    """Table t, and a login role that may connect but has no SELECT on it."""
    reader = f"vt_r_{uuid.uuid4().hex[:8]}"
    postgres_db.execute(
        "CREATE TABLE t (id INT PRIMARY KEY, name VARCHAR(20), amount INT)",
        "INSERT INTO t VALUES (1, 'a', 10), (2, 'b', 20)",
        "CREATE TABLE money (id INT PRIMARY KEY, amount NUMERIC(12,2))",
        f"CREATE ROLE {reader} LOGIN PASSWORD '{PW}'",
    )
    hostport = _hostport(postgres_db.url)
    base = f"postgresql+psycopg://{reader}:{{pw}}@{hostport}/{postgres_db.name}"
    try:
        yield {
            "pg_url": postgres_db.url,
            "pg_db": postgres_db.name,
            "pg_hostport": hostport,
            "pg_reader_url": base.format(pw=quote(PW, safe="")),
            "pg_reader_masked": base.format(pw="***"),
        }
    finally:
        postgres_db.execute(f"DROP ROLE IF EXISTS {reader}")


@pytest.fixture(scope="module")
def blackhole_store() -> Iterator[dict[str, str]]:
    """A port whose listener never accepts: the kernel completes the handshake, no server greets."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield {"blackhole": str(sock.getsockname()[1])}
    finally:
        sock.close()


@pytest.fixture(scope="module")
def linux_store() -> dict[str, str]:
    if not os.path.isdir("/sys/kernel"):
        pytest.skip("needs Linux sysfs, where even root cannot create a directory")
    return {}


def fill(text: str, values: dict[str, str]) -> str:
    """Replace every {name} placeholder; YAML's own braces ({table: t}) are left alone."""
    return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), text)


def verify_command() -> list[str]:
    """The installed console script next to this Python, else the module."""
    script = Path(sys.executable).with_name("verify")
    return [str(script)] if script.exists() else [sys.executable, "-m", "verify.cli"]


def tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("VERIFY_OLD_URL", "VERIFY_NEW_URL")}
    return subprocess.run(
        [*verify_command(), *argv],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


MARKS = {"mysql": pytest.mark.mysql, "postgres": pytest.mark.postgres}


def params() -> list[object]:
    return [pytest.param(c, id=c.id, marks=[MARKS[n] for n in c.needs if n in MARKS]) for c in CASES]


@pytest.mark.parametrize("case", params())
def test_bad_input(case: Case, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    sqlite_stores(tmp_path)
    values = {
        "tmp": str(tmp_path),
        "old": f"sqlite:///{tmp_path / 'old.db'}",
        "new": f"sqlite:///{tmp_path / 'new.db'}",
        "pw": PW,
        "pw_q": quote(PW, safe=""),
        "case_id": f"{case.id}-{uuid.uuid4().hex[:6]}",
    }
    for need in case.needs:
        values.update(request.getfixturevalue(f"{need}_store"))
    for name, text in {"m.yaml": MAPPING, **case.files}.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fill(text, values))
    before = tree(tmp_path)

    started = time.monotonic()
    proc = run(
        [fill(a, values) for a in case.argv], tmp_path, {k: fill(v, values) for k, v in case.env.items()}
    )
    seconds = time.monotonic() - started

    output = proc.stdout + proc.stderr
    assert proc.returncode == case.exit, output
    message = proc.stderr if case.stream == "stderr" else proc.stdout
    for fragment in case.says:
        assert fill(fragment, values) in message, output
    assert "Traceback" not in output
    assert PW not in output and quote(PW, safe="") not in output
    assert seconds < case.max_seconds, f"took {seconds:.1f} s"
    if case.exit == 2:
        assert proc.stdout == ""  # bad input: one message on stderr, nothing else
        assert tree(tmp_path) == before  # nothing written: no run directory, no .verify/
    else:
        (run_json,) = tmp_path.glob("**/run.json")
        status = json.loads(run_json.read_text())["status"]
        assert status == ("partial" if case.exit == 3 else "complete")


def test_the_catalogue_covers_every_exit_code_and_enough_inputs():
    assert len(CASES) >= 30
    assert len({c.id for c in CASES}) == len(CASES)
    assert {c.exit for c in CASES} == {0, 2, 3}  # 1 is a finding, not a bad input
    assert {c.argv[0] for c in CASES} == {"diff", "check"}


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    sqlite_stores(tmp_path)
    (tmp_path / "m.yaml").write_text(MAPPING)
    proc = run(
        [
            "--debug",
            "diff",
            "--mapping",
            "m.yaml",
            "--old",
            "old-db.example.com",
            "--new",
            "sqlite:///new.db",
        ],
        tmp_path,
        {},
    )
    assert "Traceback (most recent call last)" in proc.stderr
    assert "verify.errors.SourceError: 'old-db.example.com' for --old" in proc.stderr
    assert proc.returncode != 0


# --- the README's table -------------------------------------------------------------------------


def readme_table() -> str:
    """The README's "Bad input" table, rendered from CASES."""

    def show(text: str) -> str:
        text = fill(text, {"tmp": "DIR", "pw": "PASSWORD", "pw_q": "PASSWORD"})
        text = re.sub(r"\{(\w+)\}", lambda m: m.group(1).upper(), text).replace("DIR/", "")
        return "`" + text.replace("|", "\\|").replace("`", "'") + "`"

    rows = ["| bad input | command | exit | the message says |", "|---|---|---|---|"]
    for c in CASES:
        says = " … ".join(show(s) for s in c.says)
        rows.append(f"| {c.what} | `verify {c.argv[0]}` | {c.exit} | {says} |")
    return "\n".join(rows)


def test_the_readme_lists_every_case():
    sync_section(START, END, readme_table())
