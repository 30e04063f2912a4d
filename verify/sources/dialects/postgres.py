"""PostgreSQL: ADBC (or ConnectorX) for rows, pg_catalog for types, psycopg for probes (but ADBC's
reader probes with its first session)."""

from __future__ import annotations

import dataclasses
import functools
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

TEXTS = ("text", "varchar", "name", "citext", "char", "inet", "cidr", "macaddr", "macaddr8", "xml", "timetz")
MICROS = "(EXTRACT(EPOCH FROM {}) * 1000000)::bigint"  # time: exact (EXTRACT is numeric)
# An interval as PostgreSQL's own = sees it (interval_cmp_value): a month is 30 days and a day
# 24 hours, so '1 mon' = '30 days' but '1 year' <> '365 days 06:00' (EPOCH would count a year as
# 365.25 days, and call those two equal).
INTERVAL_MICROS = (
    "(((EXTRACT(YEAR FROM {0}) * 12 + EXTRACT(MONTH FROM {0})) * 30 + EXTRACT(DAY FROM {0}))"
    " * 86400000000 + EXTRACT(HOUR FROM {0}) * 3600000000 + EXTRACT(MINUTE FROM {0}) * 60000000"
    " + EXTRACT(MICROSECONDS FROM {0}))::bigint"
)

# One row per column: its name, type as written, base type (domains resolved), typmod and, for
# arrays, the element type. `{where}` picks the relation's columns.
CATALOG = """
SELECT a.attname::text AS name, format_type(a.atttypid, a.atttypmod) AS db_type,
       t.typname::text AS typname, t.typtype::text AS typtype, t.typcategory::text AS category,
       COALESCE(e.typname::text, '') AS elem,
       CASE WHEN d.typtype = 'd' THEN d.typtypmod ELSE a.atttypmod END AS typmod,
       has_column_privilege(a.attrelid, a.attnum, 'SELECT') AS readable
FROM pg_attribute a
JOIN pg_type d ON d.oid = a.atttypid
JOIN pg_type t ON t.oid = CASE WHEN d.typtype = 'd' THEN d.typbasetype ELSE d.oid END
LEFT JOIN pg_type e ON t.typcategory = 'A' AND e.oid = t.typelem
WHERE {where}
ORDER BY a.attnum
"""


