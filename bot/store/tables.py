"""The mapped classes' tables, for SQLAlchemy Core statements: the gateway's per-message store trips use
them rather than the ORM (no unit of work, identity map or object loading on the hot path: half the store
thread's time per message), and the insights' figures read through them."""

from __future__ import annotations

from typing import Any, cast

from sqlalchemy import Row, Table

from bot.store.models import (
    Contact,
    ContactEvent,
    DeliveryStatus,
    Handoff,
    HandoffMessage,
    InboundMessage,
    OutboundMessage,
    User,
)

INBOUND = cast(Table, InboundMessage.__table__)
OUTBOUND = cast(Table, OutboundMessage.__table__)
CONTACTS = cast(Table, Contact.__table__)
CONTACT_EVENTS = cast(Table, ContactEvent.__table__)
DELIVERY_STATUSES = cast(Table, DeliveryStatus.__table__)
HANDOFFS = cast(Table, Handoff.__table__)
HANDOFF_MESSAGES = cast(Table, HandoffMessage.__table__)
USERS = cast(Table, User.__table__)

# A row of a Core query, whatever its columns (read by name: `row.id`).
AnyRow = Row[*tuple[Any, ...]]
