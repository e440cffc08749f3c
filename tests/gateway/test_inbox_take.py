"""`Inbox.take`: one trip to the store before answering a message finds what the answer needs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from bot.gateway.inbox import Inbox
from bot.handoff.csat import SURVEY_LAPSE
from bot.store.db import make_engine, make_sessionmaker
from bot.store.models import Handoff


def _inbox(database_url: str) -> tuple[Inbox, sessionmaker[Session]]:
    sessions = make_sessionmaker(make_engine(database_url))
    return Inbox(sessions), sessions


async def test_earlier_unanswered_messages_come_back_and_nothing_is_claimed(database_url: str) -> None:
    inbox, _ = _inbox(database_url)
    first, _ = await inbox.record("whatsapp", "SM1", "wa:+1", "whatsapp:+1", "uno", {})
    second, _ = await inbox.record("whatsapp", "SM2", "wa:+1", "whatsapp:+1", "dos", {})
    taken = await inbox.take(second, "replica-a", 30)
    assert [m.id for m in taken.earlier] == [first.id] and not taken.claimed
    assert not (await inbox.get(second.id)).leased  # type: ignore[union-attr]
    # Asked without the earlier ones (they were answered first): claimed.
    taken = await inbox.take(second, "replica-a", 30, earlier=False)
    assert taken.claimed and taken.current is not None and taken.current.text == "dos"
    assert (await inbox.get(second.id)).leased  # type: ignore[union-attr]


async def test_a_message_another_replica_holds_is_not_claimed(database_url: str) -> None:
    inbox, _ = _inbox(database_url)
    message, _ = await inbox.record("webchat", "w1", "web:7", None, "hola", {})
    assert (await inbox.take(message, "replica-a", 30)).claimed
    assert not (await inbox.take(message, "replica-b", 30)).claimed
    assert (await inbox.take(message, "replica-a", 30)).claimed  # its own lease, renewed
    await inbox.answered(message.id, [{"text": "hola"}])
    assert not (await inbox.take(message, "replica-a", 30)).claimed  # answered: nothing to claim
    stored = await inbox.get(message.id)
    assert stored is not None and stored.status == "answered" and not stored.leased
    assert stored.replies == [{"text": "hola"}]


async def test_the_hand_off_comes_with_the_claim(database_url: str) -> None:
    inbox, sessions = _inbox(database_url)
    message, _ = await inbox.record("whatsapp", "SM9", "wa:+2", "whatsapp:+2", "2", {})
    taken = await inbox.take(message, "replica-a", 30)
    assert taken.claimed and not taken.handed_off
    with sessions.begin() as session:
        session.add(
            Handoff(sender_id="wa:+2", channel="whatsapp", reason="asked", created_at=datetime.now(UTC))
        )
    taken = await inbox.take(message, "replica-a", 30)
    assert taken.handed_off
    with sessions.begin() as session:
        for handoff in session.query(Handoff).filter_by(sender_id="wa:+2"):
            handoff.status = "resolved"
    assert not (await inbox.take(message, "replica-a", 30)).handed_off


async def test_whether_a_survey_may_be_open_comes_with_the_claim(database_url: str) -> None:
    """Asked (or rated) within the lapse and not commented on: the message may answer the survey; else the
    survey's own store trip is skipped."""
    inbox, sessions = _inbox(database_url)
    message, _ = await inbox.record("webchat", "w5", "web:5", None, "4", {})
    assert not (await inbox.take(message, "replica-a", 30)).surveyed  # never asked
    now = datetime.now(UTC)
    with sessions.begin() as session:
        session.add(
            Handoff(
                sender_id="web:5",
                channel="webchat",
                reason="requested",
                status="resolved",
                created_at=now - timedelta(hours=3),
                csat_asked_at=now - timedelta(minutes=5),
            )
        )
    assert (await inbox.take(message, "replica-a", 30)).surveyed
    with sessions.begin() as session:  # asked too long ago
        session.query(Handoff).filter_by(sender_id="web:5").update(
            {"csat_asked_at": now - SURVEY_LAPSE - timedelta(minutes=1)}
        )
    assert not (await inbox.take(message, "replica-a", 30)).surveyed
    with sessions.begin() as session:  # but rated within the lapse: a comment may follow
        session.query(Handoff).filter_by(sender_id="web:5").update(
            {"csat_rating": 4, "csat_rated_at": now - timedelta(minutes=1)}
        )
    assert (await inbox.take(message, "replica-a", 30)).surveyed
    with sessions.begin() as session:  # commented: the survey is over
        session.query(Handoff).filter_by(sender_id="web:5").update({"csat_comment": "muy bien"})
    assert not (await inbox.take(message, "replica-a", 30)).surveyed
