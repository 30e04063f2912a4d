"""The raw read: both whole `line_item` tables read to Arrow with ConnectorX, in two threads.

This is the floor `verify diff` is measured against: the same columns verify compares, read
the plainest and fastest way we know, and nothing done with them. `python -m bench.rawread` is
the whole-process form: it starts, imports ConnectorX, reads both tables, and exits, so that
`bench.run` can time it from outside exactly as it times `verify diff` (wall seconds, peak
RSS and CPU of the process, plus both servers' CPU). `bench.run` also calls `read_both()` in
its own process, the stricter baseline that pays no process start and no imports.

Exit status 0 when both tables were read and hold rows, 3 otherwise. The database is
BENCH_DB (default verify_bench), as in bench.run.
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ThreadPoolExecutor

DB = os.environ.get("BENCH_DB", "verify_bench")
CX_MYSQL = f"mysql://root@127.0.0.1:3306/{DB}"
CX_POSTGRES = f"postgresql://root@127.0.0.1:5432/{DB}"
OLD_COLS = (
    "id, order_id, advertiser_id, name, status_code, line_type, start_time, end_time, "
    "budget_micros, cost_per_unit_micros, units_bought, deleted, updated_at"
)
NEW_COLS = (
    "advertiser_id, campaign_id, line_item_id, name, state, line_type, start_time, end_time, "
    "budget, cost_per_unit, units_bought, archived, updated_at"
)
# ConnectorX cannot read MySQL's zero dates; the old side reads them as NULL, as verify does.
ZERO_DATE_GUARD = "CASE WHEN MONTH(end_time) = 0 OR DAYOFMONTH(end_time) = 0 THEN NULL ELSE end_time END"
OLD_SQL = f"SELECT {OLD_COLS.replace('end_time,', ZERO_DATE_GUARD + ' AS end_time,', 1)} FROM line_items"
NEW_SQL = f"SELECT {NEW_COLS} FROM line_item"
# The raw read reads every column the mapping compares, each the plainest way ConnectorX can.
OLD_EXTRA = ", settings, targeting, ST_AsBinary(geo) AS geo, CAST(flags AS UNSIGNED) AS flags"
NEW_EXTRA = ", settings::text AS settings, targeting, geo::text AS geo, flags"
RAW_OLD_SQL = OLD_SQL.replace(" FROM line_items", OLD_EXTRA + " FROM line_items")
RAW_NEW_SQL = NEW_SQL.replace(" FROM line_item", NEW_EXTRA + " FROM line_item")


def read_both() -> tuple[int, int]:
    """Rows read from each side: RAW_OLD_SQL from MariaDB and RAW_NEW_SQL from PostgreSQL, at
    once, each whole into an Arrow table (and dropped)."""
    import connectorx as cx

    with ThreadPoolExecutor(2) as pool:
        old = pool.submit(cx.read_sql, CX_MYSQL, RAW_OLD_SQL, return_type="arrow")
        new = pool.submit(cx.read_sql, CX_POSTGRES, RAW_NEW_SQL, return_type="arrow")
        return old.result().num_rows, new.result().num_rows


def main() -> int:
    old, new = read_both()
    if not (old and new):
        print(f"raw read: {old} rows old, {new} rows new: a table is empty", file=sys.stderr)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