@dataclass(frozen=True)
class Postgres(Dialect):
    family: ClassVar[str] = "postgres"
    default_port: ClassVar[int | None] = 5432
    readers: ClassVar[tuple[str, ...]] = ("adbc", "connectorx", "sqlalchemy")
    checksums: ClassVar[bool] = True
    sample_in_sql: ClassVar[bool] = True
    transient_words: ClassVar[tuple[str, ...]] = (
        *Dialect.transient_words,
        "terminating connection",
        "server closed the connection",
        "the database system is shutting down",
        "the database system is starting up",
        "the database system is in recovery",
        "deadlock detected",
        "could not serialize access",
        "canceling statement due to statement timeout",
        "canceling statement due to conflict with recovery",
        "connection to server",
        "error communicating with the server",
    )

    # -- connecting ---------------------------------------------------------------------------

    def connect_args(self, url: SourceURL) -> dict[str, Any]:
        return {
            "host": url.host or "127.0.0.1",
            "port": url.port or self.default_port,
            "user": url.username,
            "password": url.password,
            "dbname": url.database,
        }

    def connect(self, url: SourceURL, timeout: int, answer_timeout: bool = False, **options: Any) -> Any:
        """A psycopg connection; libpq's connect_timeout already bounds the whole handshake."""
        from verify.sources.drivers import connecting

        def open_connection() -> Any:
            import psycopg

            return psycopg.connect(**self.connect_args(url), connect_timeout=timeout, **options)

        return connecting(url, timeout, open_connection)

    def probe(self, url: SourceURL) -> Postgres:
        self.connect(url, probe_timeout(), answer_timeout=True).close()
        return self

    def connectorx_url(self, url: SourceURL) -> str:
        return url.render("postgresql")

    def adbc_uri(self, url: SourceURL) -> str:
        """A libpq URI; the connect timeout bounds a server that does not answer."""
        params = dict(url.query)
        params.setdefault("connect_timeout", str(probe_timeout()))
        return dataclasses.replace(url, query=tuple(params.items())).render("postgresql")

    def session_setup(self) -> list[str]:
        # The session default for transactions to come, and the transaction a driver may
        # already have opened (SET SESSION CHARACTERISTICS does not reach that one).
        return [
            "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
            "SET TRANSACTION READ ONLY",
            "SET TIME ZONE 'UTC'",
            f"SET statement_timeout = '{STATEMENT_TIMEOUT}s'",
        ]

    # -- SQL text -----------------------------------------------------------------------------

    def byte_order(self, column_sql: str) -> str:
        return f'{column_sql} COLLATE "C"'

    def random(self) -> str:
        return "random()"

    def sample_key(self, column_sql: str) -> str:
        return f"CAST({column_sql} AS BIGINT)"  # int4 + M would overflow

    # -- the catalog --------------------------------------------------------------------------

    def columns(self, reader: Any, side: Side) -> list[SourceColumn]:
        if side.table is None:
            return self._describe(reader.url, side)
        relation = self.literal(self.table(side.table))
        rows = reader.read(
            CATALOG.format(where=f"a.attrelid = {relation}::regclass AND a.attnum > 0 AND NOT a.attisdropped")
        )
        if rows.height == 0 or not all(rows.get_column("readable")):
            reader.read(self.select(["1"], side.table, None, ["FALSE"]))  # the server's own words
        return [
            _column(name, db_type, typname, typtype, category, elem, typmod)
            for name, db_type, typname, typtype, category, elem, typmod, _ in rows.iter_rows()
        ]

    def _describe(self, url: SourceURL, side: Side) -> list[SourceColumn]:
        """A query's columns, from the driver's description of it run to read no rows."""
        sql = f"SELECT * FROM ({side.query}) verify_q LIMIT 0"  # the types of its columns, no row
        conn = self.connect(url, probe_timeout(), autocommit=True)
        try:
            for statement in self.session_setup():
                conn.execute(statement)
            try:
                description = conn.execute(sql).description or []
            except Exception as exc:  # noqa: BLE001 - the server's words, as every reader gives them
                text = str(exc).strip().splitlines()[0]
                raise SourceError(f"reading {url.masked} failed: {text}", url.masked, text) from None
            oids = sorted({int(c.type_code) for c in description}) or [0]
            types = {
                oid: rest
                for oid, *rest in conn.execute(
                    "SELECT t.oid, t.typname, t.typtype, t.typcategory, COALESCE(e.typname, '') "
                    "FROM pg_type t LEFT JOIN pg_type e ON t.typcategory = 'A' AND e.oid = t.typelem "
                    f"WHERE t.oid IN ({', '.join(map(str, oids))})"
                ).fetchall()
            }
        finally:
            conn.close()
        out = []
        for c in description:
            typname, typtype, category, elem = types.get(int(c.type_code), ("?", "b", "X", ""))
            typmod = (int(c.precision) << 16 | int(c.scale)) + 4 if c.precision is not None else -1
            out.append(_column(c.name, typname, typname, typtype, category, elem, typmod))
        return out

    def tables(self, reader: Any) -> list[str]:
        rows = reader.read(
            "SELECT CASE WHEN n.nspname = ANY (current_schemas(false)) THEN c.relname::text "
            "ELSE n.nspname || '.' || c.relname END AS name FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'v', 'm', 'p') "
            "AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%' "
            "AND NOT c.relispartition AND NOT EXISTS (SELECT 1 FROM pg_depend d "
            "WHERE d.objid = c.oid AND d.deptype = 'e') ORDER BY 1"  # no extension's own tables
        )
        return [str(n) for (n,) in rows.iter_rows()]

    def unique_keys(self, reader: Any, table: str) -> list[tuple[str, ...]] | None:
        rows = reader.read(
            "SELECT array_to_string(ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(n, o) "
            "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.n ORDER BY k.o), ',') AS cols "
            f"FROM pg_index i WHERE i.indrelid = {self.literal(self.table(table))}::regclass "
            "AND i.indisunique AND i.indpred IS NULL"
        )
        return [tuple(str(c).split(",")) for (c,) in rows.iter_rows()]

    def estimated_rows(self, reader: Any, table: str) -> int | None:
        (n,) = reader.row(
            f"SELECT reltuples::bigint FROM pg_class WHERE oid = {self.literal(self.table(table))}::regclass"
        )
        return int(n) if n is not None and int(n) > 0 else None

    def arrow_type(self, description: Any, field: Any) -> Any:
        import pyarrow as pa

        code = description[1]
        if code == 1700:
            scale = description[5]
            return pa.decimal128(38, min(int(scale), 38) if scale is not None else 18)
        return _arrow_types().get(code)

    # -- checksums ----------------------------------------------------------------------------

    def render(self, column: SourceColumn, ctype: CanonicalType) -> str | None:
        x, kind, want = self.quote(column.name), column.kind, ctype.kind
        text = f"CAST({x} AS TEXT)"  # enums and CHAR(n) as text: CHAR's padding goes
        if want in ("int", "uint") and kind == "int":
            return text
        if want in ("int", "uint") and kind in ("bit", "varbit"):
            return f"CAST(CAST(lpad(CAST({x} AS TEXT), 64, '0') AS BIT(64)) AS BIGINT)::text"
        if want in ("int", "uint", "bool") and kind == "bool":
            return f"CASE WHEN {x} THEN '1' WHEN NOT {x} THEN '0' END"
        if want == "decimal" and kind in ("int", "decimal"):
            return f"CAST(CAST({x} AS NUMERIC(1000,30)) AS TEXT)"
        if want == "string" and kind in ("string", "varbit"):  # any bytes: its length says where it ends
            return f"OCTET_LENGTH({text}) || ':' || {text}"
        if want == "binary" and kind == "binary":
            return f"upper(encode({x}, 'hex'))"
        if want == "uuid" and kind in ("uuid", "string"):
            return f"lower({text})"
        if want == "time" and kind == "time":  # as the rows are read
            return f"CAST({(column.select or MICROS).format(x)} AS TEXT)"
        if want == "date" and kind == "date":
            return f"TO_CHAR({x}, 'YYYY-MM-DD')"
        if want == "timestamp" and kind in ("timestamp", "timestamptz"):
            utc = f"{x} AT TIME ZONE 'UTC'" if kind == "timestamptz" else x
            return f"TO_CHAR({utc}, 'YYYY-MM-DD HH24:MI:SS.US')"
        return None

    def hash_total(self, hex_column: str) -> str:
        return (
            f"CAST(COALESCE(SUM(CAST(CAST('x' || LEFT({hex_column}, 15) AS BIT(60)) AS BIGINT)), 0) AS TEXT)"
        )


