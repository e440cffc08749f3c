"""The gateway's durable state: received messages (idempotency, leases, retries) and delivery statuses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, exists, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.dialogue.report import TurnReport
from bot.gateway.contacts import Arrival, arrived
from bot.gateway.outbound import Draft
from bot.gateway.outbox import Queued, queue_texts
from bot.handoff.csat import SURVEY_LAPSE, may_be_open
from bot.handoff.queue import ACTIVE
from bot.store.db import in_store, utc
from bot.store.models import InboundMessage
from bot.store.review import keep_for_review
from bot.store.tables import HANDOFFS, INBOUND, USERS, AnyRow

# How an answer's texts join the outbox in the answer's transaction: (session, channel, to, drafts).
QueueTexts = Callable[[Session, str, str, Sequence[Draft | str]], list[Queued]]


@dataclass(frozen=True)
class Inbound:
    """A stored inbound message."""

    id: int
    channel: str
    external_id: str
    sender_id: str
    reply_to: str | None
    text: str
    meta: dict[str, Any]
    status: str
    replies: list[dict[str, Any]] | None
    # A replica holds a live lease on it (it is being answered right now).
    leased: bool = False
    # When the gateway stored it (reply latency is measured from here).
    received_at: datetime | None = None


@dataclass(frozen=True)
class Outgoing:
    """What an answer sends on a channel that delivers later: its texts to the recipient, in order."""

    channel: str
    recipient: str
    texts: list[Draft]


@dataclass(frozen=True)
class Taken:
    """What one trip to the store found before answering a message (see `Inbox.take`)."""

    # The sender's unanswered messages that arrived earlier (nothing was claimed when there are some).
    earlier: list[Inbound]
    # This replica now holds the message's lease.
    claimed: bool
    # The message as stored once claimed (replies kept from an earlier, undelivered answer).
    current: Inbound | None = None
    # The sender's conversation is handed off to a person.
    handed_off: bool = False
    # The sender was asked the satisfaction question (or rated) within its lapse and has not commented:
    # this message may answer it. Most senders never are, and skip the survey's own trip to the store.
    surveyed: bool = False


# What an `Inbound` is read from (Core rows: the per-message trips skip the ORM's object loading).
_COLUMNS = (
    INBOUND.c.id,
    INBOUND.c.channel,
    INBOUND.c.external_id,
    INBOUND.c.sender_id,
    INBOUND.c.reply_to,
    INBOUND.c.text,
    INBOUND.c.meta,
    INBOUND.c.status,
    INBOUND.c.replies,
    INBOUND.c.claimed_until,
    INBOUND.c.received_at,
)


# The per-message trips' statements, built once: building a statement costs the store thread more than
# SQLite takes to run it. Parameters named apart from the columns an UPDATE sets from its own keys.
_USER_BY_PHONE = select(USERS.c.id, USERS.c.account_id).where(
    USERS.c.phone == bindparam("phone"), USERS.c.phone_verified.is_(True)
)
_INSERT = insert(INBOUND).returning(INBOUND.c.id)
_BY_EXTERNAL_ID = select(*_COLUMNS).where(
    INBOUND.c.channel == bindparam("by_channel"), INBOUND.c.external_id == bindparam("by_external_id")
)
_BY_ID = select(*_COLUMNS).where(INBOUND.c.id == bindparam("message_id"))
_EARLIER = (
    select(*_COLUMNS)
    .where(
        INBOUND.c.sender_id == bindparam("by_sender"),
        INBOUND.c.status == "pending",
        INBOUND.c.id < bindparam("message_id"),
    )
    .order_by(INBOUND.c.id)
)
_CLAIM = update(INBOUND).where(
    INBOUND.c.id == bindparam("message_id"),
    INBOUND.c.status == "pending",
    or_(
        INBOUND.c.claimed_until.is_(None),
        INBOUND.c.claimed_until < bindparam("moment"),
        INBOUND.c.claimed_by == bindparam("owner"),
    ),
)
# Claimed: the message as stored, whether its sender is handed off, and whether a survey may be open.
_CLAIMED = select(
    *_COLUMNS,
    exists()
    .where(HANDOFFS.c.sender_id == bindparam("by_sender"), HANDOFFS.c.status.in_(ACTIVE))
    .label("handed_off"),
    may_be_open(bindparam("by_sender"), bindparam("survey_since")).label("surveyed"),
).where(INBOUND.c.id == bindparam("message_id"))
_ANSWER = update(INBOUND).where(INBOUND.c.id == bindparam("message_id"))
_ANSWER_OWNED = _ANSWER.where(INBOUND.c.status == "pending", INBOUND.c.claimed_by == bindparam("owner"))


def _leased(row: AnyRow) -> bool:
    until = row.claimed_until
    return until is not None and utc(until) > _now()


def _inbound(row: AnyRow) -> Inbound:
    return Inbound(
        row.id,
        row.channel,
        row.external_id,
        row.sender_id,
        row.reply_to,
        row.text,
        dict(row.meta or {}),
        row.status,
        row.replies,
        _leased(row),
        row.received_at,
    )


def _now() -> datetime:
    return datetime.now(UTC)


def _verified_user(session: Session, phone: str) -> AnyRow | None:
    """The user (id, account_id) whose verified WhatsApp number this is."""
    return session.execute(_USER_BY_PHONE, {"phone": phone}).first()


def _turn_values(turn: TurnReport | None) -> dict[str, Any]:
    if turn is None:
        return {}
    return {"intent": turn.intent, "understood": turn.understood, "plans": list(turn.plans)}


class Inbox:
    """Store operations, run in a worker thread so the event loop never blocks on the database."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        queue: QueueTexts = queue_texts,
        released: Callable[[], None] | None = None,
    ) -> None:
        self._sessions = sessions
        # How an answer's texts join the outbox (the outbox's own `queue`: leased to this replica).
        self._queue = queue
        # Called when a contact's message released texts held for their window (the outbox's `wake`).
        self._released = released

    async def record(
        self,
        channel: str,
        external_id: str,
        sender_id: str,
        reply_to: str | None,
        text: str,
        meta: dict[str, Any],
        phone: str | None = None,
        arrival: Arrival | None = None,
    ) -> tuple[Inbound, bool]:
        """Store a message once; return it and whether it is new (False: a replay of a stored one). With
        `phone`, the user whose verified number it is (if any) is looked up in the same trip and named in
        the message's metadata as its sender's identity; with `arrival`, the contact's window, name and
        consent are updated in the same transaction (see `contacts.arrived`)."""

        def run() -> tuple[Inbound, bool, int]:
            with self._sessions() as session:
                moment = _now()
                user = None if phone is None else _verified_user(session, phone)
                if user is not None:
                    meta["identity"] = {"user_id": user.id, "account_id": user.account_id}
                row = {
                    "channel": channel,
                    "external_id": external_id,
                    "sender_id": sender_id,
                    "reply_to": reply_to,
                    "text": text,
                    "meta": meta,
                    "status": "pending",
                    "attempts": 0,
                    "received_at": moment,
                }
                try:
                    new_id = session.execute(_INSERT, row).scalar_one()
                except IntegrityError:  # a replay: (channel, external_id) is stored already
                    session.rollback()
                    replayed = {"by_channel": channel, "by_external_id": external_id}
                    existing = session.execute(_BY_EXTERNAL_ID, replayed).one()
                    return _inbound(existing), False, 0
                released = 0 if arrival is None else arrived(session, arrival, moment)
                session.commit()
                stored = Inbound(
                    int(new_id),
                    channel,
                    external_id,
                    sender_id,
                    reply_to,
                    text,
                    dict(meta),
                    "pending",
                    None,
                    False,
                    moment,
                )
                return stored, True, released

        stored, new, released = await in_store(self._sessions, run)
        if released and self._released is not None:
            self._released()
        return stored, new

    async def answered(
        self,
        message_id: int,
        replies: list[dict[str, Any]],
        outgoing: Outgoing | None = None,
        owner: str | None = None,
        turn: TurnReport | None = None,
        review: str | None = None,
    ) -> list[Queued] | None:
        """Mark a message answered, keep the replies (a retried webchat request gets them again) and end
        its lease; with `outgoing`, queue its texts in the outbox in the same transaction: the answer is
        queued exactly once, whatever fails after it. Returns the recipient's texts waiting to go out then,
        oldest first (none without `outgoing`).

        With `owner`, only while that replica still holds the message: a replica whose lease ran out while
        it waited for the engine (an overloaded machine) may find another answered it meanwhile, and then
        its answer is dropped (None) rather than sent a second time.

        With `turn`, what the assistant made of the message is recorded with it; with `review` (why it was
        not understood), the message is kept for the not-understood review, with its conversation, in the
        same transaction."""

        def run() -> list[Queued] | None:
            with self._sessions.begin() as session:
                moment = _now()
                values: dict[str, Any] = {
                    "message_id": message_id,
                    "status": "answered",
                    "replies": replies,
                    "answered_at": moment,
                    "claimed_until": None,
                    **_turn_values(turn),
                }
                if owner is not None:
                    values["owner"] = owner
                result = session.execute(_ANSWER if owner is None else _ANSWER_OWNED, values)
                if owner is not None and result.rowcount != 1:  # type: ignore[attr-defined]
                    return None
                if review is not None:
                    keep_for_review(session, message_id, replies, review)
                if outgoing is None:
                    return []
                return self._queue(session, outgoing.channel, outgoing.recipient, outgoing.texts)

        return await in_store(self._sessions, run)

    async def attempted(self, message_id: int) -> int:
        """Count a failed attempt; return how many there have been."""

        def run() -> int:
            with self._sessions.begin() as session:
                row = session.get(InboundMessage, message_id)
                if row is None:
                    return 0
                row.attempts += 1
                return row.attempts

        return await in_store(self._sessions, run)

    @staticmethod
    def _claim(session: Session, message_id: int, owner: str, moment: datetime, seconds: float) -> bool:
        claim = {
            "message_id": message_id,
            "moment": moment,
            "owner": owner,
            "claimed_by": owner,
            "claimed_until": moment + timedelta(seconds=seconds),
        }
        result = session.execute(_CLAIM, claim)
        return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    async def take(
        self,
        message: Inbound,
        owner: str,
        seconds: float,
        earlier: bool = True,
    ) -> Taken:
        """Before answering a message, in one transaction: the sender's earlier unanswered messages (when
        asked; if there are some, nothing else is done: they go first); else this message's lease (as
        `claim`), its stored state, whether the sender is handed off and whether a survey may be open."""

        def run() -> Taken:
            moment = _now()
            with self._sessions.begin() as session:
                keys = {"message_id": message.id, "by_sender": message.sender_id}
                if earlier:
                    rows = session.execute(_EARLIER, keys).all()
                    if rows:
                        return Taken([_inbound(r) for r in rows], False)
                if not self._claim(session, message.id, owner, moment, seconds):
                    return Taken([], False)
                keys["survey_since"] = moment - SURVEY_LAPSE
                row = session.execute(_CLAIMED, keys).first()
                if row is None:
                    return Taken([], True)
                return Taken([], True, _inbound(row), bool(row.handed_off), bool(row.surveyed))

        return await in_store(self._sessions, run)

    async def renew(self, message_ids: list[int], owner: str, seconds: float) -> None:
        """Extend this replica's leases on messages it is still answering (pending, claimed by it)."""

        def run() -> None:
            with self._sessions.begin() as session:
                session.execute(
                    update(INBOUND)
                    .where(
                        INBOUND.c.id.in_(message_ids),
                        INBOUND.c.claimed_by == owner,
                        INBOUND.c.status == "pending",
                    )
                    .values(claimed_until=_now() + timedelta(seconds=seconds))
                )

        await in_store(self._sessions, run)

    async def release(self, message_id: int, owner: str) -> None:
        """End this replica's lease on a message."""

        def run() -> None:
            with self._sessions.begin() as session:
                session.execute(
                    update(INBOUND)
                    .where(INBOUND.c.id == message_id, INBOUND.c.claimed_by == owner)
                    .values(claimed_until=None)
                )

        await in_store(self._sessions, run)

    async def pending(self, limit: int = 100) -> list[Inbound]:
        """Messages not answered yet, oldest first."""

        def run() -> list[Inbound]:
            with self._sessions() as session:
                rows = session.execute(
                    select(*_COLUMNS).where(INBOUND.c.status == "pending").order_by(INBOUND.c.id).limit(limit)
                )
                return [_inbound(r) for r in rows]

        return await in_store(self._sessions, run)

    async def get(self, message_id: int) -> Inbound | None:
        """A stored message by id."""

        def run() -> Inbound | None:
            with self._sessions() as session:
                row = session.execute(_BY_ID, {"message_id": message_id}).first()
                return None if row is None else _inbound(row)

        return await in_store(self._sessions, run)

    async def history(self, sender_id: str, limit: int) -> list[tuple[str, list[dict[str, Any]]]]:
        """The sender's last answered messages and their replies, oldest first."""

        def run() -> list[tuple[str, list[dict[str, Any]]]]:
            with self._sessions() as session:
                rows = session.scalars(
                    select(InboundMessage)
                    .where(InboundMessage.sender_id == sender_id, InboundMessage.status == "answered")
                    .order_by(InboundMessage.id.desc())
                    .limit(limit)
                )
                return [(r.text, list(r.replies or [])) for r in reversed(list(rows))]

        return await in_store(self._sessions, run)
