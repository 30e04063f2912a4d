"""The mapping loader: the full form loads into the model; every broken file says where and why.

Each broken mapping is written to a file with its problems' line numbers known, and the test
checks the MappingError's `.problems` (line, message) and its rendered `path:line:` text.
"""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from verify.errors import MappingError
from verify.mapping import CanonicalType, KeyColumn, Tolerance, load_mapping

FULL = """\
version: 1
entities:
  orders:
    old: {table: orders}
    new: {table: orders}
    key: [id]
    columns: "*"
  line_item:
    old: {table: line_items, where: "deleted = 0", timezone: America/New_York}
    new: {table: ads.line_item, timezone: {column: tz}}
    key:
      - advertiser_id
      - line_item_id: {old: id, new: line_item_id, type: bigint}
    columns:
      budget: {old: "budget_micros / 1000000", new: budget, type: "decimal(18,6)"}
      state:  {old: status_code, new: state, map_old: {0: DRAFT, 1: READY, 2: DELIVERING}}
      name:   {normalize: [trim, nfc]}
      ctr:    {tolerance: 0.001, type: float}
      spend:  {tolerance: {abs: 0.01, rel: 0.0001}}
      start_time: {timezone: Europe/Berlin, type: "timestamp(3)"}
      end_time: {}
    ignore: [updated_at]
    rules:
      - name: far_future_end_date
        column: end_time
        when: "old IS NULL AND new = '2038-01-19 03:14:07'"
        severity: accept
        ticket: MIG-142
        owner: ads-team
        note: the new store writes a sentinel for open-ended flights
        expires: 2030-01-31
      - name: soft_deleted
        kind: missing_in_new
        severity: warn
  report:
    old: {query: "WITH r AS (SELECT * FROM report) SELECT day, clicks FROM r;"}
    new: {query: "select day, clicks from report_v2"}
    key: [day]
"""


def entity(body: str) -> str:
    """HEAD followed by more lines of entity 't', given at any indentation."""
    return HEAD + textwrap.indent(textwrap.dedent(body), "    ")


def write(tmp_path: Path, text: str, name: str = "mapping.yaml") -> str:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


def problems(tmp_path: Path, text: str) -> tuple[MappingError, list[tuple[int | None, str]]]:
    path = write(tmp_path, text)
    with pytest.raises(MappingError) as info:
        load_mapping(path)
    assert info.value.path == path
    return info.value, info.value.problems


def one_problem(tmp_path: Path, text: str) -> tuple[int | None, str]:
    err, found = problems(tmp_path, text)
    assert len(found) == 1, found
    line, message = found[0]
    assert f"{err.path}:{line}: {message}" in str(err)
    return line, message


# Line 1-5 of most broken files below: one valid entity to hang the problem on.
HEAD = """\
version: 1
entities:
  t:
    old: {table: t}
    new: {table: t}
"""


# --- what loads ---------------------------------------------------------------------------------


