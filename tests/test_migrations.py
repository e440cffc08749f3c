"""Schema migrations: every path to head (new store, old revision, pre-migration store) ends at the models."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, inspect, select, text

from bot.catalogue.models import Catalogue
from bot.store.catalogue_repo import read_catalogue, save_catalogue
from bot.store.db import make_engine, make_sessionmaker
from bot.store.migrate import FIRST_REVISION, alembic_config, current_revision, upgrade
from bot.store.models import Base
from tests.stores import postgres_schema

CATALOGUE_TABLES = [table for name, table in Base.metadata.tables.items() if name.startswith("catalogue_")]
ACCOUNT_TABLES = {name for name in Base.metadata.tables if not name.startswith("catalogue_")}


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def schema_differences(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the store match `Base.metadata` (empty when identical)."""
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def downgrade(engine: Engine, revision: str) -> None:
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            table.name: connection.scalar(select(func.count()).select_from(table)) or 0
            for table in CATALOGUE_TABLES
        }


def seed_catalogue(engine: Engine, catalogue: Catalogue) -> None:
    with make_sessionmaker(engine).begin() as session:
        assert save_catalogue(session, catalogue) is True


def assert_catalogue_kept(engine: Engine, catalogue: Catalogue, counts: dict[str, int]) -> None:
    assert row_counts(engine) == counts
    with make_sessionmaker(engine)() as session:
        assert read_catalogue(session) == catalogue


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    """An empty SQLite store."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine
    engine.dispose()


def test_empty_store_upgrades_to_exactly_the_models(engine: Engine) -> None:
    assert current_revision(engine) is None
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    assert schema_differences(engine) == []
    assert set(inspect(engine).get_table_names()) == set(Base.metadata.tables) | {"alembic_version"}


def test_upgrading_twice_is_a_no_op(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    assert schema_differences(engine) == []


def test_store_at_first_revision_keeps_its_catalogue(engine: Engine, source_catalogue: Catalogue) -> None:
    upgrade(engine, FIRST_REVISION)
    assert current_revision(engine) == FIRST_REVISION
    assert not ACCOUNT_TABLES & set(inspect(engine).get_table_names())
    seed_catalogue(engine, source_catalogue)
    counts = row_counts(engine)
    assert all(counts.values()), counts

    upgrade(engine)

    assert current_revision(engine) == head_revision(engine)
    assert schema_differences(engine) == []
    assert_catalogue_kept(engine, source_catalogue, counts)


def test_pre_migration_store_is_adopted(engine: Engine, source_catalogue: Catalogue) -> None:
    # What `Base.metadata.create_all` made before there were migrations: catalogue tables, no version.
    Base.metadata.create_all(engine, tables=CATALOGUE_TABLES)
    seed_catalogue(engine, source_catalogue)
    counts = row_counts(engine)
    assert current_revision(engine) is None

    upgrade(engine)

    assert current_revision(engine) == head_revision(engine)
    assert schema_differences(engine) == []
    assert_catalogue_kept(engine, source_catalogue, counts)


def test_downgrade_to_first_revision_and_back(engine: Engine, source_catalogue: Catalogue) -> None:
    upgrade(engine)
    seed_catalogue(engine, source_catalogue)
    counts = row_counts(engine)

    downgrade(engine, FIRST_REVISION)
    assert current_revision(engine) == FIRST_REVISION
    assert not ACCOUNT_TABLES & set(inspect(engine).get_table_names())
    assert_catalogue_kept(engine, source_catalogue, counts)

    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    assert schema_differences(engine) == []
    assert_catalogue_kept(engine, source_catalogue, counts)


@pytest.fixture
def postgres_engine() -> Iterator[Engine]:
    """An engine on a fresh, throw-away schema of the test PostgreSQL server (skipped when unreachable)."""
    with postgres_schema("test_migrations") as engine:
        yield engine


def test_postgresql_upgrade_downgrade_and_adoption(
    postgres_engine: Engine, source_catalogue: Catalogue
) -> None:
    engine = postgres_engine
    with engine.connect() as connection:
        schema = connection.scalar(text("SELECT current_schema()"))
    assert schema is not None and schema.startswith("test_migrations_")

    upgrade(engine, FIRST_REVISION)
    seed_catalogue(engine, source_catalogue)
    counts = row_counts(engine)
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    assert schema_differences(engine) == []
    assert_catalogue_kept(engine, source_catalogue, counts)

    downgrade(engine, FIRST_REVISION)
    assert not ACCOUNT_TABLES & set(inspect(engine).get_table_names())
    upgrade(engine)
    assert schema_differences(engine) == []
    assert_catalogue_kept(engine, source_catalogue, counts)

    # A pre-migration store: drop everything, recreate only the catalogue tables, then adopt it.
    Base.metadata.drop_all(engine)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    Base.metadata.create_all(engine, tables=CATALOGUE_TABLES)
    seed_catalogue(engine, source_catalogue)
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)
    assert schema_differences(engine) == []
    assert_catalogue_kept(engine, source_catalogue, counts)
