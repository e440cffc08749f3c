"""Contacts on channels that write to people (WhatsApp): when each last wrote (their service window runs
from there), the name their channel shows, and whether they asked not to be written to (a suppression
list every send checks, with an audit trail of each opt-out and opt-in)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import in_store, utc_or_none
from bot.store.models import Contact, ContactEvent
from bot.store.tables import CONTACT_EVENTS, CONTACTS, OUTBOUND

OPT_OUT, OPT_IN = "opt_out", "opt_in"


@dataclass(frozen=True)
class Arrival:
    """A message from a contact, as intake records it: who, the name their channel gave, and whether the
    message opts them out (OPT_OUT), back in (OPT_IN) or neither (any message but an opt-out opts back in)."""

    channel: str
    address: str
    message_id: str
    profile_name: str | None = None
    consent: str | None = None


@dataclass(frozen=True)
class ContactView:
    """What the console shows of a contact."""

    channel: str
    address: str
    last_inbound_at: datetime | None
    profile_name: str | None
    opted_out_at: datetime | None
    reopen_queued_at: datetime | None

    def window_closes_at(self, window: timedelta | None) -> datetime | None:
        """When free text stops reaching them (None: no window on this channel, or they never wrote)."""
        if window is None or self.last_inbound_at is None:
            return None
        return self.last_inbound_at + window


# The statements of `arrived` (every message of a contact), built once. Parameters are named apart from
# the columns an UPDATE sets from its own keys.
_OPTED_OUT_AT = select(CONTACTS.c.opted_out_at).where(
    CONTACTS.c.channel == bindparam("by_channel"), CONTACTS.c.address == bindparam("by_address")
)
_NEW_CONTACT = insert(CONTACTS)
_CHANGE_CONTACT = update(CONTACTS).where(
    CONTACTS.c.channel == bindparam("by_channel"), CONTACTS.c.address == bindparam("by_address")
)
_NEW_EVENT = insert(CONTACT_EVENTS)
_HELD = update(OUTBOUND).where(
    OUTBOUND.c.channel == bindparam("by_channel"),
    OUTBOUND.c.recipient == bindparam("by_address"),
    OUTBOUND.c.status == "held",
)


def arrived(session: Session, arrival: Arrival, at: datetime) -> int:
    """Record a contact's message in the caller's transaction: their window restarts, an opt-out puts them
    on the suppression list (and what waited for them is dropped), any other message takes them off it and
    releases the texts held for their window. Returns how many texts became due."""
    key = {"by_channel": arrival.channel, "by_address": arrival.address}
    known = session.execute(_OPTED_OUT_AT, key).first()
    opting_out = arrival.consent == OPT_OUT
    changes: dict[str, Any] = {"last_inbound_at": at}
    if arrival.profile_name:
        changes["profile_name"] = arrival.profile_name[:120]
    if opting_out != (known is not None and known.opted_out_at is not None):
        changes["opted_out_at"] = at if opting_out else None
        session.execute(_NEW_EVENT, _event(arrival, OPT_OUT if opting_out else OPT_IN, at))
    if known is None:
        session.execute(_NEW_CONTACT, {"channel": arrival.channel, "address": arrival.address, **changes})
    else:
        session.execute(_CHANGE_CONTACT, {**key, **changes})
    if opting_out:
        session.execute(_HELD, {**key, "status": "suppressed"})
        return 0
    released = session.execute(
        _HELD, {**key, "status": "pending", "next_attempt_at": at, "attempts": 0, "claimed_until": None}
    )
    return int(released.rowcount or 0)  # type: ignore[attr-defined]


def _event(arrival: Arrival, event: str, at: datetime) -> dict[str, Any]:
    return {
        "channel": arrival.channel,
        "address": arrival.address,
        "event": event,
        "message_id": arrival.message_id,
        "at": at,
    }


_DIGIT = re.compile(r"\d")


def masked(address: str) -> str:
    """A number as agents see it when it names nobody they may know: every digit but the last four hidden
    ("whatsapp:+5215510000001" -> "+•••••••••0001")."""
    number = address.split(":", 1)[-1]
    digits = sum(ch.isdigit() for ch in number)
    seen = 0

    def hide(match: re.Match[str]) -> str:
        nonlocal seen
        seen += 1
        return match.group() if seen > digits - 4 else "•"

    return _DIGIT.sub(hide, number)


class Contacts:
    """Reads of contacts and their audit trail, run in the store's worker thread."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    async def get(self, channel: str, address: str) -> ContactView | None:
        """A contact, if they ever wrote."""

        def run() -> ContactView | None:
            with self._sessions() as session:
                row = session.get(Contact, (channel, address))
                if row is None:
                    return None
                return ContactView(
                    row.channel,
                    row.address,
                    utc_or_none(row.last_inbound_at),
                    row.profile_name,
                    utc_or_none(row.opted_out_at),
                    utc_or_none(row.reopen_queued_at),
                )

        return await in_store(self._sessions, run)

    async def events(self, channel: str, address: str) -> list[tuple[str, datetime, str | None]]:
        """A contact's opt-outs and opt-ins, oldest first: (event, when, the message that asked)."""

        def run() -> list[tuple[str, datetime, str | None]]:
            with self._sessions() as session:
                rows = session.scalars(
                    select(ContactEvent)
                    .where(ContactEvent.channel == channel, ContactEvent.address == address)
                    .order_by(ContactEvent.id)
                )
                return [(row.event, utc_or_none(row.at) or row.at, row.message_id) for row in rows]

        return await in_store(self._sessions, run)