def test_full_form_loads_into_the_model(tmp_path):
    m = load_mapping(write(tmp_path, FULL))
    assert list(m.entities) == ["orders", "line_item", "report"]
    assert len(m.sha256) == 64

    orders = m.entities["orders"]
    assert orders.all_shared and orders.columns == ()
    assert orders.key == (KeyColumn("id", "id", "id"),)
    assert orders.old.table == orders.new.table == "orders"

    li = m.entities["line_item"]
    assert li.line == 8
    assert li.old.table == "line_items" and li.old.where == "deleted = 0"
    assert li.old.timezone == "America/New_York" and li.old.timezone_column is None
    assert li.new.table == "ads.line_item"
    assert li.new.timezone is None and li.new.timezone_column == "tz"
    assert li.key == (
        KeyColumn("advertiser_id", "advertiser_id", "advertiser_id"),
        KeyColumn("line_item_id", "id", "line_item_id", CanonicalType("int")),
    )
    assert li.key_names == ("advertiser_id", "line_item_id")
    assert not li.all_shared
    cols = {c.name: c for c in li.columns}
    assert list(cols) == ["budget", "state", "name", "ctr", "spend", "start_time", "end_time"]
    assert (cols["budget"].old, cols["budget"].new) == ("budget_micros / 1000000", "budget")
    assert cols["budget"].type == CanonicalType("decimal", 18, 6)
    assert cols["budget"].line == 15
    assert cols["state"].map_old == ((0, "DRAFT"), (1, "READY"), (2, "DELIVERING"))
    assert cols["state"].map_new is None
    assert (cols["name"].old, cols["name"].new, cols["name"].normalize) == ("name", "name", ("trim", "nfc"))
    assert cols["ctr"].tolerance == Tolerance(abs=0.001, rel=0.0)
    assert cols["ctr"].type == CanonicalType("float")
    assert cols["spend"].tolerance == Tolerance(abs=0.01, rel=0.0001)
    assert cols["start_time"].timezone == "Europe/Berlin"
    assert cols["start_time"].type == CanonicalType("timestamp", 3)
    e = cols["end_time"]
    assert (e.old, e.new, e.type, e.normalize, e.tolerance, e.timezone) == (
        "end_time",
        "end_time",
        None,
        (),
        None,
        None,
    )
    assert li.ignore == ("updated_at",)

    sentinel, soft = li.rules
    assert (sentinel.name, sentinel.column, sentinel.kind, sentinel.severity) == (
        "far_future_end_date",
        "end_time",
        None,
        "accept",
    )
    assert sentinel.when == "old IS NULL AND new = '2038-01-19 03:14:07'"
    assert (sentinel.ticket, sentinel.owner) == ("MIG-142", "ads-team")
    assert sentinel.note == "the new store writes a sentinel for open-ended flights"
    assert sentinel.expires == dt.date(2030, 1, 31)
    assert sentinel.line == 24
    assert (soft.name, soft.kind, soft.column, soft.severity, soft.when) == (
        "soft_deleted",
        "missing_in_new",
        None,
        "warn",
        None,
    )

    report = m.entities["report"]
    assert report.old.table is None
    assert report.old.query == "WITH r AS (SELECT * FROM report) SELECT day, clicks FROM r"
    assert report.new.query == "select day, clicks from report_v2"
    assert report.old.source_name == "(query)"


def test_shorthand_sides_and_all_shared_columns(tmp_path):
    m = load_mapping(
        write(
            tmp_path,
            """\
        version: 1
        entities:
          orders:
            old: orders
            new: shop.orders
            key: [region, id]
            ignore: updated_at
        """,
        )
    )
    e = m.entities["orders"]
    assert (e.old.table, e.new.table) == ("orders", "shop.orders")
    assert e.key_names == ("region", "id")  # composite key, in the given order
    assert e.all_shared and e.columns == ()  # no columns: means "*"
    assert e.ignore == ("updated_at",)


def test_a_column_with_an_empty_value_is_compared_as_it_is(tmp_path):
    # `end_time:` with nothing after it is YAML null; it means the same as `end_time: {}`.
    m = load_mapping(
        write(
            tmp_path,
            entity("""\
            key: [id]
            columns:
              end_time:
              name: {}
        """),
        )
    )
    cols = m.entities["t"].columns
    assert [(c.name, c.old, c.new, c.line) for c in cols] == [
        ("end_time", "end_time", "end_time", 8),
        ("name", "name", "name", 9),
    ]


def test_a_key_with_an_empty_body_uses_its_own_name(tmp_path):
    m = load_mapping(
        write(
            tmp_path,
            entity("""\
            key:
              - id: {}
              - region:
        """),
        )
    )
    assert m.entities["t"].key == (KeyColumn("id", "id", "id"), KeyColumn("region", "region", "region"))


def test_the_same_file_gives_the_same_digest_and_an_edit_changes_it(tmp_path):
    a = load_mapping(write(tmp_path, FULL, "a.yaml"))
    b = load_mapping(write(tmp_path, FULL, "b.yaml"))
    c = load_mapping(write(tmp_path, FULL.replace("severity: warn", "severity: block"), "c.yaml"))
    assert a.sha256 == b.sha256 != c.sha256


