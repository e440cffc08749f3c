"""Empty stores for the tests that run on both databases: a SQLite file, or a throw-away schema of the test
PostgreSQL server (BOT_TEST_POSTGRES_URL; the test is skipped when psycopg or the server is missing)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from bot.store.db import make_engine

POSTGRES_URL = os.environ.get("BOT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


@contextmanager
def postgres_schema(prefix: str) -> Iterator[Engine]:
    """An engine on a fresh schema `<prefix>_<random>` of the test server, dropped after."""
    pytest.importorskip("psycopg", reason="psycopg is not installed: PostgreSQL not tested")
    admin = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except OperationalError as error:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable ({type(error.orig).__name__}): not tested")
    engine = create_engine(POSTGRES_URL, connect_args={"options": f"-csearch_path={schema}"})
    try:
        yield engine
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def empty_store(database: str, folder: Path, prefix: str) -> Iterator[Engine]:
    """An engine on an empty store: "sqlite" (a file in `folder`) or "postgresql" (`postgres_schema`)."""
    if database == "postgresql":
        with postgres_schema(prefix) as engine:
            yield engine
        return
    engine = make_engine(f"sqlite:///{folder / 'store.db'}")
    try:
        yield engine
    finally:
        engine.dispose()
