"""The outbox never sends a text twice, even when it cannot know whether a send went through.

A real SQLite store and a scripted provider: each test makes sends succeed, fail, time out after the
provider accepted them, or the store fail right after a send, then checks what the provider holds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update

from bot.gateway.channels.whatsapp.provider import RedirectingHttpClient, TwilioProvider
from bot.gateway.contacts import Arrival
from bot.gateway.inbox import Inbox
from bot.gateway.outbound import AGENT, ANSWER, CONFIRM, NOTICE, Draft, OutboundText, Refused
from bot.gateway.outbox import Outbox, Queued
from bot.store.db import make_engine, make_sessionmaker
from bot.store.models import Contact, Handoff, HandoffMessage, OutboundMessage
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
    """A messaging API whose next sends behave as scripted: 'ok', 'refuse', 'window' (refused: the
    recipient's window closed), 'fail' (an error before it was accepted) or 'lost' (accepted, but the
    answer never came back). With a `window`, it has WhatsApp's rules; with `template`, a reopener."""

    script: list[str] = field(default_factory=list)
    accepted: list[Accepted] = field(default_factory=list)
    texts: list[OutboundText] = field(default_factory=list)
    lookups: int = 0
    lookups_fail: bool = False
    window: timedelta | None = None
    template: dict[str, Any] | None = None

    async def send(self, text: OutboundText) -> str:
        outcome = self.script.pop(0) if self.script else "ok"
        if outcome == "refuse":
            raise Refused("21211 invalid 'To' number", "21211")
        if outcome == "window":
            raise Refused("63016 outside the window", "63016", window_closed=True)
        if outcome == "fail":
            raise ConnectionResetError("connection reset before the request was read")
        sid = f"SM{len(self.accepted):032d}"
        self.accepted.append(Accepted(sid, text.to, text.body, datetime.now(UTC)))
        self.texts.append(text)
        if outcome == "lost":
            raise TimeoutError("no answer within the timeout")
        return sid

    async def find(self, text: OutboundText, since: datetime, exclude: set[str]) -> str | None:
        self.lookups += 1
        if self.lookups_fail:
            raise TimeoutError("the list request timed out too")
        for message in reversed(self.accepted):
            if (
                message.to == text.to
                and message.body == text.body
                and message.at >= since
                and message.sid not in exclude
            ):
                return message.sid
        return None

    def reopener(self) -> dict[str, Any] | None:
        return self.template

    def window_closed(self, code: str | None) -> bool:
        return code == "63016"

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


async def test_a_refused_send_fails_at_once_and_the_next_texts_still_go(
    outbox: Outbox, provider: ScriptedProvider, database_url: str
) -> None:
    """Twilio said no (a 4xx): retrying cannot help, and the person's later texts must not wait behind it."""
    provider.script = ["refuse"]
    await outbox.send(WA, TO, ["hola", "¿algo más?"])
    refused, later = outbox_rows(database_url)
    assert (refused["status"], refused["error_code"], refused["in_flight_since"]) == ("failed", "21211", None)
    assert "21211" in refused["last_error"]
    assert later["status"] == "sent" and provider.bodies() == ["¿algo más?"]
    make_due(database_url)
    assert await outbox.deliver_due() == 0  # never tried again
    assert provider.bodies() == ["¿algo más?"] and (await outbox.stats())["failed"] == 1


async def test_retries_are_capped_then_the_text_fails_and_stops_holding_up_the_queue(
    database_url: str, provider: ScriptedProvider
) -> None:
    outbox = Outbox(make_sessionmaker(make_engine(database_url)), {WA: provider}, "r", max_attempts=3)
    provider.script = ["fail", "fail", "fail"]
    await outbox.send(WA, TO, ["uno"])
    await outbox.send(WA, TO, ["dos"])  # waits behind "uno" while it is retried
    for _ in range(3):  # two more failures, then the round after the text gave up
        make_due(database_url)
        await outbox.deliver_due()
    first, second = outbox_rows(database_url)
    assert first["status"] == "failed" and first["attempts"] == 3
    assert second["status"] == "sent" and provider.bodies() == ["dos"]


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
        twilio_api = TwilioProvider(settings, http, make_sessionmaker(make_engine(database_url)))
        before = datetime.now(UTC) - timedelta(seconds=5)
        sid = await twilio_api.send(OutboundText(TO, "tu contrato está activo"))
        assert sid.startswith("SM") and [m["Body"] for m in twilio.sent] == ["tu contrato está activo"]
        assert await twilio_api.find(OutboundText(TO, "tu contrato está activo"), before, set()) == sid
        assert await twilio_api.find(OutboundText(TO, "tu contrato está activo"), before, {sid}) is None
        assert await twilio_api.find(OutboundText(TO, "otro texto"), before, set()) is None
        assert (
            await twilio_api.find(
                OutboundText("whatsapp:+5215599999999", "tu contrato está activo"), before, set()
            )
            is None
        )
        later = datetime.now(UTC) + timedelta(minutes=5)
        assert await twilio_api.find(OutboundText(TO, "tu contrato está activo"), later, set()) is None
    finally:
        await http.close()


