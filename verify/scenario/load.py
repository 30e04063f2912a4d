"""Bulk loaders for the scenario: LOAD DATA LOCAL INFILE, COPY, and one SQLite transaction."""

from __future__ import annotations

import io
import os
import sqlite3
import tempfile
from pathlib import Path

import polars as pl

from verify.sources.dialects import MySQL, Postgres, dialect_for
from verify.sources.urls import SourceURL

SCHEMAS = Path(__file__).resolve().parents[2] / "scenarios"


def ddl(scenario: str, side: str, family: str) -> tuple[list[str], list[str]]:
    """The scenario's CREATE statements and its after-load statements for one dialect."""
    path = SCHEMAS / scenario / f"{side}.{family}.sql"
    text = path.read_text(encoding="utf-8")
    before, _, after = text.partition("-- @after-load")
    return _statements(before), _statements(after)


def _statements(text: str) -> list[str]:
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _typed_text(
    df: pl.DataFrame, bools_as_ints: bool, binary_prefix: str | None = None, array: str = "{}"
) -> pl.DataFrame:
    """Timestamps as text with their offset, booleans as the store writes them, bytes as hex
    after `binary_prefix` (None: as bytes), lists of words joined by commas inside `array`'s
    two characters ("{}": PostgreSQL's array text; "": a MySQL SET's text)."""
    out = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if isinstance(dtype, pl.Datetime):
            col = col.dt.to_string("%Y-%m-%d %H:%M:%S+00:00")
        elif dtype == pl.Boolean and bools_as_ints:
            col = col.cast(pl.Int8)
        elif dtype == pl.Binary and binary_prefix is not None:
            col = pl.lit(binary_prefix) + col.bin.encode("hex")
        elif isinstance(dtype, pl.List):
            col = pl.lit(array[:1]) + col.list.join(",") + pl.lit(array[1:])
        out.append(col.alias(name))
    return df.select(out)


def load(url: SourceURL, scenario: str, side: str, tables: dict[str, pl.DataFrame]) -> None:
    """Drop and create the scenario's tables at `url`, then bulk-load `tables` into them."""
    family = dialect_for(url).family
    create, after = ddl(scenario, side, family)
    LOADERS[family](url, create, after, tables)


def _load_sqlite(
    url: SourceURL, create: list[str], after: list[str], tables: dict[str, pl.DataFrame]
) -> None:
    path = url.sqlite_path or ""
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA journal_mode=OFF")
        conn.execute("PRAGMA synchronous=OFF")
        for name in tables:
            conn.execute(f'DROP TABLE IF EXISTS "{name}"')
        for stmt in create:
            conn.execute(stmt)
        for name, df in tables.items():
            df = _typed_text(df, bools_as_ints=True, array="")
            marks = ", ".join("?" * df.width)
            conn.executemany(
                f'INSERT INTO "{name}" ({", ".join(df.columns)}) VALUES ({marks})', df.iter_rows()
            )
        for stmt in after:
            conn.execute(stmt)
        conn.commit()
        conn.execute("ANALYZE")
    finally:
        conn.close()


def _load_mysql(url: SourceURL, create: list[str], after: list[str], tables: dict[str, pl.DataFrame]) -> None:
    conn = MySQL().connect(url, 10, charset="utf8mb4", local_infile=True, autocommit=True)
    try:
        with conn.cursor() as cur, tempfile.TemporaryDirectory() as tmp:
            cur.execute("SET SESSION sql_mode = ''")  # the legacy store holds zero dates
            cur.execute("SET SESSION unique_checks = 0")
            cur.execute("SET SESSION foreign_key_checks = 0")
            for name in tables:
                cur.execute(f"DROP TABLE IF EXISTS `{name}`")
            for stmt in create:
                cur.execute(stmt)
            for name, df in tables.items():
                path = os.path.join(tmp, f"{name}.tsv")
                _typed_text(df, bools_as_ints=True, binary_prefix="", array="").write_csv(
                    path, separator="\t", include_header=False, null_value="\\N", quote_style="never"
                )
                targets, sets = _mysql_targets(cur, name, df.columns)
                cur.execute(
                    f"LOAD DATA LOCAL INFILE %s INTO TABLE `{name}` CHARACTER SET utf8mb4 "
                    "FIELDS TERMINATED BY '\\t' ESCAPED BY '\\\\' LINES TERMINATED BY '\\n' "
                    f"({', '.join(targets)}){sets}",
                    (path,),
                )
            for stmt in after:
                cur.execute(stmt)
            for name in tables:
                cur.execute(f"ANALYZE TABLE `{name}`")
                cur.fetchall()
    finally:
        conn.close()


def _mysql_targets(cur: object, table: str, columns: list[str]) -> tuple[list[str], str]:
    """LOAD DATA's column list, and the SET clause for columns that text does not fill as they
    are: blobs from hex, geometries from WKT, BIT from a number."""
    cur.execute(  # type: ignore[attr-defined]
        "SELECT COLUMN_NAME, DATA_TYPE FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s",
        (table,),
    )
    types = dict(cur.fetchall())  # type: ignore[attr-defined]
    through = {"blob": "UNHEX({})", "point": "ST_GeomFromText({})", "bit": "CAST({} AS UNSIGNED)"}
    targets, sets = [], []
    for i, c in enumerate(columns):
        fn = through.get(str(types.get(c, "")).lower())
        targets.append(f"@v{i}" if fn else f"`{c}`")
        if fn:
            sets.append(f"`{c}` = {fn.format(f'@v{i}')}")
    return targets, (" SET " + ", ".join(sets)) if sets else ""


def _load_postgres(
    url: SourceURL, create: list[str], after: list[str], tables: dict[str, pl.DataFrame]
) -> None:
    conn = Postgres().connect(url, 10, autocommit=True)
    try:
        for name in tables:
            conn.execute(f'DROP TABLE IF EXISTS "{name}"')
        for stmt in create:
            conn.execute(stmt)
        for name, df in tables.items():
            buf = io.BytesIO()
            _typed_text(df, bools_as_ints=False, binary_prefix="\\x").write_csv(buf, include_header=False)
            cols = ", ".join(f'"{c}"' for c in df.columns)
            with conn.cursor() as cur, cur.copy(f'COPY "{name}" ({cols}) FROM STDIN (FORMAT csv)') as cp:
                view = buf.getbuffer()
                for at in range(0, len(view), 1 << 20):
                    cp.write(view[at : at + (1 << 20)])
        for stmt in after:
            conn.execute(stmt)
        for name in tables:
            conn.execute(f'ANALYZE "{name}"')
    finally:
        conn.close()


# The stores a scenario can be loaded into, by dialect family (see verify/scenario/__init__.py).
LOADERS = {"sqlite": _load_sqlite, "mysql": _load_mysql, "postgres": _load_postgres}