# A point's x and y as the 8 bytes of each double (float8send: big-endian) behind the header of a
# big-endian 2D WKB point; NULL stays NULL.
_POINT_WKB = "CAST('\\x0000000001' AS BYTEA) || float8send(({0})[0]) || float8send(({0})[1])"


def _array_select(name: str) -> str:
    """An array as text[], read natively by every reader; refused in SQL where its elements in
    order are not all it holds. PostgreSQL's = also compares the dimensions and the indexes,
    which a list cannot carry (ADBC would flatten '{{a,b},{c,d}}' to [a, b, c, d], and every
    reader reads '[0:1]={a,b}' as [a, b], equal to '{a,b}'), so such a value fails the read
    with a message that names the column: the CASE casts the message to an array. It cannot be
    a constant, or PostgreSQL would cast it, and fail, before reading any row."""
    said = name.replace("'", "''").replace("{", "{{").replace("}", "}}")
    return (
        "CASE WHEN array_ndims({0}) > 1 OR array_lower({0}, 1) <> 1 THEN CAST(CONCAT("
        f"'verify compares arrays of one dimension indexed from 1, and column {said} holds one of ', "
        "array_ndims({0}), ' dimension(s) indexed from ', array_lower({0}, 1), "
        "'; compare a view that reads it as one') AS TEXT[]) ELSE CAST({0} AS TEXT[]) END"
    )


