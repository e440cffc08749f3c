"""Process-wide resources of the action server, created on first use."""

from __future__ import annotations

from functools import lru_cache

from bot.settings import get_settings
from bot.store.catalogue_cache import CatalogueCache
from bot.store.db import make_engine, make_sessionmaker


@lru_cache(maxsize=1)
def catalogue_cache() -> CatalogueCache:
    """The catalogue cache over the configured store."""
    settings = get_settings()
    sessions = make_sessionmaker(make_engine(settings.database_url))
    return CatalogueCache(sessions, settings.catalogue_cache_seconds)
