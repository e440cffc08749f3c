"""Schema migrations (Alembic): bring any store, new or old, to the current schema without losing data."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
# The first revision created the catalogue tables, as `Base.metadata.create_all` did before migrations.
FIRST_REVISION = "0001"


def alembic_config(engine: Engine) -> Config:
    """An Alembic configuration pointing at our migrations and the engine's URL."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def current_revision(engine: Engine) -> str | None:
    """The store's schema revision, or None for a store never migrated."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision() -> str:
    """The newest schema revision this code expects."""
    head = ScriptDirectory.from_config(alembic_config_for_scripts()).get_current_head()
    assert head is not None
    return head


def alembic_config_for_scripts() -> Config:
    """An Alembic configuration that only locates the migration scripts."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def require_current(engine: Engine) -> None:
    """Refuse to serve from a store whose schema is not the one this code expects."""
    current, head = current_revision(engine), head_revision()
    if current != head:
        raise RuntimeError(f"the store's schema is at {current}, not {head}: run `bot create` to migrate it")


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the store to `revision`; a pre-migration store with the catalogue tables is adopted first."""
    config = alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        tables = set(inspect(connection).get_table_names())
        if "alembic_version" not in tables and "catalogue_plans" in tables:
            command.stamp(config, FIRST_REVISION)
        command.upgrade(config, revision)