async def test_twilio_provider_tells_a_refusal_from_an_outage(twilio: FakeTwilio, database_url: str) -> None:
    settings = make_settings(database_url, "http://127.0.0.1:9", twilio.base_url)
    http = RedirectingHttpClient(twilio.base_url)
    try:
        twilio_api = TwilioProvider(settings, http, make_sessionmaker(make_engine(database_url)))
        with pytest.raises(Refused):
            await twilio_api.send(OutboundText(TO, ""))  # Twilio's 400: no body
        twilio.fail()
        with pytest.raises(Exception) as outage:
            await twilio_api.send(OutboundText(TO, "hola"))
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
    provider.script = ["fail"]
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
    provider.script = ["ok", "fail"]
    assert await outbox.deliver(WA, TO, queue_now(outbox, database_url, ["uno", "dos", "tres"])) == 1
    one, two, three = outbox_rows(database_url)
    assert one["status"] == "sent" and one["provider_id"] == provider.accepted[0].sid
    assert two["status"] == "pending" and two["attempts"] == 1 and two["in_flight_since"] is not None
    # Leased when queued but never tried: free at once, and not "maybe sent" (no lookup before sending).
    assert three["status"] == "pending" and three["attempts"] == 0
    assert three["claimed_until"] is None and three["in_flight_since"] is None
    make_due(database_url)  # the failed one's backoff is over (no lease to wait for)
    assert await outbox.deliver_due() == 2
    # "dos" may have reached the provider before the error: it is looked up first, then sent.
    assert provider.bodies() == ["uno", "dos", "tres"] and provider.lookups == 1


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
    waited = [replace(q, due=long_ago) for q in queued]  # as if they waited a minute for a slot
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
    waited = [replace(q, due=datetime.now(UTC) - timedelta(seconds=25)) for q in queued]  # still ours
    assert await outbox.deliver(WA, TO, waited) == 2
    assert provider.bodies() == ["uno", "dos"] and provider.lookups == 0


# --- the channel's rules: suppression, the service window, delivery statuses ------------------------------
TEMPLATE = {"sid": "HX" + "0" * 32, "variables": {"1": "Zenvia"}}


def set_contact(database_url: str, **values: Any) -> None:
    """The recipient's contact as intake would have left it (when they last wrote, opted out…)."""
    store = make_engine(database_url)
    with make_sessionmaker(store).begin() as session:
        session.merge(Contact(channel=WA, address=TO, **values))
    store.dispose()


@pytest.fixture
def whatsapp_rules(provider: ScriptedProvider) -> ScriptedProvider:
    provider.window = timedelta(hours=24)
    provider.template = TEMPLATE
    return provider


async def test_a_recipient_who_opted_out_gets_only_the_confirmation(
    outbox: Outbox, provider: ScriptedProvider, database_url: str
) -> None:
    set_contact(database_url, last_inbound_at=datetime.now(UTC), opted_out_at=datetime.now(UTC))
    await outbox.send(
        WA, TO, [Draft("Estás en la posición 2", NOTICE), Draft("Listo, no te escribiremos", CONFIRM)]
    )
    await outbox.send(WA, TO, [Draft("Hola, soy Carla", AGENT)])
    assert provider.bodies() == ["Listo, no te escribiremos"]
    assert [r["status"] for r in outbox_rows(database_url)] == ["suppressed", "sent", "suppressed"]


async def test_past_the_window_answers_wait_for_the_customer_after_one_template_and_notices_are_dropped(
    outbox: Outbox, whatsapp_rules: ScriptedProvider, database_url: str
) -> None:
    set_contact(database_url, last_inbound_at=datetime.now(UTC) - timedelta(hours=25))
    await outbox.send(WA, TO, [Draft("Ya revisé tu factura", AGENT), Draft("Posición 1", NOTICE)])
    await outbox.send(WA, TO, [Draft("¿Sigues ahí?", AGENT)])
    rows_ = outbox_rows(database_url)
    assert [(r["purpose"], r["status"]) for r in rows_] == [
        ("agent", "held"),
        ("notice", "failed"),
        ("reopen", "sent"),
        ("agent", "held"),
    ]
    # One template per closed window, whatever waits behind it.
    [template] = whatsapp_rules.texts
    assert template.purpose == "reopen" and template.content == TEMPLATE


