"""End to end over WhatsApp: signed Twilio webhooks to the real gateway, answers read from the fake Twilio.

The gateway, the engine and the action server are the real ones (the `stack` fixture); only Twilio's
REST API is a fake (testkit/fake_twilio.py), which records what the gateway would have sent.
"""

from __future__ import annotations

import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import select

from bot.answers.notices import MEDIA_ONLY
from bot.answers.text import number
from bot.catalogue.loader import load_catalogue
from bot.gateway.render import WHATSAPP_LIMIT, for_text_channel
from bot.settings import PROJECT_ROOT
from bot.store.db import make_engine, make_sessionmaker
from bot.store.models import DeliveryStatus
from testkit.fake_twilio import FakeTwilio, SentMessage
from testkit.signing import twilio_signature
from tests.e2e.conftest import PUBLIC_URL, WHATSAPP_FROM, Ask, E2EStack

pytestmark = pytest.mark.e2e

WEBHOOK = "/webhooks/twilio/whatsapp"
STATUS = "/webhooks/twilio/status"
ANA = "whatsapp:+5215510000001"  # Ana Torres, Admin of account 1, verified number
REPLY_TIMEOUT = 20.0
# After the first part of a reply arrives, how long to wait for more parts before calling it complete.
SETTLE = 1.5


def new_number() -> str:
    """A WhatsApp address nobody else in the run uses (an anonymous sender)."""
    return f"whatsapp:+1555{secrets.randbelow(10**7):07d}"


def new_sid() -> str:
    return "SM" + uuid.uuid4().hex


def luhn_card(prefix: str = "4", length: int = 16) -> str:
    """A random Luhn-valid card number, unique to this run (so any leak of it is this test's)."""
    digits = [int(c) for c in prefix] + [secrets.randbelow(10) for _ in range(length - len(prefix) - 1)]
    total = 0
    for i, digit in enumerate(reversed(digits)):  # the check digit will be rightmost: double from here
        total += sum(divmod(digit * 2, 10)) if i % 2 == 0 else digit
    return "".join(map(str, digits)) + str((10 - total % 10) % 10)


@dataclass
class WhatsApp:
    """Twilio's side of the conversation: signed webhooks in, the fake's records out."""

    stack: E2EStack

    @property
    def twilio(self) -> FakeTwilio:
        return self.stack.twilio

    def params(self, sender: str, body: str, sid: str | None = None, **extra: str) -> dict[str, str]:
        """The form fields Twilio posts for an incoming WhatsApp message."""
        sid = sid or new_sid()
        fields = {
            "SmsMessageSid": sid,
            "NumMedia": "0",
            "ProfileName": "E2E",
            "MessageType": "text",
            "SmsSid": sid,
            "WaId": sender.removeprefix("whatsapp:+"),
            "SmsStatus": "received",
            "Body": body,
            "To": WHATSAPP_FROM,
            "NumSegments": "1",
            "ReferralNumMedia": "0",
            "MessageSid": sid,
            "AccountSid": self.stack.settings.twilio_account_sid or "",
            "From": sender,
            "ApiVersion": "2010-04-01",
        }
        return {**fields, **extra}

    def signature(
        self, path: str, params: dict[str, str], token: str | None = None, base: str = PUBLIC_URL
    ) -> str:
        """X-Twilio-Signature as Twilio computes it: over the public URL and the form fields."""
        secret = token or self.stack.settings.twilio_auth_token or ""
        return twilio_signature(secret, base + path, params)

    def post(self, path: str, params: dict[str, str], signature: str | None = None) -> tuple[int, str]:
        """POST the form to the real gateway; signed correctly unless `signature` is given ("" for none)."""
        signature = self.signature(path, params) if signature is None else signature
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        if signature:
            headers["X-Twilio-Signature"] = signature
        request = urllib.request.Request(
            self.stack.gateway_url + path, data=urllib.parse.urlencode(params).encode(), headers=headers
        )
        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as refused:
            return refused.code, refused.read().decode()

    def send(self, params: dict[str, str]) -> None:
        """Deliver an incoming message the way Twilio does; the gateway must acknowledge it at once."""
        started = time.monotonic()
        status, body = self.post(WEBHOOK, params)
        assert status == 200, body
        assert "<Response></Response>" in body  # empty TwiML: the answer goes out through the REST API
        assert time.monotonic() - started < 5, "the webhook must be acknowledged well within Twilio's 15 s"

    def ask(self, sender: str, body: str, parts: int = 1, **extra: str) -> list[SentMessage]:
        """Send a message and return the reply's messages (at least `parts`, then until none arrives)."""
        before = len(self.twilio.messages(sender))
        self.send(self.params(sender, body, **extra))
        found = self.twilio.wait_for(sender, before + parts, timeout=REPLY_TIMEOUT, settle=SETTLE)
        return found[before:]