def _column(
    name: str, db_type: str, typname: str, typtype: str, category: str, elem: str, typmod: int | None
) -> SourceColumn:
    """A column as pg_catalog describes it; `typname` is the base type (domains resolved)."""
    mod = int(typmod) if typmod is not None else -1
    if typname in ("int2", "int4", "int8", "oid"):
        return SourceColumn(name, db_type, "int")
    if typname == "numeric":
        # Read as text and parsed at the declared scale: ConnectorX decodes NUMERIC value by
        # value (slow), and fails on values whose scale is not the column's. An unconstrained
        # NUMERIC is read at 18 places, and its digits are not known.
        scale, digits = ((mod - 4) & 0xFFFF, (mod - 4) >> 16) if mod >= 4 else (18, None)
        return SourceColumn(
            name,
            db_type,
            "decimal",
            "CAST({} AS TEXT)",
            "decimal_text",
            scale=min(scale, 38),
            precision=digits,
        )
    if typname == "money":
        return SourceColumn(
            name, db_type, "decimal", "CAST(CAST({} AS NUMERIC) AS TEXT)", "decimal_text", scale=2
        )
    if typname in ("float4", "float8"):
        return SourceColumn(name, db_type, "float32" if typname == "float4" else "float")
    if typname == "bpchar":  # CHAR(n): PostgreSQL hands the padding out; `pad` says it is padding
        return SourceColumn(name, db_type, "string", pad=True)
    if typname in TEXTS or typtype == "e":
        return SourceColumn(
            name, db_type, "string", None if typname in ("text", "varchar") else "CAST({} AS TEXT)"
        )
    if typname in ("timestamp", "timestamptz", "time", "interval"):
        digits = mod if mod >= 0 and typname != "interval" else 6  # a second's digits; 6 unless declared
        if typname in ("time", "interval"):
            micros = MICROS if typname == "time" else INTERVAL_MICROS
            return SourceColumn(name, db_type, "time", micros, "micros", precision=digits)
        return SourceColumn(name, db_type, typname, decode="finite", precision=digits)
    if typname == "date":
        return SourceColumn(name, db_type, "date", decode="finite")
    simple = {
        "bool": "bool",
        "bytea": "binary",
    }
    if typname in simple:
        return SourceColumn(name, db_type, simple[typname])
    if typname in ("json", "jsonb"):
        return SourceColumn(name, db_type, "json", "CAST({} AS TEXT)")
    if typname == "uuid":
        return SourceColumn(name, db_type, "uuid", "CAST({} AS TEXT)")
    if typname == "bit":  # bit(n): every value n bits long, so the number is all it holds
        return SourceColumn(name, db_type, "bit", "CAST({} AS TEXT)", "bits")
    if typname == "varbit":  # B'0101' <> B'101': read as its bits, whose length counts
        return SourceColumn(name, db_type, "varbit", "CAST({} AS TEXT)")
    if typname == "point":  # as big-endian WKB, so that no text is parsed: a tenth of the time
        return SourceColumn(name, typname, "geometry", _POINT_WKB, "wkb")
    if typname in ("path", "polygon"):
        return SourceColumn(name, typname, "geometry", "CAST({} AS TEXT)", "pg_geometric")
    if typname in ("geometry", "geography"):  # PostGIS
        return SourceColumn(name, db_type, "geometry", "ST_AsBinary({})", "wkb")
    if category == "A" and elem:
        return SourceColumn(name, db_type, "array", _array_select(name), "list_text")
    return SourceColumn(name, db_type, "unsupported", why="no canonical type for it")


@functools.cache
def _arrow_types() -> dict[int, Any]:
    """The type OID -> Arrow type table (pyarrow is imported only by the reader that needs it)."""
    import pyarrow as pa

    return {
        16: pa.bool_(),
        17: pa.binary(),
        20: pa.int64(),
        21: pa.int64(),
        23: pa.int64(),
        26: pa.int64(),
        700: pa.float64(),
        701: pa.float64(),
        25: pa.string(),
        1042: pa.string(),
        1043: pa.string(),
        19: pa.string(),
        1082: pa.date32(),
        1114: pa.timestamp("us"),
        1184: pa.timestamp("us", tz="UTC"),
        2950: pa.string(),
    }
