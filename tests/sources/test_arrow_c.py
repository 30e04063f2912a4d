"""Reading an ADBC result stream through the Arrow C interface (verify.sources.arrow_c), checked
against Polars' own import of the same stream, on the real PostgreSQL server: batch after
batch, an empty result, and a query that fails after some batches were sent."""

from __future__ import annotations

import threading
import time

import polars as pl
import pytest

from verify.sources.arrow_c import StreamError, read_stream

pytestmark = pytest.mark.postgres

# Small batches: the stream is several of them, as a segment of wide rows is.
BATCH_BYTES = "4096"
ROWS = (
    "SELECT x AS id, 'row ' || x AS name, CASE WHEN x % 7 = 0 THEN NULL ELSE x * 1.5::float8 END AS v, "
    "ARRAY[x::text, NULL] AS tags, '2024-01-01'::timestamptz + x * interval '1 minute' AS at "
    "FROM generate_series(1, 20000) x"
)


@pytest.fixture()
def statement(postgres_db):
    import adbc_driver_postgresql
    from adbc_driver_manager import AdbcConnection, AdbcDatabase, AdbcStatement

    uri = postgres_db.url.replace("postgresql+psycopg://", "postgresql://")
    database = AdbcDatabase(driver=adbc_driver_postgresql._driver_path(), uri=uri)
    connection = AdbcConnection(database)
    opened = []

    def run(sql: str):
        stmt = AdbcStatement(connection)
        opened.append(stmt)
        stmt.set_options(**{"adbc.postgresql.batch_size_hint_bytes": BATCH_BYTES})
        stmt.set_sql_query(sql)
        stream, _ = stmt.execute_query()
        return stream

    yield run
    for stmt in opened:
        stmt.close()
    connection.close()
    database.close()


def test_every_batch_is_read_as_polars_reads_the_stream(statement):
    frame = read_stream(statement(ROWS).__arrow_c_stream__())
    assert frame.n_chunks() > 1  # several batches, kept as chunks
    assert frame.equals(pl.DataFrame(statement(ROWS)))
    assert frame.height == 20000 and frame["v"].null_count() == 20000 // 7


def test_an_empty_result_keeps_its_columns_and_types(statement):
    frame = read_stream(statement(ROWS + " WHERE x < 0").__arrow_c_stream__())
    assert frame.height == 0
    assert frame.schema == pl.DataFrame(statement(ROWS)).schema


def test_a_query_that_fails_midway_raises_the_servers_words(statement):
    failing = "SELECT x, 1 / (x - 15000) AS boom FROM generate_series(1, 20000) x"
    with pytest.raises(StreamError, match="division by zero"):
        read_stream(statement(failing).__arrow_c_stream__())


def test_other_threads_run_while_a_stream_is_read(statement):
    # The driver is called with the GIL released: a Python loop in another thread keeps going
    # while the server works on the rows (under Polars' own import of the stream it stalls).
    # The first rows come at once (the driver reads a first batch before it returns the stream),
    # the last four 0.2 s apart.
    slow = "SELECT x FROM generate_series(1, 3000) x WHERE x <= 2996 OR pg_sleep(0.2) IS NOT NULL"
    capsule = statement(slow).__arrow_c_stream__()
    done, spins = threading.Event(), [0]

    def spin() -> None:
        while not done.is_set():
            spins[0] += 1

    spinner = threading.Thread(target=spin)
    spinner.start()
    started = time.perf_counter()
    try:
        frame = read_stream(capsule)
    finally:
        elapsed = time.perf_counter() - started
        done.set()
        spinner.join()
    assert frame["x"].to_list() == list(range(1, 3001)) and elapsed > 0.5
    assert spins[0] / elapsed > 1_000_000  # iterations a second: millions here, ~100k when stalled
