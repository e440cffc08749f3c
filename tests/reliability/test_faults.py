"""Faults under light load: what the users see while a part is down, and that nothing is lost after.

Each test runs background traffic (signed WhatsApp webhooks and webchat messages, a few per second from
many senders), breaks one part, repairs it, then audits message by message: every message received is
answered once, and every answer reaches its user once and in order (testkit.audit).
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from testkit.audit import Audit, audit, backoff_gaps, reply_text
from testkit.load import CLIENT_TIMEOUT, WEBCHAT, WHATSAPP, Load, Sent
from testkit.stack import TcpProxy, Topology
from tests.reliability.conftest import MakeLoad

pytestmark = pytest.mark.e2e


def _recovered(stack: Topology, traffic: Load, timeout: float = 60.0) -> Audit:
    """Re-post what the gateway refused (Twilio's and the page's retry), wait until settled, audit."""
    traffic.stop()
    senders, recipients = traffic.senders(), traffic.recipients()
    stack.wait_settled(senders, recipients, timeout)
    traffic.retry_refused()
    left = stack.wait_settled(senders, recipients, timeout)
    result = audit(stack, traffic.records)
    assert left == (0, 0), f"still pending (inbound, outbound) after {timeout:.0f} s: {left}"
    assert result.clean, result.problems[:20]
    for name, channel in result.channels.items():
        assert channel.sent > 0, f"no {name} traffic"
        assert channel.sent == channel.received == channel.answered == channel.delivered, (name, channel)
        assert channel.lost == channel.duplicated == channel.silent == channel.wrong == 0, (name, channel)
    return result


def _explain(stack: Topology, traffic: Load, odd: set[str], since: float) -> list[Any]:
    """What some WhatsApp users sent and got, relative to `since` (for a failure message)."""
    rows = {r.external_id: r for r in stack.rows({r.sender for r in traffic.records if r.address in odd})}
    return [
        (
            r.address[-4:],
            round(r.started - since, 2),
            r.text,
            r.statuses,
            rows[r.external_id].attempts if r.external_id in rows else None,
            [(round(m.at - since, 2), m.body[:30]) for m in stack.twilio.messages(r.address)],
        )
        for r in traffic.records
        if r.address in odd
    ]


def _odd(web: list[Sent]) -> list[tuple[str, list[int | None], list[str], bool]]:
    """Webchat messages neither answered at once nor refused as 'engine unavailable, queued'."""
    return [
        (r.text, r.statuses, r.errors, r.queued)
        for r in web
        if r.statuses[0] != 200
        and not (r.statuses[0] == 503 and r.errors[:1] == ["engine_unavailable"] and r.queued)
    ]


def _statuses(sent: list[Sent]) -> set[int | None]:
    return {status for record in sent for status in record.statuses}


def _check_outage(stack: Topology, traffic: Load, result: Audit, start: float, end: float) -> None:
    """What the users saw while a part was down, against what the gateway recorded: a message that could
    not be answered at once was kept (its row counts a failed attempt); its WhatsApp user got one apology
    however many messages they sent meanwhile, its webchat user a 503 saying it is queued."""
    rows = {r.external_id: r for r in stack.rows(traffic.senders())}
    failed = {r.sender_id for r in rows.values() if r.attempts > 0}
    whatsapp = [r for r in traffic.records if r.channel == WHATSAPP]
    web = [r for r in traffic.records if r.channel == WEBCHAT]
    # Twilio's webhooks are acknowledged throughout; no 500 anywhere.
    assert all(r.statuses[0] == 200 for r in whatsapp), [(r.statuses, r.errors) for r in whatsapp]
    assert _statuses(traffic.records) <= {200, 503}, _statuses(traffic.records)
    expected = {r.address: int(r.sender in failed) for r in whatsapp}
    odd = {a for a, n in expected.items() if result.apologies_by_sender.get(a, 0) != n}
    assert not odd, _explain(stack, traffic, odd, start)
    assert not _odd(web), _odd(web)
    assert all(r.statuses[0] == 503 for r in web if rows[r.external_id].attempts > 0)
    # The outage was felt: in its first seconds messages were kept for later on both channels.
    early = traffic.between(start, end)
    assert any(r.channel == WEBCHAT and r.statuses[0] == 503 for r in early), "no webchat 503 in the outage"
    outage_users = {r.address for r in early if r.channel == WHATSAPP and r.sender in failed}
    assert outage_users, "no WhatsApp message kept for later during the outage"
    assert all(result.apologies_by_sender[a] == 1 for a in outage_users)


def test_engine_killed_and_restarted(healthy: Topology, load: MakeLoad) -> None:
    traffic = load(4.0, conversations=15)
    traffic.start()
    time.sleep(3)
    killed = time.monotonic()
    healthy.kill("engine")
    time.sleep(4)
    healthy.restart("engine")  # loading the model takes a while: the outage lasts 20-40 s
    time.sleep(3)

    result = _recovered(healthy, traffic)
    _check_outage(healthy, traffic, result, killed + 0.5, killed + 6.0)
    # Some users wrote several times during the outage, and still got a single apology.
    written = [r for r in traffic.between(killed + 0.5, killed + 20) if r.channel == WHATSAPP]
    assert len(written) > len({r.address for r in written})


def test_action_server_killed_and_restarted(healthy: Topology, load: MakeLoad) -> None:
    traffic = load(4.0, conversations=15)
    traffic.start()
    time.sleep(3)
    killed = time.monotonic()
    healthy.kill("action server")
    time.sleep(6)
    # A greeting needs no custom action: the assistant still answers it while the action server is down.
    greeting = traffic.ask(traffic.conversation(WEBCHAT), "hola")
    healthy.restart("action server")
    time.sleep(3)

    assert greeting.statuses == [200] and "Hola" in reply_text(greeting.replies), greeting
    # Questions about plans need the action server: Rasa answers them with nothing, which the gateway
    # takes as "unavailable" (no empty answer, no 500): kept, apologised for, answered after the restart.
    result = _recovered(healthy, traffic)
    _check_outage(healthy, traffic, result, killed + 0.5, killed + 5.5)


def test_twilio_answering_500_keeps_replies_in_the_outbox(healthy: Topology, load: MakeLoad) -> None:
    traffic = load(4.0, conversations=15, whatsapp_share=0.7)
    traffic.start()
    time.sleep(2)
    failing = time.monotonic()
    healthy.twilio.fail()
    time.sleep(8)
    healthy.twilio.recover()
    time.sleep(2)

    result = _recovered(healthy, traffic)
    recipients = traffic.recipients()
    refused = [r for r in healthy.twilio.refused() if r.to in recipients]
    assert refused, "no reply was attempted during the Twilio outage"
    # Retried with backoff: the same text to the same user, 1 s, 2 s, 4 s … apart (plus the loop's tick).
    for gaps in backoff_gaps(refused).values():
        for failures, gap in enumerate(gaps, start=1):
            assert gap >= 2 ** (failures - 1) - 0.2, gaps
    # Every refused text was delivered afterwards, once (the audit checked "once" and the order).
    for attempt in refused:
        delivered = [m for m in healthy.twilio.messages(attempt.to) if m.body == attempt.body]
        assert delivered and delivered[0].at > failing, attempt
    assert result.channels[WEBCHAT].lost == 0
    retried = [r for r in healthy.outbox(recipients) if r.attempts > 0]
    assert retried and all(r.status == "sent" for r in retried)


def test_twilio_timing_out_keeps_replies_in_the_outbox(healthy: Topology, load: MakeLoad) -> None:
    traffic = load(4.0, conversations=15, whatsapp_share=0.7)
    traffic.start()
    time.sleep(2)
    # Requests in this window hang for 40 s: the gateway must give up on them by itself and retry.
    healthy.twilio.hang(40.0)
    time.sleep(3)
    healthy.twilio.recover()
    time.sleep(2)

    result = _recovered(healthy, traffic, timeout=45)
    recipients = traffic.recipients()
    hung = [r for r in healthy.twilio.refused() if r.to in recipients]
    assert hung, "no reply was attempted while Twilio hung"
    for attempt in hung:
        delivered = [m for m in healthy.twilio.messages(attempt.to) if m.body == attempt.body]
        assert delivered, attempt
        # Delivered well before the hung request itself ended: the client timed out and retried.
        assert delivered[0].at - attempt.at < 25.0, (attempt, delivered[0].at - attempt.at)
    assert result.channels[WHATSAPP].duplicated == 0


def test_twilio_accepting_but_never_answering_sends_each_reply_once(
    healthy: Topology, load: MakeLoad
) -> None:
    traffic = load(4.0, conversations=15, whatsapp_share=0.7)
    traffic.start()
    time.sleep(2)
    # Twilio takes every message in this window but its answers never arrive: the gateway times out
    # without knowing the text went out, and must not send it a second time.
    lists_before = healthy.twilio.lists
    healthy.twilio.lose_answers(40.0)
    losing = time.monotonic()
    time.sleep(3)
    healthy.twilio.recover()
    time.sleep(2)

    result = _recovered(healthy, traffic, timeout=60)
    recipients = traffic.recipients()
    uncertain = [m for m in healthy.twilio.messages() if m.to in recipients and losing <= m.at < losing + 3]
    assert uncertain, "no reply was sent while Twilio's answers were lost"
    assert healthy.twilio.lists > lists_before  # each uncertain send was looked up before any resend
    assert result.channels[WHATSAPP].duplicated == 0
    for row in healthy.outbox(recipients):
        assert row.status == "sent"
    # Each text Twilio accepted in that window is recorded as sent with Twilio's own id for it.
    sids = {r.provider_id for r in healthy.outbox(recipients)}
    assert {m.sid for m in uncertain} <= sids


def test_restarting_every_process_keeps_each_conversation(healthy: Topology, load: MakeLoad) -> None:
    traffic = load(3.0, conversations=15)
    traffic.start()
    phone, page = traffic.conversation(WHATSAPP), traffic.conversation(WEBCHAT)
    question = "¿cuántos usuarios tiene el Specialist?"
    first = traffic.ask(phone, question, "Specialist")
    assert first.statuses == [200]
    assert "10 usuarios" in healthy.twilio.wait_for(phone.address, count=1, timeout=30)[0].body
    answer = traffic.ask(page, question, "Specialist")
    assert "10 usuarios" in reply_text(answer.replies), answer
    time.sleep(2)

    stopping = time.monotonic()
    healthy.stop()
    healthy.start()
    time.sleep(2)

    follow_up = traffic.ask(phone, "¿y el Expert?", "Expert")
    assert follow_up.statuses == [200]
    texts = [m.body for m in healthy.twilio.wait_for(phone.address, count=2, timeout=30)]
    assert "30 usuarios" in texts[1] and "Expert" in texts[1], texts
    answer = traffic.ask(page, "¿y el Expert?", "Expert")
    assert "30 usuarios" in reply_text(answer.replies) and "Expert" in reply_text(answer.replies), answer
    # While the stack was down the posts found nobody listening (or no engine); Twilio and the page retry.
    traffic.stop()  # every post has its first status once the posts in flight are done
    refused = [r for r in traffic.records if r.statuses[0] != 200]
    assert refused, "no message reached the stack while it was down"
    assert all(r.started > stopping - 1 for r in refused), [(r.statuses, r.errors) for r in refused]
    _recovered(healthy, traffic)
    assert all(r.accepted for r in refused)


def test_database_unreachable_for_ten_seconds(pg_topology: tuple[Topology, TcpProxy, MakeLoad]) -> None:
    stack, proxy, make = pg_topology
    traffic = make(4.0, conversations=15)
    traffic.start()
    time.sleep(3)
    cut = time.monotonic()
    proxy.cut()
    time.sleep(10)
    proxy.restore()
    restored = time.monotonic()
    time.sleep(3)
    traffic.stop()

    during = traffic.between(cut + 0.5, restored - 0.5)
    assert {r.channel for r in during} == {WEBCHAT, WHATSAPP}, "no traffic during the cut"
    # Refused quickly and clearly: 503 (never a 500 or a hang past the client's timeout), no details.
    first = {r.statuses[0] for r in during}
    assert first <= {503}, [(r.channel, r.statuses, r.errors) for r in during]
    assert all(r.errors[0] == "store_unavailable" for r in during), [r.errors for r in during]
    # Never a hang: every post got its answer, and during the cut at once (Twilio waits 15 s at most).
    assert all(r.status is not None for r in traffic.records), "a request hung past the client's timeout"
    slowest = max(r.durations[0] for r in during)
    assert slowest < CLIENT_TIMEOUT / 3, slowest

    _recovered(stack, traffic)
    # Twilio's retries (same MessageSid) after the cut were answered once: the audit checked "once".
    retried = [r for r in during if r.channel == WHATSAPP]
    assert retried and all(r.statuses[-1] == 200 for r in retried)
