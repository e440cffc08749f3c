"""ORM models of the store. The catalogue tables mirror `bot/catalogue/models.py`."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base of every table."""


class CatalogueMeta(Base):
    """Key/value facts about the loaded catalogue (its version hash, its sections)."""

    __tablename__ = "catalogue_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class PlanRow(Base):
    """A software plan."""

    __tablename__ = "catalogue_plans"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)


class FeatureRow(Base):
    """A row of the plans table."""

    __tablename__ = "catalogue_features"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))
    section: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    unit: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    reading: Mapped[str | None] = mapped_column(Text, nullable=True)


class PlanValueRow(Base):
    """The value of one feature in one plan."""

    __tablename__ = "catalogue_values"

    feature_key: Mapped[str] = mapped_column(
        ForeignKey("catalogue_features.key", ondelete="CASCADE"), primary_key=True
    )
    plan_key: Mapped[str] = mapped_column(
        ForeignKey("catalogue_plans.key", ondelete="CASCADE"), primary_key=True
    )
    available: Mapped[bool] = mapped_column(Boolean)
    amount: Mapped[int | None] = mapped_column(Integer, nullable=True)
    unlimited: Mapped[bool] = mapped_column(Boolean, default=False)
    on_request: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    activator: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    service: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class ChannelRow(Base):
    """A channel of the channels plan."""

    __tablename__ = "catalogue_channels"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    uses: Mapped[list[str]] = mapped_column(JSON)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)


class FactRow(Base):
    """One billing or contracting fact of the page (text or list of texts)."""

    __tablename__ = "catalogue_facts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)
