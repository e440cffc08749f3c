"""The not-understood review in the store: each message the assistant did not understand is kept (already
redacted, as every stored text) with the conversation before it, waits for a supervisor, and once labelled
becomes a training example."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.nlu.resolve import fold
from bot.store.models import InboundMessage, ReviewItem

# Turns of the conversation kept before the message itself, and how much of each text.
CONTEXT_TURNS = 4
TEXT_LIMIT = 500
FALLBACK = "fallback"
HANDOFF = "handoff"
WAITING, LABELLED, OUT_OF_SCOPE = "waiting", "labelled", "out_of_scope"


@dataclass(frozen=True)
class Item:
    """A review item as the page and the export see it."""

    id: int
    channel: str
    text: str
    normalized: str
    reason: str
    context: list[dict[str, Any]]
    received_at: datetime
    status: str
    intent: str | None
    entities: list[dict[str, Any]]


def _item(row: ReviewItem) -> Item:
    return Item(
        row.id,
        row.channel,
        row.text,
        row.normalized,
        row.reason,
        list(row.context or []),
        row.received_at,
        row.status,
        row.intent,
        list(row.entities or []),
    )


def reply_texts(replies: Sequence[dict[str, Any]]) -> list[str]:
    """What the user read of the assistant's replies (texts only: tables repeat them)."""
    return [str(r["text"])[:TEXT_LIMIT] for r in replies if isinstance(r, dict) and r.get("text")]


def _lines(text: str, replies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {"role": "user", "text": text[:TEXT_LIMIT]},
        *({"role": "bot", "text": t} for t in reply_texts(replies)),
    ]


def keep_for_review(
    session: Session, inbound_id: int, replies: Sequence[dict[str, Any]], reason: str
) -> None:
    """Keep a message that was not understood, with the turns before it and the replies it got (once per
    message: an answer recorded again changes nothing)."""
    if session.scalar(select(ReviewItem.id).where(ReviewItem.inbound_id == inbound_id)) is not None:
        return
    message = session.get(InboundMessage, inbound_id)
    if message is None:
        return
    before = session.scalars(
        select(InboundMessage)
        .where(
            InboundMessage.sender_id == message.sender_id,
            InboundMessage.status == "answered",
            InboundMessage.id < inbound_id,
        )
        .order_by(InboundMessage.id.desc())
        .limit(CONTEXT_TURNS)
    ).all()
    context = [line for row in reversed(before) for line in _lines(row.text, row.replies or [])]
    session.add(
        ReviewItem(
            inbound_id=inbound_id,
            channel=message.channel,
            sender_id=message.sender_id,
            text=message.text,
            normalized=fold(message.text),
            reason=reason,
            context=[*context, *_lines(message.text, replies)],
            received_at=message.received_at,
            status=WAITING,
        )
    )


def waiting_count(session: Session) -> int:
    """How many items wait for a supervisor."""
    return (
        session.scalar(select(func.count()).select_from(ReviewItem).where(ReviewItem.status == WAITING)) or 0
    )


def items(session: Session, status: str = WAITING, limit: int = 2000) -> list[Item]:
    """Items in one status, oldest first (bounded: the page groups what it shows)."""
    rows = session.scalars(
        select(ReviewItem).where(ReviewItem.status == status).order_by(ReviewItem.id).limit(limit)
    )
    return [_item(row) for row in rows]


def waiting_texts(session: Session, ids: Sequence[int]) -> dict[int, str]:
    """The texts of the waiting items among `ids`."""
    rows = session.execute(
        select(ReviewItem.id, ReviewItem.text).where(
            ReviewItem.id.in_(list(ids)), ReviewItem.status == WAITING
        )
    )
    return {row.id: row.text for row in rows}


def review(
    session: Session,
    ids: Sequence[int],
    status: str,
    user_id: int | None,
    intent: str | None = None,
    entities: dict[int, list[dict[str, Any]]] | None = None,
) -> int:
    """Label waiting items with an intent (and each its entities) or mark them out of scope; return how
    many (an item another supervisor decided meanwhile is left as they decided)."""
    rows = session.scalars(
        select(ReviewItem).where(ReviewItem.id.in_(list(ids)), ReviewItem.status == WAITING)
    ).all()
    moment = datetime.now(UTC)
    for row in rows:
        row.status = status
        row.intent = intent if status == LABELLED else None
        row.entities = (entities or {}).get(row.id) or None if status == LABELLED else None
        row.reviewed_by = user_id
        row.reviewed_at = moment
    return len(rows)


def reviewed(session: Session) -> list[Item]:
    """Every reviewed item (labelled or out of scope), oldest first: what the export writes."""
    rows = session.scalars(
        select(ReviewItem).where(ReviewItem.status.in_((LABELLED, OUT_OF_SCOPE))).order_by(ReviewItem.id)
    )
    return [_item(row) for row in rows]
