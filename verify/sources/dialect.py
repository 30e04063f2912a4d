"""SQL text per dialect family: quoting, literals, byte-order bounds, legacy-value guards.

Everything verify sends to a source is built here, from plain column names the mapping
validated; user-given SQL (`where`, `query`) is wrapped, never spliced into other clauses.
"""

from __future__ import annotations

import datetime as dt
import decimal
from dataclasses import dataclass
from typing import Any

# Seconds any one query may run before the server cancels it: a segment reads in seconds, so a
# query running this long is stuck (a lock, a plan gone wrong) and is not left on a live store.
STATEMENT_TIMEOUT = 1800


@dataclass(frozen=True)
class Dialect:
    """How to write SQL for one source family (mysql, postgres, sqlite, or generic)."""

    family: str
    mariadb: bool = False

    def session_setup(self) -> list[str]:
        """Statements that open every reading session: read-only, bounded in time, in UTC."""
        if self.family == "mysql":
            timeout = (
                f"SET SESSION max_statement_time = {STATEMENT_TIMEOUT}"
                if self.mariadb
                else f"SET SESSION max_execution_time = {STATEMENT_TIMEOUT * 1000}"
            )
            return ["SET SESSION TRANSACTION READ ONLY", "SET SESSION time_zone = '+00:00'", timeout]
        if self.family == "postgres":
            # The session default for transactions to come, and the transaction a driver may
            # already have opened (SET SESSION CHARACTERISTICS does not reach that one).
            return [
                "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY",
                "SET TRANSACTION READ ONLY",
                "SET TIME ZONE 'UTC'",
                f"SET statement_timeout = '{STATEMENT_TIMEOUT}s'",
            ]
        return []

    def quote(self, name: str) -> str:
        if self.family == "mysql":
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def table(self, name: str) -> str:
        return ".".join(self.quote(part) for part in name.split("."))

    def literal(self, value: Any) -> str:
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, (int, decimal.Decimal)):
            return str(value)
        if isinstance(value, float):
            return repr(value)
        if isinstance(value, dt.datetime):
            text = value.isoformat(sep=" ")
        elif isinstance(value, dt.date):
            text = value.isoformat()
        else:
            text = str(value)
        text = text.replace("'", "''")
        if self.family == "mysql":  # MySQL also treats backslash as an escape in literals
            text = text.replace("\\", "\\\\")
        return f"'{text}'"

    def byte_order(self, column_sql: str) -> str:
        """The column compared by its UTF-8 bytes, with no padding: the same order everywhere.

        MySQL `_ci` collations and PAD SPACE, and PostgreSQL locales, order strings
        differently; bounding string keys this way puts every row in the same segment
        on both sides.
        """
        if self.family == "mysql":
            collation = "utf8mb4_nopad_bin" if self.mariadb else "utf8mb4_0900_bin"
            return f"CONVERT({column_sql} USING utf8mb4) COLLATE {collation}"
        if self.family == "postgres":
            return f'{column_sql} COLLATE "C"'
        if self.family == "sqlite":
            return f"{column_sql} COLLATE BINARY"
        return column_sql

    def as_text(self, column_sql: str) -> str:
        return f"CAST({column_sql} AS {'CHAR' if self.family == 'mysql' else 'TEXT'})"

    def guard_temporal(self, column_sql: str) -> str:
        """MySQL zero dates ('0000-00-00', '2024-00-15') read as NULL instead of failing the reader."""
        if self.family != "mysql":
            return column_sql
        return (
            f"CASE WHEN MONTH({column_sql}) = 0 OR DAYOFMONTH({column_sql}) = 0 "
            f"THEN NULL ELSE {column_sql} END"
        )

    def select(self, columns: list[str], table: str | None, query: str | None, conditions: list[str]) -> str:
        """One SELECT over a side's table or query; conditions are ANDed, each in parentheses."""
        base = f"({query}) verify_src" if query is not None else self.table(table or "")
        sql = f"SELECT {', '.join(columns)} FROM {base}"
        if conditions:
            sql += " WHERE " + " AND ".join(f"({c})" for c in conditions)
        return sql