# --- YAML-level errors --------------------------------------------------------------------------


def test_yaml_syntax_error_names_the_file_and_line(tmp_path):
    err, found = problems(
        tmp_path,
        """\
        version: 1
        entities:
          t:
            old: {table: t
            new: {table: t}
        """,
    )
    assert len(found) == 1
    line, message = found[0]
    assert line == 5  # where the parser gives up
    assert message.startswith("YAML syntax error")
    assert f"{err.path}:5: YAML syntax error" in str(err)


def test_duplicate_yaml_keys_are_errors_with_the_second_line(tmp_path):
    err, found = problems(
        tmp_path,
        entity("""\
            key: [id]
            columns:
              name: {}
              name: {normalize: [trim]}
        """),
    )
    assert found == [(9, "key 'name' is given twice")]


def test_duplicate_keys_are_reported_with_the_other_problems(tmp_path):
    # Line 5 repeats `old:`; line 9 names an unknown type: one MappingError, both problems.
    _, found = problems(
        tmp_path,
        """\
        version: 1
        entities:
          t:
            old: {table: t}
            old: {table: u}
            new: {table: t}
            key: [id]
            columns:
              x: {type: money}
        """,
    )
    assert sorted(line for line, _ in found) == [5, 9]
    assert any("'old'" in m and "twice" in m for _, m in found)
    assert any("'money'" in m for _, m in found)


def test_a_missing_file_is_a_mapping_error(tmp_path):
    with pytest.raises(MappingError, match="not found"):
        load_mapping(str(tmp_path / "nope.yaml"))


@pytest.mark.parametrize("text", ["", "- a\n- b\n", "just a string\n"])
def test_a_file_that_is_not_a_mapping(tmp_path, text):
    line, message = one_problem(tmp_path, text)
    assert line == 1 and "version: 1" in message


# --- unknown keys, at every level ---------------------------------------------------------------

UNKNOWN = {
    "top": (
        "version: 1\nflavour: x\nentities:\n  t: {old: t, new: t, key: [id]}\n",
        "flavour",
        2,
        "the mapping file",
        "version, entities",
    ),
    "entity": (
        HEAD + "    key: [id]\n    colums: '*'\n",
        "colums",
        7,
        "entity 't'",
        "old, new, key, columns, ignore, rules, segment_by",
    ),
    "side": (
        "version: 1\nentities:\n  t:\n    old: {table: t}\n    new:\n      table: t\n"
        "      wher: x > 1\n    key: [id]\n",
        "wher",
        7,
        "entity 't' (new side)",
        "table, query, where, timezone",
    ),
    "side timezone": (
        "version: 1\nentities:\n  t:\n    old:\n      table: t\n      timezone:\n"
        "        column: tz\n        zone: UTC\n    new: t\n    key: [id]\n",
        "zone",
        8,
        "entity 't' (old side) timezone",
        "column",
    ),
    "key": (
        HEAD + "    key:\n      - id: {old: a, neww: b}\n",
        "neww",
        7,
        "entity 't' key 'id'",
        "old, new, type",
    ),
    "column": (
        HEAD + "    key: [id]\n    columns:\n      x:\n        old: a\n        od: b\n",
        "od",
        10,
        "entity 't' column 'x'",
        "old, new, type, round, map_old, map_new, normalize, tolerance, timezone",
    ),
    "tolerance": (
        HEAD + "    key: [id]\n    columns:\n      x:\n        tolerance:\n"
        "          abs: 1\n          relative: 2\n",
        "relative",
        11,
        "entity 't' column 'x' tolerance",
        "abs, rel",
    ),
    "rule": (
        HEAD + "    key: [id]\n    rules:\n      - name: r\n        severity: warn\n        whenn: old > 1\n",
        "whenn",
        10,
        "entity 't' rule 'r'",
        "name, column, kind, when, severity, owner, ticket, note, expires",
    ),
}


