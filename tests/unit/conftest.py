"""Fixtures shared by the unit tests: the catalogue as shipped, and a resolver over it."""

from __future__ import annotations

import pytest

from bot.catalogue.loader import load_catalogue
from bot.catalogue.models import Catalogue
from bot.nlu.resolve import Resolver


@pytest.fixture(scope="session")
def catalogue() -> Catalogue:
    """The validated catalogue loaded from bot/catalogue/data/*.yml."""
    return load_catalogue()


@pytest.fixture(scope="session")
def resolver(catalogue: Catalogue) -> Resolver:
    """A resolver over the shipped catalogue."""
    return Resolver(catalogue)
