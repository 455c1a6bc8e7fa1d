"""A throw-away PostgreSQL database for one bench run, dropped (connections and all) after it."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

__all__ = ["scratch_database"]


@contextmanager
def scratch_database(admin_url: str, prefix: str = "fw_bench") -> Iterator[str]:
    """The URL of a new, empty database on ``admin_url``'s server."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
