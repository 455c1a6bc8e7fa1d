"""Store fixtures: the same tests against a real SQLite file and a real PostgreSQL database.

* ``store`` - an opened store, parametrised ``[sqlite]`` (a file in ``tmp_path``) and
  ``[postgres]`` (a fresh database, marked ``postgres``); closed after the test.
* ``store_url`` - the URL behind ``store``, for tests that open their own instances.
* ``postgres_url`` - a throw-away database on the test server, dropped after the test.
* ``anyio_backend`` - ``"asyncio"``, for ``@pytest.mark.anyio`` tests.

When PostgreSQL is unreachable the postgres cases are skipped, or fail when ``CI=true``. The
server is ``FLEETWATCH_TEST_POSTGRES`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
from psycopg import sql

from fleetwatch.store import Store, open_store

__all__ = [
    "ADMIN_URL_DEFAULT",
    "anyio_backend",
    "postgres_admin_url",
    "postgres_url",
    "store",
    "store_url",
    "with_database",
]

ADMIN_URL_DEFAULT = "postgresql://postgres@127.0.0.1:5432/postgres"


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


def with_database(url: str, database: str) -> str:
    """``url`` pointing at another database on the same server."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def _unreachable(url: str, reason: object) -> NoReturn:
    message = (
        f"PostgreSQL is not reachable at {url} ({reason}); start it with "
        "scripts/ensure_postgres.sh, or set FLEETWATCH_TEST_POSTGRES"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    """The test server's maintenance database, checked once per session."""
    url = os.environ.get("FLEETWATCH_TEST_POSTGRES", ADMIN_URL_DEFAULT)
    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        _unreachable(url, str(exc).strip().splitlines()[0] if str(exc).strip() else exc)
    return url


@pytest.fixture
def postgres_url(postgres_admin_url: str) -> Iterator[str]:
    """A fresh, empty database ``fw_test_<hex>``, dropped (connections and all) afterwards."""
    name = f"fw_test_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_database(postgres_admin_url, name)
    finally:
        with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'fleetwatch.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
async def store(store_url: str, anyio_backend: str) -> AsyncIterator[Store]:
    opened = open_store(store_url)
    await opened.open()
    try:
        yield opened
    finally:
        await opened.close()
