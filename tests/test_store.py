"""The catalogue in the store: seeding is idempotent, reading gives back what was written."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.catalogue.models import Catalogue
from bot.store.catalogue_cache import CatalogueCache
from bot.store.catalogue_repo import catalogue_version, read_catalogue, save_catalogue, stored_version
from bot.store.models import FeatureRow, PlanValueRow


def test_read_back_equals_source(sessions: sessionmaker[Session], source_catalogue: Catalogue) -> None:
    with sessions() as session:
        assert read_catalogue(session) == source_catalogue
        assert stored_version(session) == catalogue_version(source_catalogue)


def test_seeding_twice_changes_nothing(sessions: sessionmaker[Session], source_catalogue: Catalogue) -> None:
    with sessions() as session:
        before = session.scalar(select(func.count()).select_from(PlanValueRow))
    with sessions.begin() as session:
        assert save_catalogue(session, source_catalogue) is False
    with sessions() as session:
        assert (
            session.scalar(select(func.count()).select_from(PlanValueRow))
            == before
            == 5 * len(source_catalogue.features)
        )


def test_changed_catalogue_replaces_rows(
    sessions: sessionmaker[Session], source_catalogue: Catalogue
) -> None:
    users = source_catalogue.feature("users")
    values = dict(users.values)
    values["expert"] = values["expert"].model_copy(update={"amount": 35})
    kept = [f for f in source_catalogue.features if f.key != "flow_map"]
    kept = [users.model_copy(update={"values": values}) if f.key == "users" else f for f in kept]
    changed = source_catalogue.model_copy(update={"features": tuple(kept)})
    with sessions.begin() as session:
        assert save_catalogue(session, changed) is True
    with sessions() as session:
        stored = read_catalogue(session)
        assert stored.feature("users").values["expert"].amount == 35
        assert "flow_map" not in {f.key for f in stored.features}
        assert session.get(FeatureRow, "flow_map") is None
        assert session.scalars(select(PlanValueRow).where(PlanValueRow.feature_key == "flow_map")).all() == []


def test_cache_rereads_a_new_version(sessions: sessionmaker[Session], source_catalogue: Catalogue) -> None:
    cache = CatalogueCache(sessions, max_age=0)
    first = cache.get()
    assert cache.get() is first
    users = source_catalogue.feature("users")
    values = {**users.values, "starter": users.values["starter"].model_copy(update={"amount": 2})}
    features = tuple(
        users.model_copy(update={"values": values}) if f.key == "users" else f
        for f in source_catalogue.features
    )
    with sessions.begin() as session:
        save_catalogue(session, source_catalogue.model_copy(update={"features": features}))
    second = cache.get()
    assert second is not first
    assert second.catalogue.feature("users").values["starter"].amount == 2
