"""Shared fixtures: throwaway databases on the real servers, hypothesis profiles, CI rules.

Database tests carry the `mysql` or `postgres` marker and ask for `mysql_db` / `postgres_db`.
Where a server does not answer they skip with the reason; under CI=true a skipped database
test is a failure, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, settings

settings.register_profile("dev", max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

MYSQL_HOST = os.environ.get("VERIFY_TEST_MYSQL", "root@127.0.0.1:3306")
POSTGRES_HOST = os.environ.get("VERIFY_TEST_POSTGRES", "root@127.0.0.1:5432")
DB_MARKERS = ("mysql", "postgres", "pgloader")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _unavailable(what: str, exc: Exception) -> None:
    msg = f"{what} is not reachable ({type(exc).__name__}: {exc})"
    if IN_CI:
        pytest.fail(f"{msg}; under CI=true a database test may not be skipped")
    pytest.skip(msg)


class Database:
    """A database made for one test module; `url` is the SQLAlchemy URL."""

    def __init__(self, url: str, name: str) -> None:
        self.url = url
        self.name = name

    def engine(self):  # noqa: ANN201 - a SQLAlchemy Engine
        from sqlalchemy import create_engine

        return create_engine(self.url)

    def execute(self, *statements: str) -> None:
        from sqlalchemy import text

        engine = self.engine()
        with engine.begin() as conn:
            for stmt in statements:
                conn.execute(text(stmt))
        engine.dispose()

    def query(self, sql: str) -> list[tuple]:
        """The rows of one query, as the database itself answers it (a test's truth)."""
        from sqlalchemy import text

        engine = self.engine()
        with engine.connect() as conn:
            rows = [tuple(r) for r in conn.execute(text(sql))]
        engine.dispose()
        return rows


@pytest.fixture(scope="module")
def mysql_db() -> Iterator[Database]:
    import pymysql

    user, _, hostport = MYSQL_HOST.rpartition("@")
    host, _, port = hostport.partition(":")
    name = f"verify_t_{uuid.uuid4().hex[:10]}"
    try:
        conn = pymysql.connect(
            host=host, port=int(port or 3306), user=user or "root", connect_timeout=3, autocommit=True
        )
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "not reachable"
        _unavailable(f"MariaDB/MySQL at {MYSQL_HOST}", exc)
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci")
    try:
        yield Database(f"mysql+pymysql://{user or 'root'}@{host}:{port or 3306}/{name}", name)
    finally:
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        conn.close()


@pytest.fixture(scope="module")
def postgres_db() -> Iterator[Database]:
    import psycopg

    user, _, hostport = POSTGRES_HOST.rpartition("@")
    host, _, port = hostport.partition(":")
    name = f"verify_t_{uuid.uuid4().hex[:10]}"
    try:
        conn = psycopg.connect(
            host=host,
            port=int(port or 5432),
            user=user or "root",
            dbname="postgres",
            connect_timeout=3,
            autocommit=True,
        )
    except Exception as exc:  # noqa: BLE001
        _unavailable(f"PostgreSQL at {POSTGRES_HOST}", exc)
    conn.execute(f"CREATE DATABASE \"{name}\" TEMPLATE template0 ENCODING 'UTF8'")
    try:
        yield Database(f"postgresql+psycopg://{user or 'root'}@{host}:{port or 5432}/{name}", name)
    finally:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@pytest.fixture()
def sqlite_url(tmp_path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'store.db'}"


# --- under CI=true, a skipped database test fails the session --------------------------------

_skipped_db_tests: list[str] = []


def pytest_runtest_logreport(report):  # noqa: ANN001, ANN201 - pytest hook
    if IN_CI and report.skipped and any(m in report.keywords for m in DB_MARKERS):
        _skipped_db_tests.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):  # noqa: ANN001, ANN201 - pytest hook
    if _skipped_db_tests:
        tr = session.config.pluginmanager.get_plugin("terminalreporter")
        if tr:
            tr.write_line(f"CI=true: {len(_skipped_db_tests)} database test(s) skipped:", red=True)
            for nodeid in _skipped_db_tests:
                tr.write_line(f"  {nodeid}", red=True)
        session.exitstatus = 1