@pytest.mark.parametrize("level", list(UNKNOWN))
def test_unknown_key_names_the_key_the_line_and_the_valid_keys(tmp_path, level):
    text, key, want_line, where, valid = UNKNOWN[level]
    err, found = problems(tmp_path, text)
    unknown = [(line, m) for line, m in found if f"'{key}'" in m]
    assert len(unknown) == 1, found
    line, message = unknown[0]
    assert line == want_line
    assert f"unknown key '{key}' in {where}" in message
    assert message.endswith(f"valid keys: {valid}")
    assert f"{err.path}:{want_line}: unknown key '{key}'" in str(err)


# --- entities, sides and keys -------------------------------------------------------------------


def test_missing_old_new_and_key_are_each_reported(tmp_path):
    _, found = problems(
        tmp_path,
        """\
        version: 1
        entities:
          t:
            columns: '*'
        """,
    )
    messages = [m for _, m in found]
    assert len(found) == 3
    assert any("no 'old:' side" in m for m in messages)
    assert any("no 'new:' side" in m for m in messages)
    assert any("no 'key'" in m and "key: [id]" in m for m in messages)
    assert all(line in (3, 4) for line, _ in found)


def test_an_empty_key_list_is_an_error(tmp_path):
    # `key: []` leaves the entity without a key; it must not load (and must not vanish).
    line, message = one_problem(tmp_path, HEAD + "    key: []\n")
    assert line == 6
    assert "key" in message


@pytest.mark.parametrize(
    "side, want",
    [
        ("{table: t, query: select * from t}", "exactly one of 'table' or 'query'"),
        ("{where: 'x > 1'}", "exactly one of 'table' or 'query'"),
        ("{query: delete from t}", "must be one SELECT"),
        ("{query: 'select 1; drop table t'}", "must be one SELECT"),
        ("{query: 'update t set x = 1'}", "must be one SELECT"),
        ("{table: 't; drop table t'}", "not a plain [schema.]table name"),
        ("{table: t, where: 'x = 1; drop table t'}", "one SQL condition"),
        ("[t]", "table name or a mapping"),
    ],
)
def test_bad_side(tmp_path, side, want):
    line, message = one_problem(
        tmp_path,
        f"""\
        version: 1
        entities:
          t:
            old: {side}
            new: t
            key: [id]
        """,
    )
    assert line == 4
    assert message.startswith("entity 't' (old side)")
    assert want in message


@pytest.mark.parametrize(
    "key, want_sides",
    [
        ("['lower(id)']", ("old", "new")),
        ("[{id: {old: 'id + 1', new: id}}]", ("old",)),
        ("[{id: {old: id, new: CAST(id AS TEXT)}}]", ("new",)),
    ],
)
def test_a_key_must_be_a_plain_column(tmp_path, key, want_sides):
    _, found = problems(tmp_path, HEAD + f"    key: {key}\n")
    sides = [side for _, m in found for side in ("old", "new") if f"on the {side} side" in m]
    assert sorted(sides) == sorted(want_sides)
    assert all(line == 6 and "must be a plain column" in m for line, m in found)


def test_a_key_named_twice(tmp_path):
    line, message = one_problem(tmp_path, HEAD + "    key: [id, id]\n")
    assert line == 6 and "named twice" in message


def test_key_and_listed_column_overlap_and_ignored_listed_column(tmp_path):
    _, found = problems(
        tmp_path,
        entity("""\
            key: [id]
            ignore: [x]
            columns:
              id: {}
              x: {}
        """),
    )
    assert found == [
        (9, "entity 't': column 'id' is a key column; keys are always compared"),
        (10, "entity 't': column 'x' is both listed and ignored; remove one"),
    ]


# --- columns: types, normalization, tolerance, time zones, expressions ---------------------------


