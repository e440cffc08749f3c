"""Process-wide resources of the action server, created on first use and closed when the process exits."""

from __future__ import annotations

import atexit
from functools import lru_cache

from sqlalchemy.orm import Session, sessionmaker

from bot.settings import get_settings
from bot.store.catalogue_cache import CatalogueCache
from bot.store.db import make_engine, make_sessionmaker


@lru_cache(maxsize=1)
def sessions() -> sessionmaker[Session]:
    """Sessions on the configured store."""
    engine = make_engine(get_settings().database_url)
    # Closing every connection on exit lets SQLite checkpoint its write-ahead log and remove the -wal and
    # -shm files (a worker that exits with connections open leaves them behind).
    atexit.register(engine.dispose)
    return make_sessionmaker(engine)


@lru_cache(maxsize=1)
def catalogue_cache() -> CatalogueCache:
    """The catalogue cache over the configured store."""
    return CatalogueCache(sessions(), get_settings().catalogue_cache_seconds)
