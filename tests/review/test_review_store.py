"""The review items and the satisfaction survey in the store, on SQLite and PostgreSQL (skipped when the
test server is unreachable): kept once with their conversation, decided once, rated and commented once,
never asked of a customer who opted out, open only for the next message and for a while."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from bot.handoff.csat import Open, Surveys
from bot.store import review
from bot.store.db import make_sessionmaker
from bot.store.migrate import upgrade
from bot.store.models import Contact, Handoff, InboundMessage, ReviewItem
from tests.stores import empty_store

NOW = datetime.now(UTC)


@pytest.fixture(params=["sqlite", "postgresql"])
def sessions(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[sessionmaker[Session]]:
    """A migrated, empty store on each database."""
    with empty_store(request.param, tmp_path_factory.mktemp("review"), "test_review") as engine:
        upgrade(engine)
        yield make_sessionmaker(engine)


def message(
    session: Session, sender: str, text_: str, replies: list[str], at: datetime, status: str = "answered"
) -> int:
    row = InboundMessage(
        channel="webchat",
        external_id=uuid.uuid4().hex,
        sender_id=sender,
        text=text_,
        meta={},
        status=status,
        attempts=0,
        replies=[{"text": r} for r in replies],
        received_at=at,
    )
    session.add(row)
    session.flush()
    return row.id


# --- review items -----------------------------------------------------------------------------------------
def test_a_message_is_kept_once_with_the_turns_before_it(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        for i in range(6):
            message(session, "web:a:1", f"pregunta {i}", [f"respuesta {i}"], NOW)
        message(session, "web:a:2", "de otra persona", ["otra"], NOW)
        missed = message(session, "web:a:1", "asdf qwer", [], NOW, status="pending")
    replies: list[dict[str, Any]] = [
        {"text": "No estoy seguro de haber entendido."},
        {"custom": {"type": "table"}},
    ]
    for _ in range(2):  # an answer recorded twice keeps one item
        with sessions.begin() as session:
            review.keep_for_review(session, missed, replies, review.FALLBACK)
    with sessions() as session:
        [item] = review.items(session)
        assert review.waiting_count(session) == 1
    assert (item.text, item.normalized, item.reason, item.status) == (
        "asdf qwer",
        "asdf qwer",
        "fallback",
        "waiting",
    )
    # The last four turns of the same conversation (never another's), then the message and its reply.
    assert item.context == [
        *(
            line
            for i in range(2, 6)
            for line in ({"role": "user", "text": f"pregunta {i}"}, {"role": "bot", "text": f"respuesta {i}"})
        ),
        {"role": "user", "text": "asdf qwer"},
        {"role": "bot", "text": "No estoy seguro de haber entendido."},
    ]


def test_decisions_apply_to_waiting_items_only(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        ids = [
            message(session, "web:a:1", t, [], NOW) for t in ("cuanto sale el expert", "zzz", "y el clima?")
        ]
        for i in ids:
            review.keep_for_review(session, i, [], review.FALLBACK)
    with sessions() as session:
        items = {i.text: i.id for i in review.items(session)}
    entities = {
        items["cuanto sale el expert"]: [{"entity": "plan", "value": "expert", "start": 15, "end": 21}]
    }
    with sessions.begin() as session:
        assert (
            review.review(
                session, [items["cuanto sale el expert"]], review.LABELLED, None, "ask_price", entities
            )
            == 1
        )
        assert review.review(session, [items["y el clima?"]], review.OUT_OF_SCOPE, None) == 1
        # Decided already: a second supervisor's click changes nothing.
        assert review.review(session, [items["y el clima?"]], review.LABELLED, None, "greet") == 0
    with sessions() as session:
        assert review.waiting_count(session) == 1
        decided = {i.text: (i.status, i.intent, i.entities) for i in review.reviewed(session)}
    assert decided == {
        "cuanto sale el expert": ("labelled", "ask_price", entities[items["cuanto sale el expert"]]),
        "y el clima?": ("out_of_scope", None, []),
    }


def test_a_review_item_per_message_is_enforced_by_the_store(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        i = message(session, "web:a:1", "zzz", [], NOW)
        review.keep_for_review(session, i, [], review.FALLBACK)
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.add(
            ReviewItem(
                inbound_id=i,
                channel="webchat",
                sender_id="web:a:1",
                text="zzz",
                normalized="zzz",
                reason="fallback",
                context=[],
                received_at=NOW,
                status="waiting",
            )
        )


# --- the satisfaction survey ------------------------------------------------------------------------------
def handoff(session: Session, sender: str, reply_to: str | None = None, status: str = "resolved") -> int:
    row = Handoff(
        sender_id=sender,
        channel="whatsapp" if reply_to else "webchat",
        reply_to=reply_to,
        reason="requested",
        status=status,
        created_at=NOW - timedelta(minutes=10),
        resolved_at=NOW if status == "resolved" else None,
    )
    session.add(row)
    session.flush()
    return row.id


async def test_asked_once_and_never_while_open_or_to_an_opted_out_customer(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        resolved = handoff(session, "web:a:1")
        open_ = handoff(session, "web:a:2", status="assigned")
        opted_out = handoff(session, "wa:+5215510000001", reply_to="whatsapp:+5215510000001")
        session.add(Contact(channel="whatsapp", address="whatsapp:+5215510000001", opted_out_at=NOW))
    surveys = Surveys(sessions)
    assert await surveys.ask(resolved) is True
    assert await surveys.ask(resolved) is False  # a second replica, a second resolve
    assert await surveys.ask(open_) is False
    assert await surveys.ask(opted_out) is False
    with sessions() as session:
        asked = dict(session.execute(select(Handoff.id, Handoff.csat_asked_at)).tuples().all())
    assert asked[resolved] is not None and asked[open_] is None and asked[opted_out] is None


async def test_open_for_the_next_message_only_rated_and_commented_once(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        h = handoff(session, "web:a:1")
    surveys = Surveys(sessions)
    await surveys.ask(h)
    with sessions.begin() as session:
        first = message(session, "web:a:1", "4", [], datetime.now(UTC), status="pending")
    assert await surveys.open_for("web:a:1", first) == Open(h, rated=False)
    assert await surveys.open_for("web:a:9", first) is None  # someone else
    assert await surveys.rate(h, 4, None) is True
    assert await surveys.rate(h, 1, None) is False  # once
    with sessions.begin() as session:
        second = message(session, "web:a:1", "muy amable", [], datetime.now(UTC), status="pending")
    assert await surveys.open_for("web:a:1", second) == Open(h, rated=True)
    assert await surveys.comment(h, "muy amable") is True
    assert await surveys.comment(h, "otra cosa") is False
    with sessions.begin() as session:
        third = message(session, "web:a:1", "gracias", [], datetime.now(UTC), status="pending")
    assert await surveys.open_for("web:a:1", third) is None
    with sessions() as session:
        row = session.get(Handoff, h)
        assert row is not None and (row.csat_rating, row.csat_comment) == (4, "muy amable")


async def test_a_message_in_between_or_the_lapse_closes_the_survey(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        h = handoff(session, "web:a:1")
    surveys = Surveys(sessions)
    await surveys.ask(h)
    with sessions.begin() as session:
        message(session, "web:a:1", "¿cuánto cuesta?", ["..."], datetime.now(UTC))
        later = message(session, "web:a:1", "5", [], datetime.now(UTC), status="pending")
    assert await surveys.open_for("web:a:1", later) is None
    with sessions.begin() as session:
        h2 = handoff(session, "web:a:2")
    await surveys.ask(h2)
    with sessions.begin() as session:
        session.execute(
            update(Handoff).where(Handoff.id == h2).values(csat_asked_at=NOW - timedelta(hours=2))
        )
        late = message(session, "web:a:2", "5", [], datetime.now(UTC), status="pending")
    assert await surveys.open_for("web:a:2", late) is None


def test_the_rating_is_checked_by_the_store(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        h = handoff(session, "web:a:1")
    with pytest.raises(IntegrityError), sessions.begin() as session:
        session.execute(update(Handoff).where(Handoff.id == h).values(csat_rating=6))


async def test_not_asked_once_the_channels_window_closed(sessions: sessionmaker[Session]) -> None:
    address = "whatsapp:+5215510000002"
    with sessions.begin() as session:
        recent = handoff(session, "wa:+5215510000002", reply_to=address)
        session.add(Contact(channel="whatsapp", address=address, last_inbound_at=NOW - timedelta(hours=1)))
        stale = handoff(session, "wa:+5215510000003", reply_to="whatsapp:+5215510000003")
        session.add(
            Contact(
                channel="whatsapp",
                address="whatsapp:+5215510000003",
                last_inbound_at=NOW - timedelta(hours=25),
            )
        )
    surveys = Surveys(sessions)
    assert await surveys.ask(stale, timedelta(hours=24)) is False
    assert await surveys.ask(recent, timedelta(hours=24)) is True
