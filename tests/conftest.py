"""Shared fixtures: a real SQLite store seeded with the catalogue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from bot.catalogue.loader import load_catalogue
from bot.catalogue.models import Catalogue
from bot.store.catalogue_repo import save_catalogue
from bot.store.db import make_engine, make_sessionmaker
from bot.store.models import Base


@pytest.fixture(scope="session")
def source_catalogue() -> Catalogue:
    """The catalogue as read from the YAML source."""
    return load_catalogue()


@pytest.fixture
def sessions(tmp_path: Path, source_catalogue: Catalogue) -> Iterator[sessionmaker[Session]]:
    """A fresh SQLite store in a temporary folder, seeded with the catalogue."""
    engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
    Base.metadata.create_all(engine)
    factory = make_sessionmaker(engine)
    with factory.begin() as session:
        save_catalogue(session, source_catalogue)
    yield factory
    engine.dispose()