async def test_a_window_refusal_from_the_provider_holds_the_text_like_a_closed_window(
    outbox: Outbox, whatsapp_rules: ScriptedProvider, database_url: str
) -> None:
    set_contact(database_url, last_inbound_at=datetime.now(UTC) - timedelta(hours=1))  # we think it is open
    whatsapp_rules.script = ["window"]
    await outbox.send(WA, TO, [Draft("Tu respuesta", AGENT)])
    held, reopen = outbox_rows(database_url)
    assert (held["status"], held["error_code"]) == ("held", "63016")
    assert reopen["purpose"] == "reopen" and reopen["status"] == "sent"


async def test_a_late_window_failure_holds_the_text_and_a_status_never_moves_back(
    outbox: Outbox, whatsapp_rules: ScriptedProvider, database_url: str
) -> None:
    set_contact(database_url, last_inbound_at=datetime.now(UTC) - timedelta(hours=2))
    await outbox.send(WA, TO, [Draft("Primera", AGENT), Draft("Segunda", ANSWER)])
    first, second = whatsapp_rules.accepted
    await outbox.reported(second.sid, "read", None)
    assert await outbox.reported(second.sid, "delivered", None) is None  # late: "read" stays
    event = await outbox.reported(first.sid, "undelivered", "63016")
    assert event is not None and event["status"] == "held" and event["error_code"] == "63016"
    one, two, three = outbox_rows(database_url)
    assert (one["status"], one["delivery"], one["provider_id"]) == ("held", "undelivered", None)
    assert (two["status"], two["delivery"]) == ("sent", "read")
    assert three["purpose"] == "reopen"


async def test_each_status_tells_the_console_which_hand_off_and_text_it_is_about(
    outbox: Outbox, provider: ScriptedProvider, database_url: str
) -> None:
    sessions = make_sessionmaker(make_engine(database_url))
    moment = datetime.now(UTC)
    with sessions.begin() as session:
        older = Handoff(sender_id="wa:x", channel=WA, reply_to=TO, reason="requested", created_at=moment)
        handoff = Handoff(sender_id="wa:x", channel=WA, reply_to=TO, reason="requested", created_at=moment)
        session.add_all([older, handoff])
        session.flush()
        line = HandoffMessage(handoff_id=older.id, role="agent", text="Hola", created_at=moment)
        session.add(line)
        session.flush()
        ids = (older.id, handoff.id, line.id)
    older_id, handoff_id, line_id = ids
    await outbox.send(WA, TO, [Draft("Hola", AGENT, handoff_message_id=line_id), Draft("Respuesta")])
    await outbox.send(WA, "whatsapp:+5215519999999", ["Sin hand-off"])
    agent, answer, stranger = provider.accepted
    agent_row, answer_row, stranger_row = outbox_rows(database_url)

    event = await outbox.reported(agent.sid, "delivered", None)
    assert event == {
        "handoff_id": older_id,  # the agent's line names its hand-off
        "outbound_id": agent_row["id"],
        "handoff_message_id": line_id,
        "purpose": AGENT,
        "status": "sent",
        "delivery": "delivered",
        "error_code": None,
    }
    event = await outbox.reported(answer.sid, "read", None)
    assert event is not None and event["handoff_id"] == handoff_id  # the recipient's latest hand-off
    assert (event["outbound_id"], event["handoff_message_id"]) == (answer_row["id"], None)
    event = await outbox.reported(stranger.sid, "failed", "63024")
    assert event is not None and event["handoff_id"] is None and event["outbound_id"] == stranger_row["id"]
    assert (event["status"], event["error_code"]) == ("failed", "63024")


async def test_a_status_reported_before_the_send_was_recorded_is_not_lost(
    outbox: Outbox, provider: ScriptedProvider, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = provider.send

    async def callback_first(text: OutboundText) -> str:
        sid = await original(text)
        await outbox.reported(sid, "delivered", None)  # Twilio's callback won the race
        return sid

    monkeypatch.setattr(provider, "send", callback_first)
    await outbox.send(WA, TO, ["hola"])
    [row] = outbox_rows(database_url)
    assert (row["status"], row["delivery"]) == ("sent", "delivered")


async def test_a_customer_writing_again_releases_what_waited_before_their_answer(
    database_url: str, whatsapp_rules: ScriptedProvider
) -> None:
    sessions = make_sessionmaker(make_engine(database_url))
    outbox = Outbox(sessions, {WA: whatsapp_rules}, "r")
    set_contact(database_url, last_inbound_at=datetime.now(UTC) - timedelta(hours=30))
    await outbox.send(WA, TO, [Draft("Ya revisé tu factura", AGENT)])
    inbox = Inbox(sessions, outbox.queue, outbox.wake)
    await inbox.record(WA, "SM" + "1" * 32, "wa:+5215510000001", TO, "hola", {}, None, Arrival(WA, TO, "SM1"))
    assert await outbox.deliver_due() == 1
    assert whatsapp_rules.bodies() == [
        "[Plantilla] Invitación a retomar la conversación",
        "Ya revisé tu factura",
    ]
    assert [r["status"] for r in outbox_rows(database_url)] == ["sent", "sent"]
