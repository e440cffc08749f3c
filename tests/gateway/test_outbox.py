"""The outbox never sends a text twice, even when it cannot know whether a send went through.

A real SQLite store and a scripted provider: each test makes sends succeed, fail, time out after the
provider accepted them, or the store fail right after a send, then checks what the provider holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.gateway.outbound import Refused
from bot.gateway.outbox import Outbox, Queued
from bot.gateway.twilio_out import RedirectingHttpClient, TwilioProvider
from bot.store.db import make_engine, make_sessionmaker
from bot.store.models import OutboundMessage
from testkit.fake_twilio import FakeTwilio
from tests.gateway.conftest import make_settings, rows

WA = "whatsapp"
TO = "whatsapp:+5215510000001"


@dataclass
class Accepted:
    sid: str
    to: str
    body: str
    at: datetime


@dataclass
class ScriptedProvider:
    """A messaging API whose next sends behave as scripted: 'ok', 'refuse', 'fail' (an error before it
    was accepted) or 'lost' (accepted, but the answer never came back)."""

    script: list[str] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    lookups: int = 0
    lookups_fail: bool = False

    async def send(self, to: str, body: str) -> str:
        outcome = self.script.pop(0) if self.script else "ok"
        if outcome == "refuse":
            raise Refused("21211 invalid 'To' number")
        if outcome == "fail":
            raise ConnectionResetError("connection reset before the request was read")
        sid = f"SM{len(self.accepted):032d}"
        self.accepted.append(Accepted(sid, to, body, datetime.now(UTC)))
        if outcome == "lost":
            raise TimeoutError("no answer within the timeout")
        return sid

    async def find(self, to: str, body: str, since: datetime, exclude: set[str]) -> str | None:
        self.lookups += 1
        if self.lookups_fail:
            raise TimeoutError("the list request timed out too")
        for message in reversed(self.accepted):
            if (
                message.to == to
                and message.body == body
                and message.at >= since
                and message.sid not in exclude
            ):
                return message.sid
        return None

    def bodies(self, to: str = TO) -> list[str]:
        return [m.body for m in self.accepted if m.to == to]


@pytest.fixture
def provider() -> ScriptedProvider:
    return ScriptedProvider()


@pytest.fixture
def outbox(database_url: str, provider: ScriptedProvider) -> Outbox:
    return Outbox(
        make_sessionmaker(make_engine(database_url)), {WA: provider}, "test-replica", lease_seconds=30.0
    )


def outbox_rows(database_url: str) -> list[dict[str, Any]]:
    return sorted(rows(database_url, "outbound_messages"), key=lambda r: r["id"])


def make_due(database_url: str, **values: Any) -> None:
    """Fast-forward: every pending row is due now (and, with claimed_until=None, its lease has ended)."""
    store = make_engine(database_url)
    with make_sessionmaker(store).begin() as session:
        session.execute(
            update(OutboundMessage)
            .where(OutboundMessage.status == "pending")
            .values(next_attempt_at=datetime.now(UTC) - timedelta(seconds=1), **values)
        )
    store.dispose()


async def test_a_send_is_stored_delivered_and_recorded_with_the_providers_id(
    outbox: Outbox, provider: ScriptedProvider, database_url: str
) -> None:
    await outbox.send(WA, TO, ["hola"])
    [row] = outbox_rows(database_url)
    assert row["status"] == "sent" and row["provider_id"] == provider.accepted[0].sid
    assert row["in_flight_since"] is None and provider.lookups == 0


async def test_a_send_accepted_but_unanswered_is_not_sent_again(
    outbox: Outbox, provider: ScriptedProvider, database_url: str
) -> None:
    provider.script = ["lost"]
    await outbox.send(WA, TO, ["tu contrato está activo"])
    await outbox.send(WA, TO, ["¿algo más?"])  # waits behind the first: order is kept
    [first, second] = outbox_rows(database_url)
    assert first["status"] == second["status"] == "pending"
    assert first["in_flight_since"] is not None

    make_due(database_url)
    assert await outbox.deliver_due() == 2
    assert provider.bodies() == ["tu contrato está activo", "¿algo más?"]  # each once, in order
    assert provider.lookups == 1
    first, second = outbox_rows(database_url)
    assert first["status"] == "sent" and first["provider_id"] == provider.accepted[0].sid
    assert second["status"] == "sent" and first["in_flight_since"] is None


async def test_a_send_that_failed_before_reaching_the_provider_is_sent_after_checking(
    outbox: Outbox, provider: ScriptedProvider, database_url: str
) -> None:
    provider.script = ["fail"]
    await outbox.send(WA, TO, ["hola"])
    assert provider.bodies() == []
    make_due(database_url)
    assert await outbox.deliver_due() == 1
    assert provider.bodies() == ["hola"] and provider.lookups == 1


async def test_a_refused_send_is_retried_without_asking(
    outbox: Outbox, provider: ScriptedProvider, database_url: str
) -> None:
    provider.script = ["refuse"]
    await outbox.send(WA, TO, ["hola"])
    [row] = outbox_rows(database_url)
    assert row["status"] == "pending" and row["in_flight_since"] is None and row["attempts"] == 1
    assert "21211" in row["last_error"]
    make_due(database_url)
    assert await outbox.deliver_due() == 1
    assert provider.bodies() == ["hola"] and provider.lookups == 0


async def test_an_identical_earlier_text_is_not_mistaken_for_the_uncertain_one(
    outbox: Outbox, provider: ScriptedProvider, database_url: str
) -> None:
    await outbox.send(WA, TO, ["¿En qué más te ayudo?"])
    provider.script = ["fail"]
    await outbox.send(WA, TO, ["¿En qué más te ayudo?"])  # the same words, a second time: it must go out
    make_due(database_url)
    assert await outbox.deliver_due() == 1
    assert provider.bodies() == ["¿En qué más te ayudo?", "¿En qué más te ayudo?"]
    assert len({r["provider_id"] for r in outbox_rows(database_url)}) == 2


async def test_a_store_failure_after_the_send_does_not_send_it_again(
    outbox: Outbox, provider: ScriptedProvider, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original: Callable[..., None] = outbox.rows.record

    def store_down(*_: Any) -> None:
        raise OSError("database is unreachable")

    monkeypatch.setattr(outbox.rows, "record", store_down)
    await outbox.send(WA, TO, ["tu factura de octubre"])  # accepted, but it could not be marked sent
    assert provider.bodies() == ["tu factura de octubre"]
    [row] = outbox_rows(database_url)
    assert row["status"] == "pending" and row["in_flight_since"] is not None

    monkeypatch.setattr(outbox.rows, "record", original)
    assert await outbox.deliver_due() == 0  # still leased: nobody touches it before the lease ends
    make_due(database_url, claimed_until=None)  # the lease ran out (another replica may take it now)
    assert await outbox.deliver_due() == 1
    assert provider.bodies() == ["tu factura de octubre"]  # once
    assert outbox_rows(database_url)[0]["status"] == "sent"


async def test_when_the_check_itself_fails_nothing_is_sent_until_it_succeeds(
    outbox: Outbox, provider: ScriptedProvider, database_url: str
) -> None:
    provider.script = ["lost"]
    await outbox.send(WA, TO, ["hola"])
    provider.lookups_fail = True
    make_due(database_url)
    assert await outbox.deliver_due() == 0
    assert provider.bodies() == ["hola"]
    [row] = outbox_rows(database_url)
    assert row["status"] == "pending" and row["attempts"] == 2 and row["in_flight_since"] is not None
    provider.lookups_fail = False
    make_due(database_url)
    assert await outbox.deliver_due() == 1
    assert provider.bodies() == ["hola"]


# --- the Twilio provider against the fake Twilio REST API --------------------------------------------------
async def test_twilio_provider_finds_what_it_sent_and_only_that(
    twilio: FakeTwilio, database_url: str
) -> None:
    settings = make_settings(database_url, "http://127.0.0.1:9", twilio.base_url)
    http = RedirectingHttpClient(twilio.base_url)
    try:
        twilio_api = TwilioProvider(settings, http)
        before = datetime.now(UTC) - timedelta(seconds=5)
        sid = await twilio_api.send(TO, "tu contrato está activo")
        assert sid.startswith("SM") and [m["Body"] for m in twilio.sent] == ["tu contrato está activo"]
        assert await twilio_api.find(TO, "tu contrato está activo", before, set()) == sid
        assert await twilio_api.find(TO, "tu contrato está activo", before, {sid}) is None
        assert await twilio_api.find(TO, "otro texto", before, set()) is None
        assert (
            await twilio_api.find("whatsapp:+5215599999999", "tu contrato está activo", before, set()) is None
        )
        later = datetime.now(UTC) + timedelta(minutes=5)
        assert await twilio_api.find(TO, "tu contrato está activo", later, set()) is None
    finally:
        await http.close()


async def test_twilio_provider_tells_a_refusal_from_an_outage(twilio: FakeTwilio, database_url: str) -> None:
    settings = make_settings(database_url, "http://127.0.0.1:9", twilio.base_url)
    http = RedirectingHttpClient(twilio.base_url)
    try:
        twilio_api = TwilioProvider(settings, http)
        with pytest.raises(Refused):
            await twilio_api.send(TO, "")  # Twilio's 400: no body
        twilio.fail()
        with pytest.raises(Exception) as outage:
            await twilio_api.send(TO, "hola")
        assert not isinstance(outage.value, Refused)
    finally:
        await http.close()


def queue_now(outbox: Outbox, database_url: str, bodies: list[str]) -> list[Queued]:
    """Queue texts as an answer's transaction does (the outbox's own lease)."""
    store = make_engine(database_url)
    with make_sessionmaker(store).begin() as session:
        queued = outbox.queue(session, WA, TO, bodies)
    store.dispose()
    return queued


async def test_an_answer_first_in_line_is_leased_as_it_is_queued_and_sent_without_a_claim(
    outbox: Outbox, provider: ScriptedProvider, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued = queue_now(outbox, database_url, ["Tu plan es Pro.", "¿Algo más?"])
    assert [q.claimed for q in queued] == [True, True]
    for row in outbox_rows(database_url):
        assert row["claimed_by"] == "test-replica" and row["in_flight_since"] is not None
    other = Outbox(make_sessionmaker(make_engine(database_url)), {WA: provider}, "other-replica")
    assert await other.deliver_due() == 0  # leased to the replica that queued them

    def no_claim(row_id: int) -> None:
        raise AssertionError("a text leased when it was queued is not claimed again")

    monkeypatch.setattr(outbox.rows, "claim", no_claim)
    assert await outbox.deliver(WA, TO, queued) == 2
    assert provider.bodies() == ["Tu plan es Pro.", "¿Algo más?"] and provider.lookups == 0
    assert [(r["status"], r["in_flight_since"]) for r in outbox_rows(database_url)] == [("sent", None)] * 2


async def test_a_text_behind_a_waiting_one_is_not_leased_and_the_order_is_kept(
    outbox: Outbox, provider: ScriptedProvider, database_url: str
) -> None:
    provider.script = ["refuse"]
    await outbox.send(WA, TO, ["primero"])
    queued = queue_now(outbox, database_url, ["segundo"])
    assert [(q.body, q.claimed) for q in queued] == [("primero", False), ("segundo", False)]
    assert await outbox.deliver(WA, TO, queued) == 0  # the first is not due yet: nothing overtakes it
    make_due(database_url)
    assert await outbox.deliver_due() == 2
    assert provider.bodies() == ["primero", "segundo"]


async def test_a_failure_midway_records_what_went_out_and_what_failed_together(
    outbox: Outbox, provider: ScriptedProvider, database_url: str
) -> None:
    provider.script = ["ok", "refuse"]
    assert await outbox.deliver(WA, TO, queue_now(outbox, database_url, ["uno", "dos", "tres"])) == 1
    one, two, three = outbox_rows(database_url)
    assert one["status"] == "sent" and one["provider_id"] == provider.accepted[0].sid
    assert two["status"] == "pending" and two["attempts"] == 1 and two["in_flight_since"] is None
    # Leased when queued but never tried: free at once, and not "maybe sent" (no lookup before sending).
    assert three["status"] == "pending" and three["attempts"] == 0
    assert three["claimed_until"] is None and three["in_flight_since"] is None
    make_due(database_url)  # the failed one's backoff is over (no lease to wait for)
    assert await outbox.deliver_due() == 2
    assert provider.bodies() == ["uno", "dos", "tres"] and provider.lookups == 0


async def test_a_replica_that_dies_after_queueing_leaves_texts_checked_before_they_are_sent(
    outbox: Outbox, provider: ScriptedProvider, database_url: str
) -> None:
    queue_now(outbox, database_url, ["hola"])  # queued and leased, then the replica died before sending
    other = Outbox(make_sessionmaker(make_engine(database_url)), {WA: provider}, "other-replica")
    make_due(database_url, claimed_until=None)  # its lease ran out
    assert await other.deliver_due() == 1
    assert provider.bodies() == ["hola"] and provider.lookups == 1  # asked first: it might have gone out


async def test_a_round_leaves_a_recipient_being_sent_to_alone_without_a_trip(
    outbox: Outbox, provider: ScriptedProvider, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue_now(outbox, database_url, ["en camino"])  # leased: being sent right now
    other = Outbox(make_sessionmaker(make_engine(database_url)), {WA: provider}, "other-replica")
    await other.send(WA, TO, ["detrás"])  # behind it: waits, whoever holds the first
    claims: list[int] = []

    def claim(row_id: int) -> tuple[bool, None]:
        claims.append(row_id)
        return False, None

    monkeypatch.setattr(outbox.rows, "claim", claim)
    monkeypatch.setattr(other.rows, "claim", claim)
    assert await outbox.deliver_due() == 0 and await other.deliver_due() == 0
    assert claims == [] and provider.bodies() == []  # no futile claim, nothing overtakes the first


async def test_texts_leased_when_queued_that_waited_past_their_lease_are_never_sent_twice(
    outbox: Outbox, provider: ScriptedProvider, database_url: str
) -> None:
    """The bug behind OUTBOX_CONCURRENCY held at 20: a text leased as it was queued waited for a delivery
    slot longer than its lease, another replica claimed and sent it, and then this one sent it too."""
    queued = queue_now(outbox, database_url, ["uno", "dos"])
    long_ago = datetime.now(UTC) - timedelta(seconds=60)
    waited = [q._replace(due=long_ago) for q in queued]  # as if they waited a minute for a slot
    store = make_engine(database_url)
    with make_sessionmaker(store).begin() as session:  # meanwhile the lease ran out and another took them
        session.execute(update(OutboundMessage).values(claimed_by="other-replica"))
    store.dispose()
    assert await outbox.deliver(WA, TO, waited) == 0
    assert provider.bodies() == []


async def test_texts_leased_when_queued_that_waited_long_renew_their_lease_and_go_out(
    outbox: Outbox, provider: ScriptedProvider, database_url: str
) -> None:
    queued = queue_now(outbox, database_url, ["uno", "dos"])
    waited = [q._replace(due=datetime.now(UTC) - timedelta(seconds=25)) for q in queued]  # still ours
    assert await outbox.deliver(WA, TO, waited) == 2
    assert provider.bodies() == ["uno", "dos"] and provider.lookups == 0
