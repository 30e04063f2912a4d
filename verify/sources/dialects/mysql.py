"""MySQL and MariaDB: PyMySQL for probes, ConnectorX for rows, information_schema for types."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from verify.errors import SourceError
from verify.settings import probe_timeout
from verify.sources.columns import SourceColumn
from verify.sources.dialects.base import STATEMENT_TIMEOUT, Dialect

if TYPE_CHECKING:
    from verify.mapping.model import Side
    from verify.mapping.types import CanonicalType
    from verify.sources.urls import SourceURL

GEOMETRIES = (
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
    "geomcollection",
)
INTEGERS = ("tinyint", "smallint", "mediumint", "int", "integer", "bigint", "year")
TEXTS = ("varchar", "tinytext", "text", "mediumtext", "longtext")
BINARIES = ("binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob")
# MySQL zero dates ('0000-00-00', '2024-00-15') read as NULL instead of failing the reader.
ZERO_DATE_GUARD = "CASE WHEN MONTH({0}) = 0 OR DAYOFMONTH({0}) = 0 THEN NULL ELSE {0} END"

# PyMySQL's result type codes, as the SQLAlchemy reader meets them, and their flags.
_UNSIGNED, _ENUM, _SET, _BINARY_CHARSET = 32, 256, 2048, 63


@dataclass(frozen=True)
class MySQL(Dialect):
    """MySQL 8 and MariaDB 10+; `mariadb` is what the server said it is."""

    family: ClassVar[str] = "mysql"
    default_port: ClassVar[int | None] = 3306
    readers: ClassVar[tuple[str, ...]] = ("connectorx", "sqlalchemy")
    checksums: ClassVar[bool] = True
    sample_in_sql: ClassVar[bool] = True
    backslash_escapes: ClassVar[bool] = True
    transient_words: ClassVar[tuple[str, ...]] = (
        *Dialect.transient_words,
        "lost connection",
        "server disconnected",  # ConnectorX: the session was killed or cut under it
        "ioerror",
        "gone away",
        "server shutdown",
        "connection was killed",
        "query execution was interrupted",  # KILL QUERY, or the statement timeout
        "deadlock found",
        "lock wait timeout",
        "(2013",
        "(2006",
        "(2003",
    )
    mariadb: bool = False

    # -- connecting ---------------------------------------------------------------------------

    def connect_args(self, url: SourceURL) -> dict[str, Any]:
        return {
            "host": url.host or "127.0.0.1",
            "port": url.port or self.default_port,
            "user": url.username,
            "password": url.password or "",
            "database": url.database,
        }

    def connect(self, url: SourceURL, timeout: int, answer_timeout: bool = False, **options: Any) -> Any:
        """A PyMySQL connection. With `answer_timeout`, every read and write of the session is
        bounded too: a host that accepts the connection but never greets (a hung server, a
        firewall that swallows packets) fails after `timeout` seconds instead of hanging."""
        from verify.sources.drivers import connecting

        def open_connection() -> Any:
            import pymysql

            extra = {"read_timeout": timeout, "write_timeout": timeout} if answer_timeout else {}
            return pymysql.connect(**self.connect_args(url), connect_timeout=timeout, **extra, **options)

        return connecting(url, timeout, open_connection)

    def probe(self, url: SourceURL) -> MySQL:
        conn = self.connect(url, probe_timeout(), answer_timeout=True)
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT VERSION()")
                (version,) = cur.fetchone()
        finally:
            conn.close()
        return MySQL(mariadb="mariadb" in str(version).lower())

    def connectorx_url(self, url: SourceURL) -> str:
        return url.render("mysql")

    def session_setup(self) -> list[str]:
        timeout = (
            f"SET SESSION max_statement_time = {STATEMENT_TIMEOUT}"
            if self.mariadb
            else f"SET SESSION max_execution_time = {STATEMENT_TIMEOUT * 1000}"
        )
        return ["SET SESSION TRANSACTION READ ONLY", "SET SESSION time_zone = '+00:00'", timeout]

    # -- SQL text -----------------------------------------------------------------------------

    def quote(self, name: str) -> str:
        return "`" + name.replace("`", "``") + "`"

    def byte_order(self, column_sql: str) -> str:
        collation = "utf8mb4_nopad_bin" if self.mariadb else "utf8mb4_0900_bin"
        return f"CONVERT({column_sql} USING utf8mb4) COLLATE {collation}"

    def as_text(self, sql: str) -> str:
        return f"CAST({sql} AS CHAR)"

    # -- the catalog --------------------------------------------------------------------------

    def columns(self, reader: Any, side: Side) -> list[SourceColumn]:
        if side.table is None:
            return self._describe(reader.url, side)
        schema, _, name = side.table.rpartition(".")
        where_schema = self.literal(schema) if schema else "DATABASE()"
        where = f"TABLE_SCHEMA = {where_schema} AND TABLE_NAME = {self.literal(name)}"
        rows = reader.read(
            "SELECT COLUMN_NAME AS name, DATA_TYPE AS data_type, COLUMN_TYPE AS column_type, "
            f"NUMERIC_PRECISION AS p, NUMERIC_SCALE AS s FROM information_schema.COLUMNS WHERE {where} "
            "ORDER BY ORDINAL_POSITION"
        )
        if rows.height == 0:  # no such table, or no privilege on it: the server's own words
            reader.read(self.select(["1"], side.table, None, ["1 = 0"]))
            raise SourceError(f"table {side.table} has no columns that this user can see", reader.masked_url)
        json = self._json_columns(reader, where_schema, name)
        return [
            _catalog_column(str(n), str(t), str(full), p, s, str(n) in json)
            for n, t, full, p, s in rows.iter_rows()
        ]

    def _json_columns(self, reader: Any, where_schema: str, name: str) -> set[str]:
        """MariaDB's JSON columns: LONGTEXT with a json_valid() check (MySQL 8 has a JSON type).

        A query of its own: MariaDB 10.11 can crash on information_schema tables in a correlated
        subquery (a segfault in create_tmp_table_for_schema), and verify must never do that."""
        if not self.mariadb:
            return set()
        clauses = reader.read(
            "SELECT CHECK_CLAUSE AS c FROM information_schema.CHECK_CONSTRAINTS "
            f"WHERE CONSTRAINT_SCHEMA = {where_schema} AND TABLE_NAME = {self.literal(name)}"
        )
        return {
            m.group(1).replace("``", "`")
            for (clause,) in clauses.iter_rows()
            if (m := re.fullmatch(r"json_valid\(`((?:[^`]|``)+)`\)", str(clause).strip()))
        }

    def _describe(self, url: SourceURL, side: Side) -> list[SourceColumn]:
        """A query's columns, from the driver's description of it run to read no rows."""
        sql = f"SELECT * FROM ({side.query}) verify_q LIMIT 0"  # the types of its columns, no row
        conn = self.connect(url, probe_timeout())
        try:
            with conn.cursor() as cur:
                try:
                    cur.execute(sql)
                except Exception as exc:  # noqa: BLE001 - the server's words, as every reader gives them
                    text = str(exc.args[-1] if exc.args else exc)
                    raise SourceError(f"reading {url.masked} failed: {text}", url.masked, text) from None
                return [
                    _described_column(d, f) for d, f in zip(cur.description, cur._result.fields, strict=True)
                ]
        finally:
            conn.close()

    def read_sql(self, column: SourceColumn) -> str:
        if column.kind in ("date", "timestamp", "timestamptz"):
            q = self.quote(column.name)
            return f"{ZERO_DATE_GUARD.format(q)} AS {q}"
        return super().read_sql(column)

    def tables(self, reader: Any) -> list[str]:
        rows = reader.read(
            "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE() "
            "ORDER BY TABLE_NAME"
        )
        return [str(n) for (n,) in rows.iter_rows()]

    def unique_keys(self, reader: Any, table: str) -> list[tuple[str, ...]] | None:
        schema, _, name = table.rpartition(".")
        where_schema = self.literal(schema) if schema else "DATABASE()"
        rows = reader.read(
            "SELECT GROUP_CONCAT(COLUMN_NAME ORDER BY SEQ_IN_INDEX SEPARATOR ',') AS cols "
            f"FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = {where_schema} "
            f"AND TABLE_NAME = {self.literal(name)} AND NON_UNIQUE = 0 GROUP BY INDEX_NAME"
        )
        return [tuple(str(c).split(",")) for (c,) in rows.iter_rows()]

    def estimated_rows(self, reader: Any, table: str) -> int | None:
        schema, _, name = table.rpartition(".")
        where_schema = self.literal(schema) if schema else "DATABASE()"
        (n,) = reader.row(
            "SELECT TABLE_ROWS FROM information_schema.TABLES WHERE "
            f"TABLE_SCHEMA = {where_schema} AND TABLE_NAME = {self.literal(name)}"
        )
        return int(n) if n is not None and int(n) > 0 else None

    def arrow_type(self, description: Any, field: Any) -> Any:
        import pyarrow as pa

        code, flags = description[1], getattr(field, "flags", 0)
        binary = getattr(field, "charsetnr", 0) == _BINARY_CHARSET
        if code in (0, 246):
            scale = description[5]
            return pa.decimal128(38, min(int(scale), 38) if scale is not None else 18)
        if code == 8 and flags & _UNSIGNED:
            return pa.uint64()
        if code in (15, 249, 250, 251, 252, 253, 254):
            return pa.binary() if binary else pa.string()
        return _arrow_types().get(code)

    # -- checksums ----------------------------------------------------------------------------

    def render(self, column: SourceColumn, ctype: CanonicalType) -> str | None:
        x, kind, want = self.quote(column.name), column.kind, ctype.kind
        if want in ("int", "uint") and kind in ("int", "uint64", "bit"):
            return f"CAST(CAST({x} AS {'SIGNED' if kind == 'int' else 'UNSIGNED'}) AS CHAR)"
        if want == "decimal" and kind in ("int", "uint64", "decimal"):
            return f"CAST(CAST({x} AS DECIMAL(65,30)) AS CHAR)"
        if want == "string" and kind == "string":  # any bytes: its length says where it ends
            return f"CONCAT(OCTET_LENGTH({x}), ':', {x})"
        if want == "bool" and kind in ("int", "bit"):
            # 0 and 1 only: any other value is not a boolean, and renders so (read as rows).
            return f"CASE {x} WHEN 0 THEN '0' WHEN 1 THEN '1' ELSE CONCAT('?', {x}) END"
        if want == "binary" and kind == "binary":
            return f"HEX({x})"
        if want == "uuid" and kind in ("uuid", "string"):
            return f"LOWER(CAST({x} AS CHAR))"
        if want == "uuid" and kind == "binary":
            hexed = f"HEX({x})"
            for at in (21, 17, 13, 9):
                hexed = f"INSERT({hexed}, {at}, 0, '-')"
            return f"CASE WHEN OCTET_LENGTH({x}) = 16 THEN LOWER({hexed}) ELSE CONCAT('?', HEX({x})) END"
        if want == "time" and kind == "time":
            return f"CAST(CAST(TIME_TO_SEC({x}) * 1000000 AS SIGNED) AS CHAR)"
        if want == "date" and kind == "date":
            return f"DATE_FORMAT({ZERO_DATE_GUARD.format(x)}, '%Y-%m-%d')"
        if want == "timestamp" and kind in ("timestamp", "timestamptz"):
            return f"DATE_FORMAT({ZERO_DATE_GUARD.format(x)}, '%Y-%m-%d %H:%i:%s.%f')"
        return None

    def concat(self, parts: list[str]) -> str:
        return "CONCAT(" + ", ".join(parts) + ")"

    def md5(self, sql: str) -> str:
        return f"MD5({sql})"

    def hash_total(self, hex_column: str) -> str:
        return f"CAST(COALESCE(SUM(CAST(CONV(LEFT({hex_column}, 15), 16, 10) AS UNSIGNED)), 0) AS CHAR)"

    def bucket(self, partition: str, width: int) -> str:
        return f"CAST(FLOOR({partition} / {width}.0) AS SIGNED)"


def _catalog_column(
    name: str, data_type: str, column_type: str, precision: Any, scale: Any, is_json: bool
) -> SourceColumn:
    """A column as information_schema.COLUMNS describes it."""
    t, full = data_type.lower(), column_type.lower()
    if t in INTEGERS:
        return SourceColumn(name, full, "uint64" if t == "bigint" and "unsigned" in full else "int")
    if t in ("decimal", "numeric"):
        return _decimal(name, full, int(precision or 65), int(scale or 0))
    if t == "float":  # as a double: the text protocol would print it to 6 digits only
        return SourceColumn(name, full, "float32", "CAST({} AS DOUBLE)")
    if t in ("double", "real"):
        return SourceColumn(name, full, "float")
    if t == "char":  # MySQL strips the padding when it hands a CHAR out; `pad` says it is padding
        return SourceColumn(name, full, "string", pad=True)
    if t in TEXTS or t == "enum":
        return SourceColumn(name, full, "json" if is_json else "string")
    return _other(name, t, full)


def _decimal(name: str, db_type: str, precision: int, scale: int) -> SourceColumn:
    """DECIMAL: ConnectorX reads up to 18 integer and 10 fraction digits exactly; wider ones as
    text, parsed at their declared scale (ConnectorX's 96-bit decimals would round them)."""
    if scale <= 10 and precision - scale <= 18:
        return SourceColumn(name, db_type, "decimal", scale=scale, precision=precision)
    return SourceColumn(
        name,
        db_type,
        "decimal",
        "CAST({} AS CHAR)",
        "decimal_text",
        scale=min(scale, 38),
        precision=precision,
    )


def _other(name: str, t: str, full: str) -> SourceColumn:
    """Types that read through an SQL function, and those verify cannot read."""
    if t == "set":
        return SourceColumn(name, full, "set", decode="set_text")
    if t == "json":
        return SourceColumn(name, full, "json", "CAST({} AS CHAR)")
    if t in BINARIES:
        return SourceColumn(name, full, "binary")
    digits = _fraction_digits(full)
    if t == "date":
        return SourceColumn(name, full, "date")
    if t == "datetime":
        return SourceColumn(name, full, "timestamp", precision=digits)
    if t == "timestamp":  # an instant; the session's zone is UTC
        return SourceColumn(name, full, "timestamptz", decode="utc", precision=digits)
    if t == "time":  # -838:59:59 .. 838:59:59: a length of time, read as microseconds
        return SourceColumn(
            name, full, "time", "CAST(TIME_TO_SEC({}) * 1000000 AS SIGNED)", "micros", precision=digits
        )
    if t == "bit":
        return SourceColumn(name, full, "bit", "CAST({} AS UNSIGNED)")
    if t in GEOMETRIES:
        return SourceColumn(name, full, "geometry", "ST_AsBinary({})", "wkb")
    if t == "uuid":
        return SourceColumn(name, full, "uuid", "CAST({} AS CHAR)")
    if t in ("inet4", "inet6"):
        return SourceColumn(name, full, "string", "CAST({} AS CHAR)")
    return SourceColumn(name, full, "unsupported", why="no canonical type for it")


def _fraction_digits(column_type: str) -> int | None:
    """DATETIME(3) holds 3 digits of a second, DATETIME none; a query's column: not known."""
    if not column_type.startswith(("datetime", "timestamp", "time")):
        return None
    m = re.search(r"\((\d+)\)", column_type)
    return int(m.group(1)) if m else 0


def _described_column(description: Any, field: Any) -> SourceColumn:
    """A query's column as PyMySQL describes it (type code, flags, character set)."""
    name, code, length, scale = description[0], description[1], description[3], description[5]
    flags, binary = field.flags, field.charsetnr == _BINARY_CHARSET
    if code in (1, 2, 3, 9, 13) or (code == 8 and not flags & _UNSIGNED):
        return SourceColumn(name, f"type {code}", "int")
    if code == 8:
        return SourceColumn(name, "bigint unsigned", "uint64")
    if code in (0, 246):
        digits = int(length or 65) - (1 if scale else 0) - 1  # length counts the sign and the point
        return _decimal(name, "decimal", max(digits, int(scale or 0)), int(scale or 0))
    if flags & _SET:
        return _other(name, "set", "set")
    if flags & _ENUM or (code in (15, 249, 250, 251, 252, 253, 254) and not binary):
        return SourceColumn(name, "text", "string")
    by_code = {
        4: "float",
        5: "double",
        7: "timestamp",
        10: "date",
        11: "time",
        12: "datetime",
        14: "date",
        16: "bit",
        245: "json",
        255: "geometry",
    }
    t = by_code.get(code, "binary" if code in (15, 249, 250, 251, 252, 253, 254) else f"type {code}")
    return _catalog_column(name, t, t, None, None, False)


@functools.cache
def _arrow_types() -> dict[int, Any]:
    """The type code -> Arrow type table (pyarrow is imported only by the reader that needs it)."""
    import pyarrow as pa

    return {
        1: pa.int64(),
        2: pa.int64(),
        3: pa.int64(),
        8: pa.int64(),
        9: pa.int64(),
        13: pa.int64(),
        16: pa.int64(),
        4: pa.float64(),
        5: pa.float64(),
        7: pa.timestamp("us"),
        12: pa.timestamp("us"),
        10: pa.date32(),
        14: pa.date32(),
        245: pa.string(),
        247: pa.string(),
    }
