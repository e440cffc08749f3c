"""Writes the catalogue into the store (idempotently) and reads it back."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from bot.catalogue.models import Catalogue
from bot.store.models import CatalogueMeta, ChannelRow, FactRow, FeatureRow, PlanRow, PlanValueRow

VERSION_KEY = "version"
SECTIONS_KEY = "sections"


def catalogue_version(catalogue: Catalogue) -> str:
    """A content hash: equal catalogues give equal versions."""
    canonical = json.dumps(catalogue.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def stored_version(session: Session) -> str | None:
    """The version of the catalogue in the store, if any."""
    row = session.get(CatalogueMeta, VERSION_KEY)
    return None if row is None else str(row.value)


def save_catalogue(session: Session, catalogue: Catalogue) -> bool:
    """Upsert the catalogue; return False when the store already holds this exact version."""
    version = catalogue_version(catalogue)
    if stored_version(session) == version:
        return False
    for plan in catalogue.plans:
        session.merge(PlanRow(key=plan.key, name=plan.name, rank=-plan.rank, aliases=list(plan.aliases)))
    session.flush()
    # Ranks are unique: park them negative first so reordering plans cannot collide.
    for plan in catalogue.plans:
        session.merge(PlanRow(key=plan.key, name=plan.name, rank=plan.rank, aliases=list(plan.aliases)))
    for position, feature in enumerate(catalogue.features):
        session.merge(
            FeatureRow(
                key=feature.key,
                position=position,
                name=feature.name,
                section=feature.section,
                kind=feature.kind,
                unit=None if feature.unit is None else feature.unit.model_dump(),
                aliases=list(feature.aliases),
                reading=feature.reading,
            )
        )
        for plan_key, value in feature.values.items():
            data = value.model_dump()
            for field in ("activator", "service"):
                data[field] = None if data[field] is None else list(data[field])
            session.merge(PlanValueRow(feature_key=feature.key, plan_key=plan_key, **data))
    for position, channel in enumerate(catalogue.channels):
        session.merge(
            ChannelRow(
                key=channel.key,
                position=position,
                name=channel.name,
                uses=list(channel.uses),
                aliases=list(channel.aliases),
            )
        )
    for key, fact in catalogue.facts.model_dump(mode="json").items():
        session.merge(FactRow(key=key, value=fact))
    _delete_missing(session, catalogue)
    session.merge(CatalogueMeta(key=SECTIONS_KEY, value=list(catalogue.sections)))
    session.merge(CatalogueMeta(key=VERSION_KEY, value=version))
    return True


def _delete_missing(session: Session, catalogue: Catalogue) -> None:
    features = [f.key for f in catalogue.features]
    session.execute(delete(PlanValueRow).where(PlanValueRow.feature_key.not_in(features)))
    session.execute(delete(FeatureRow).where(FeatureRow.key.not_in(features)))
    plans = [p.key for p in catalogue.plans]
    session.execute(delete(PlanValueRow).where(PlanValueRow.plan_key.not_in(plans)))
    session.execute(delete(PlanRow).where(PlanRow.key.not_in(plans)))
    session.execute(delete(ChannelRow).where(ChannelRow.key.not_in([c.key for c in catalogue.channels])))
    session.execute(delete(FactRow).where(FactRow.key.not_in(list(type(catalogue.facts).model_fields))))


def read_catalogue(session: Session) -> Catalogue:
    """Rebuild the validated catalogue from the store's rows."""
    values: dict[str, dict[str, Any]] = {}
    for row in session.scalars(select(PlanValueRow)):
        values.setdefault(row.feature_key, {})[row.plan_key] = {
            "available": row.available,
            "amount": row.amount,
            "unlimited": row.unlimited,
            "on_request": row.on_request,
            "detail": row.detail,
            "note": row.note,
            "activator": row.activator,
            "service": row.service,
        }
    sections = session.get(CatalogueMeta, SECTIONS_KEY)
    raw = {
        "plans": [
            {"key": p.key, "name": p.name, "rank": p.rank, "aliases": p.aliases}
            for p in session.scalars(select(PlanRow).order_by(PlanRow.rank))
        ],
        "sections": [] if sections is None else sections.value,
        "features": [
            {
                "key": f.key,
                "name": f.name,
                "section": f.section,
                "kind": f.kind,
                "unit": f.unit,
                "aliases": f.aliases,
                "reading": f.reading,
                "values": values.get(f.key, {}),
            }
            for f in session.scalars(select(FeatureRow).order_by(FeatureRow.position))
        ],
        "channels": [
            {"key": c.key, "name": c.name, "uses": c.uses, "aliases": c.aliases}
            for c in session.scalars(select(ChannelRow).order_by(ChannelRow.position))
        ],
        "facts": {row.key: row.value for row in session.scalars(select(FactRow))},
    }
    return Catalogue.model_validate(raw)