@pytest.mark.parametrize(
    "ctype, want",
    [
        ("money", "unknown type 'money'"),
        ("'timestamp(9)'", "timestamp precision must be 0, 3 or 6"),
        ("'decimal(40,2)'", "decimal needs 1 <= precision <= 38"),
        ("'decimal(4,6)'", "scale <= precision"),
        ("'int(11)'", "int takes no size"),
    ],
)
def test_bad_type_lists_the_choices(tmp_path, ctype, want):
    line, message = one_problem(tmp_path, HEAD + f"    key: [id]\n    columns:\n      x: {{type: {ctype}}}\n")
    assert line == 8
    assert message.startswith("entity 't' column 'x': ")
    assert want in message
    if "unknown type" in want or "takes no size" in want:
        assert "int, uint, decimal(P,S), float, float(24), string, bool, date, timestamp(0|3|6)" in message
        assert "binary, json, geometry, set, array, uuid, time" in message


def test_bad_key_type(tmp_path):
    line, message = one_problem(tmp_path, HEAD + "    key: [{id: {type: guid}}]\n")
    assert line == 6 and "unknown type 'guid'" in message and "key 'id'" in message


@pytest.mark.parametrize(
    "types",
    [
        "decimal",
        "DECIMAL(18, 6)",
        "numeric(10)",
        "bigint unsigned",
        "timestamp",
        "timestamptz(0)",
        "datetime(3)",
        "varchar(20)",
        "double",
        "boolean",
        "date",
        "text",
    ],
)
def test_type_spellings_that_parse(tmp_path, types):
    m = load_mapping(write(tmp_path, HEAD + f"    key: [id]\n    columns:\n      x: {{type: '{types}'}}\n"))
    assert m.entities["t"].columns[0].type is not None


def test_bad_normalization_lists_the_choices(tmp_path):
    line, message = one_problem(
        tmp_path, HEAD + "    key: [id]\n    columns:\n      x:\n        normalize: [trim, upper]\n"
    )
    assert line == 9
    assert "unknown normalization 'upper'" in message
    assert "trim, rtrim, lower, nfc" in message


@pytest.mark.parametrize("tolerance", ["-1", "abc", "true", "{abs: -0.5}", "{rel: x}", "[1, 2]"])
def test_bad_tolerance(tmp_path, tolerance):
    line, message = one_problem(
        tmp_path, HEAD + f"    key: [id]\n    columns:\n      x: {{tolerance: {tolerance}}}\n"
    )
    assert line == 8
    assert message.startswith("entity 't' column 'x': tolerance")


def test_bad_time_zones_on_a_side_and_on_a_column(tmp_path):
    _, found = problems(
        tmp_path,
        """\
        version: 1
        entities:
          t:
            old: {table: t, timezone: Mars/Olympus_Mons}
            new: {table: t, timezone: {column: '1 + tz'}}
            key: [id]
            columns:
              at: {timezone: EST5EDT_typo}
        """,
    )
    assert [line for line, _ in found] == [4, 5, 8]
    assert "unknown time zone 'Mars/Olympus_Mons'" in found[0][1]
    assert "needs a column name" in found[1][1]
    assert "unknown time zone 'EST5EDT_typo'" in found[2][1]


@pytest.mark.parametrize(
    "column, line, side",
    [
        ("x: {old: 'a +* (', new: b}", 8, "old"),
        ("x:\n        old: a\n        new: 'CASE WHEN b THEN'", 10, "new"),
        ("x: {old: 'price = ', new: b}", 8, "old"),
    ],
)
def test_expression_that_does_not_parse_as_sql(tmp_path, column, line, side):
    found_line, message = one_problem(tmp_path, HEAD + f"    key: [id]\n    columns:\n      {column}\n")
    assert found_line == line
    assert f"column 'x' ({side} side): expression" in message
    assert "does not parse as SQL" in message


def test_bad_value_map(tmp_path):
    line, message = one_problem(tmp_path, HEAD + "    key: [id]\n    columns:\n      x: {map_old: [1, 2]}\n")
    assert line == 8 and "value map must be a non-empty mapping" in message


def test_columns_must_be_star_or_a_mapping(tmp_path):
    line, message = one_problem(tmp_path, HEAD + "    key: [id]\n    columns: [a, b]\n")
    assert line == 7 and "'columns' must be \"*\"" in message


# --- rules --------------------------------------------------------------------------------------