@pytest.fixture
def whatsapp(stack: E2EStack) -> WhatsApp:
    return WhatsApp(stack)


def text(messages: list[SentMessage]) -> str:
    """The reply as the customer sees it: texts and the options offered to tap."""
    return "\n".join(m.shown() for m in messages)


def test_anonymous_question_is_answered_to_the_sender(whatsapp: WhatsApp) -> None:
    users = load_catalogue().feature("users").values["expert"].amount
    assert users is not None
    sender = new_number()
    replies = whatsapp.ask(sender, "cuantos usuarios trae el plan expert")
    assert f"{number(users)} usuarios" in text(replies)
    assert "30 usuarios" in text(replies)
    for message in replies:
        assert message.accepted
        assert message.to == sender
        assert message.from_ == WHATSAPP_FROM
        assert message.account_sid == whatsapp.stack.settings.twilio_account_sid
        assert message.status_callback == f"{PUBLIC_URL}{STATUS}"


def test_verified_admin_picks_a_contract_by_number(whatsapp: WhatsApp) -> None:
    listing = text(whatsapp.ask(ANA, "estado de mis contratos"))
    for contract in ("ZCC-100001", "ZCC-100002", "ZCC-100003"):
        assert contract in listing
    # Buttons become numbered options on a text-only channel.
    assert "1. ZCC-100001" in listing
    assert "2. ZCC-100002" in listing
    assert "3. ZCC-100003" in listing

    detail = text(whatsapp.ask(ANA, "2"))
    assert "ZCC-100002" in detail
    assert "Suspendido" in detail
    assert "ZCC-100001" not in detail


def test_a_tap_on_an_offered_option_picks_it(whatsapp: WhatsApp) -> None:
    offered = next(m for m in whatsapp.ask(ANA, "estado de mis contratos") if m.content)
    options = offered.content.get("actions") or offered.content.get("items") or []
    third = options[2]
    title = third.get("title") or third.get("item")
    tap = {"ButtonPayload": third["id"], "ButtonText": title} if "title" in third else {"ListId": third["id"]}
    detail = text(whatsapp.ask(ANA, title, MessageType="button", **tap))
    assert "ZCC-100003" in detail and "Cancelado" in detail and "ZCC-100001" not in detail


def test_forged_signatures_are_refused_and_not_answered(whatsapp: WhatsApp) -> None:
    sender = new_number()
    params = whatsapp.params(sender, "cuantos usuarios trae el plan expert")
    forged = {
        "wrong secret": whatsapp.signature(WEBHOOK, params, token=secrets.token_hex(16)),
        # Signed for the URL the request reached, not the configured public one.
        "wrong url": whatsapp.signature(WEBHOOK, params, base=whatsapp.stack.gateway_url),
        "other fields": whatsapp.signature(WEBHOOK, {**params, "Body": "hola"}),
        "garbage": "not-a-signature",
        "missing": "",
    }
    for case, signature in forged.items():
        status, _ = whatsapp.post(WEBHOOK, params, signature=signature)
        assert status == 403, case
    assert whatsapp.twilio.quiet(sender, 3.0) == []

    # A refused request does not use up its MessageSid: the genuine one is still answered.
    whatsapp.send(params)
    replies = whatsapp.twilio.wait_for(sender, 1, timeout=REPLY_TIMEOUT, settle=SETTLE)
    assert "30 usuarios" in text(replies)


