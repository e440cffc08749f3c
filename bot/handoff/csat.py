"""The satisfaction survey after a hand-off, in the store: asked once per resolved hand-off (never to a
customer who opted out), answered once, open only for the customer's next message and for a while.

Whether the survey is still open is read from the messages themselves (any message of the customer after
the question, or after the rating, closes it), so every gateway replica reaches the same verdict."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import BindParameter, Exists, exists, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.handoff.queue import now
from bot.store.db import in_store, utc
from bot.store.models import Contact, Handoff, InboundMessage

# How long after the question a rating is taken, and after the rating a comment.
SURVEY_LAPSE = timedelta(hours=1)
COMMENT_LIMIT = 1000


def may_be_open(sender_id: str | BindParameter[str], since: datetime | BindParameter[datetime]) -> Exists:
    """Whether the sender has a survey a message may answer, as a cheap indexed test (a superset of
    `Surveys.open_for`, which also checks for a message in between): asked or rated since `since` (the
    message's time less SURVEY_LAPSE), and not commented on yet. Either may be a bound parameter, for a
    statement built once."""
    return exists().where(
        Handoff.sender_id == sender_id,
        Handoff.csat_comment.is_(None),
        or_(Handoff.csat_asked_at >= since, Handoff.csat_rated_at >= since),
    )


@dataclass(frozen=True)
class Open:
    """A survey waiting for the customer's message: a rating (`rated` False) or a comment."""

    handoff_id: int
    rated: bool


class Surveys:
    """Store operations of the survey, run in a worker thread."""

    def __init__(self, sessions: sessionmaker[Session], lapse: timedelta = SURVEY_LAPSE) -> None:
        self._sessions = sessions
        self._lapse = lapse

    async def ask(self, handoff_id: int, window: timedelta | None = None) -> bool:
        """Mark the resolved hand-off's survey asked; False when it was already (another replica, a second
        resolve), the customer opted out of messages on their channel, or their channel's `window` since
        their last message is closed (the question would wait for their next message, which it could then
        only follow: not worth a paid template)."""

        def run() -> bool:
            with self._sessions.begin() as session:
                row = session.get(Handoff, handoff_id)
                if row is None or row.status != "resolved":
                    return False
                if row.reply_to is not None:
                    contact = session.get(Contact, (row.channel, row.reply_to))
                    if contact is not None and contact.opted_out_at is not None:
                        return False
                    last = None if contact is None else contact.last_inbound_at
                    if window is not None and (last is None or now() - utc(last) >= window):
                        return False
                result = session.execute(
                    update(Handoff)
                    .where(Handoff.id == handoff_id, Handoff.csat_asked_at.is_(None))
                    .values(csat_asked_at=now())
                    .execution_options(synchronize_session=False)
                )
                return bool(result.rowcount == 1)  # type: ignore[attr-defined]

        return await in_store(self._sessions, run)

    async def open_for(self, sender_id: str, message_id: int) -> Open | None:
        """The sender's survey this message may answer: asked (or rated) within the lapse, and no message of
        theirs came in between."""

        def run() -> Open | None:
            with self._sessions() as session:
                row = session.scalars(
                    select(Handoff)
                    .where(Handoff.sender_id == sender_id, Handoff.csat_asked_at.is_not(None))
                    .order_by(Handoff.csat_asked_at.desc())
                    .limit(1)
                ).first()
                if row is None or row.csat_asked_at is None or row.csat_comment is not None:
                    return None
                since = row.csat_rated_at if row.csat_rating is not None else row.csat_asked_at
                if since is None or now() - utc(since) > self._lapse:
                    return None
                between = session.scalar(
                    select(
                        exists().where(
                            InboundMessage.sender_id == sender_id,
                            InboundMessage.id < message_id,
                            InboundMessage.received_at > since,
                        )
                    )
                )
                return None if between else Open(row.id, row.csat_rating is not None)

        return await in_store(self._sessions, run)

    async def rate(self, handoff_id: int, rating: int, comment: str | None) -> bool:
        """Record the rating (and a comment), once: False when the survey was answered already."""

        def run() -> bool:
            with self._sessions.begin() as session:
                result = session.execute(
                    update(Handoff)
                    .where(Handoff.id == handoff_id, Handoff.csat_rating.is_(None))
                    .values(
                        csat_rating=rating,
                        csat_rated_at=now(),
                        csat_comment=None if comment is None else comment[:COMMENT_LIMIT],
                    )
                    .execution_options(synchronize_session=False)
                )
                return bool(result.rowcount == 1)  # type: ignore[attr-defined]

        return await in_store(self._sessions, run)

    async def comment(self, handoff_id: int, comment: str) -> bool:
        """Keep the comment that followed the rating, once."""

        def run() -> bool:
            with self._sessions.begin() as session:
                result = session.execute(
                    update(Handoff)
                    .where(
                        Handoff.id == handoff_id,
                        Handoff.csat_rating.is_not(None),
                        Handoff.csat_comment.is_(None),
                    )
                    .values(csat_comment=comment[:COMMENT_LIMIT])
                    .execution_options(synchronize_session=False)
                )
                return bool(result.rowcount == 1)  # type: ignore[attr-defined]

        return await in_store(self._sessions, run)