def test_bad_rule_severity_kind_expression_and_expiry(tmp_path):
    _, found = problems(
        tmp_path,
        entity("""\
            key: [id]
            rules:
              - name: r1
                severity: fatal
              - name: r2
                kind: vanished
                severity: warn
              - name: r3
                column: x
                when: "old = "
                severity: block
              - name: r4
                severity: accept
                expires: next year
              - name: r5
                column: x
                kind: missing_in_new
                severity: warn
              - severity: warn
        """),
    )
    by_line = dict(found)
    assert "severity must be one of accept, warn, block (got 'fatal')" in by_line[9]
    assert "rule 'r1'" in by_line[9]
    assert "kind must be one of missing_in_new, extra_in_new, duplicate_key (got 'vanished')" in by_line[11]
    assert "rule 'r3'" in by_line[15] and "does not parse as SQL" in by_line[15]
    assert "expires must be a date" in by_line[19]
    assert "not both" in by_line[20]
    assert "needs a 'name'" in by_line[24]
    assert len(found) == 6


def test_a_rule_missing_its_severity(tmp_path):
    line, message = one_problem(
        tmp_path, HEAD + "    key: [id]\n    rules:\n      - name: r\n        column: x\n"
    )
    assert line == 8 and "severity must be one of accept, warn, block (got None)" in message


def test_a_rule_defined_twice(tmp_path):
    _, found = problems(
        tmp_path,
        entity("""\
            key: [id]
            rules:
              - {name: r, severity: warn}
              - {name: r, severity: block}
        """),
    )
    assert len(found) == 1 and "rule 'r' is defined twice" in found[0][1]


# --- version and entities -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "head, want",
    [
        ("", "the mapping has no 'version'; add 'version: 1' at the top"),
        ("version: 2\n", "'version' must be 1 (got 2)"),
        ("version: '1'\n", "'version' must be 1 (got '1')"),
    ],
)
def test_version_must_be_1(tmp_path, head, want):
    line, message = one_problem(tmp_path, head + "entities:\n  t: {old: t, new: t, key: [id]}\n")
    assert line == 1
    assert want in message


@pytest.mark.parametrize(
    "text", ["version: 1\n", "version: 1\nentities: {}\n", "version: 1\nentities: [a]\n"]
)
def test_entities_must_be_a_non_empty_mapping(tmp_path, text):
    _, message = one_problem(tmp_path, text)
    assert "'entities' must map entity names" in message


def test_segment_by_must_be_a_key_column(tmp_path):
    line, message = one_problem(tmp_path, HEAD + "    key: [a, b]\n    segment_by: c\n")
    assert line == 7 and "segment_by 'c' is not a key column; key columns: a, b" in message


# --- many problems at once ----------------------------------------------------------------------


def test_every_problem_of_a_file_is_reported_at_once_with_its_line(tmp_path):
    err, found = problems(
        tmp_path,
        """\
        version: 1
        entities:
          a:
            old: {table: a, timezone: Nowhere/City}
            new: {table: a}
            key: ['upper(id)']
            columns:
              x: {type: money}
              y: {normalize: [shout]}
          b:
            old: {table: b}
            key: [id]
            extra: 1
        """,
    )
    lines = sorted(line for line, _ in found)
    assert lines == [4, 6, 6, 8, 9, 11, 13]
    text = str(err)
    assert text.startswith(f"7 problems in {err.path}:")
    for line in (4, 6, 8, 9, 13):
        assert f"{err.path}:{line}: " in text


def test_more_than_twenty_problems_are_capped(tmp_path):
    columns = "".join(f"      c{i}: {{type: bogus{i}}}\n" for i in range(25))
    err, found = problems(tmp_path, HEAD + "    key: [id]\n    columns:\n" + columns)
    assert len(found) == 25
    assert [line for line, _ in found] == list(range(8, 33))
    text = str(err)
    assert text.startswith(f"25 problems in {err.path}:")
    assert "bogus19" in text and "bogus20" not in text
    assert text.rstrip().endswith("… and 5 more")
    assert text.count(f"{err.path}:") == 20 + 1  # 20 shown lines and the heading