def test_a_replayed_message_sid_is_answered_once(whatsapp: WhatsApp) -> None:
    sender = new_number()
    params = whatsapp.params(sender, "cuantos usuarios trae el plan expert")
    whatsapp.send(params)
    whatsapp.send(params)  # Twilio retries before the first answer went out
    replies = whatsapp.twilio.wait_for(sender, 1, timeout=REPLY_TIMEOUT, settle=SETTLE)
    whatsapp.send(params)  # ...and after it
    assert whatsapp.twilio.quiet(sender, 3.0) == []
    assert whatsapp.twilio.messages(sender) == replies
    assert "30 usuarios" in text(replies)


def test_card_numbers_never_leave_the_gateway(whatsapp: WhatsApp, stack: E2EStack) -> None:
    card = luhn_card()
    typed = " ".join(card[i : i + 4] for i in range(0, 16, 4))
    sender = new_number()
    replies = whatsapp.ask(sender, f"mi tarjeta es {typed} vence 12/29 cvv 731, me cobran el plan?")
    assert "no compartas números de tarjeta" in replies[0].body
    assert "Planes y contratos" in text(replies)  # where to add a card safely
    # Nothing sent to anyone holds the number, however it is spaced.
    for message in stack.twilio.messages():
        flat = message.body.replace(" ", "").replace("-", "")
        assert card not in flat
        assert "cvv 731" not in message.body.lower()
    # Nor did it reach the gateway's store, the engine's tracker store or the logs.
    database = stack.settings.database_url.removeprefix("sqlite:///")
    places = [
        Path(database),
        Path(stack.settings.tracker_store_url.removeprefix("sqlite:///")),
        *(PROJECT_ROOT / "var/log/e2e").glob("*.log"),
    ]
    for place in places:
        if place.exists():
            content = place.read_bytes()
            assert card.encode() not in content, place
            assert typed.encode() not in content, place


def test_a_long_answer_arrives_in_parts_in_order(whatsapp: WhatsApp, ask: Ask) -> None:
    question = "diferencias entre starter y enterprise"
    expected = for_text_channel(ask(question)).texts
    assert sum(len(t) for t in expected) > WHATSAPP_LIMIT, "the question must have a long answer"
    sender = new_number()
    replies = whatsapp.ask(sender, question, parts=len(expected))
    assert [m.body for m in replies] == list(expected)
    assert len(replies) >= 2
    assert all(len(m.body) <= WHATSAPP_LIMIT and m.accepted for m in replies)
    assert replies[0].body.startswith("Diferencias entre Starter y Enterprise")
    assert [m.at for m in replies] == sorted(m.at for m in replies)


def test_media_without_text_gets_a_text_only_notice(whatsapp: WhatsApp) -> None:
    sender = new_number()
    replies = whatsapp.ask(
        sender,
        "",
        NumMedia="1",
        MessageType="image",
        MediaContentType0="image/jpeg",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC0/Messages/MM0/Media/ME0",
    )
    assert [m.body for m in replies] == [MEDIA_ONLY]


def test_delivery_status_callbacks_are_signed_and_recorded(whatsapp: WhatsApp, stack: E2EStack) -> None:
    sender = new_number()
    sent = whatsapp.ask(sender, "cuantos usuarios trae el plan expert")[0]
    callback = {
        "MessageSid": sent.sid,
        "SmsSid": sent.sid,
        "MessageStatus": "delivered",
        "SmsStatus": "delivered",
        "AccountSid": sent.account_sid,
        "From": sent.from_,
        "To": sent.to,
        "ApiVersion": "2010-04-01",
    }
    status, _ = whatsapp.post(STATUS, {**callback, "MessageStatus": "failed"}, signature="forged")
    assert status == 403
    status, _ = whatsapp.post(STATUS, callback)
    assert status == 204
    store = make_engine(stack.settings.database_url)
    try:
        with make_sessionmaker(store)() as session:
            row = session.scalars(select(DeliveryStatus).where(DeliveryStatus.message_sid == sent.sid)).one()
            assert row.status == "delivered"
    finally:
        store.dispose()
