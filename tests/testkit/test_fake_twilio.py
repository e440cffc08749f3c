"""The fake Twilio (testkit/fake_twilio.py and its modules) behaves as Twilio does where WhatsApp operators
meet it, driven through the real twilio SDK's async client wherever the gateway would use it: the window,
the Content API, media, status callbacks and customers' messages."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp.plugin import AiohttpServer
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList

from testkit.fake_content import LIST_PICKER, QUICK_REPLY, TEXT
from testkit.fake_twilio import FakeTwilio

ACCOUNT = "AC" + "1" * 32
TOKEN = "fake-auth-token"
SENDER = "whatsapp:+14155238886"
ANA = "whatsapp:+5215510000001"
LUIS = "whatsapp:+5215510000002"
PUBLIC = "https://bot.example.com"
CALLBACK = f"{PUBLIC}/webhooks/twilio/status"
REOPEN = "HX" + "a" * 32
MEDIA_URL = re.compile(
    r"^https://api\.twilio\.com/2010-04-01/Accounts/(AC\w{32})/Messages/(MM\w{32})/Media/(ME\w{32})$"
)


class Redirecting(AsyncTwilioHttpClient):  # type: ignore[misc]
    """The SDK's async HTTP client with every URL (api.twilio.com, content.twilio.com) sent to the fake, path
    kept, as the gateway's RedirectingHttpClient does. `json_bodies`: send a JSON body as JSON, which the
    SDK's async client does not do (twilio/twilio-python#932; its sync client does)."""

    def __init__(self, base_url: str, json_bodies: bool = False) -> None:
        super().__init__(timeout=10)
        self.base_url = base_url.rstrip("/")
        self.json_bodies = json_bodies

    async def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        url = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        headers = kwargs.get("headers") or {}
        if self.json_bodies and headers.get("Content-Type") == "application/json":
            kwargs["data"] = json.dumps(kwargs.get("data"))
        return await super().request(method, url, *args, **kwargs)


class SyncRedirecting(TwilioHttpClient):  # type: ignore[misc]
    """The SDK's blocking HTTP client, every URL sent to the fake."""

    def __init__(self, base_url: str) -> None:
        super().__init__(timeout=10)
        self.base_url = base_url.rstrip("/")

    def request(self, method: str, url: str, *args: Any, **kwargs: Any) -> Response:
        parts = urlsplit(url)
        url = self.base_url + parts.path + (f"?{parts.query}" if parts.query else "")
        return super().request(method, url, *args, **kwargs)


@dataclass
class Received:
    """One request the stand-in gateway got: where, its form, whether its signature held for PUBLIC."""

    path_qs: str
    form: dict[str, str]
    signed: bool


@dataclass
class Gateway:
    """A stand-in for the gateway's two Twilio routes: it checks signatures as the gateway does (for the
    public URL plus the request's path and query) and records what arrived."""

    received: list[Received] = field(default_factory=list)
    answer: int = 204
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        form = {key: str(value) for key, value in (await request.post()).items()}
        signature = request.headers.get("X-Twilio-Signature", "")
        signed = RequestValidator(TOKEN).validate(PUBLIC + request.path_qs, form, signature)
        self.received.append(Received(request.path_qs, form, bool(signed)))
        return web.Response(status=self.answer if signed else 403)

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/webhooks/twilio/status", self.handle)
        app.router.add_post("/webhooks/twilio/whatsapp", self.handle)
        return app


@pytest.fixture
async def fake(aiohttp_server: AiohttpServer) -> FakeTwilio:
    twilio = FakeTwilio(ACCOUNT, TOKEN)
    server: TestServer = await aiohttp_server(twilio.app())
    assert server.port is not None
    twilio.host, twilio.port = server.host, server.port
    return twilio


@pytest.fixture
async def gateway(aiohttp_server: AiohttpServer, fake: FakeTwilio) -> Gateway:
    stand_in = Gateway()
    server: TestServer = await aiohttp_server(stand_in.app())
    stand_in.url = str(server.make_url("")).rstrip("/")
    fake.deliver_callbacks(stand_in.url)
    fake.webhooks_to(stand_in.url, PUBLIC)
    return stand_in


@pytest.fixture
async def client(fake: FakeTwilio) -> AsyncIterator[Client]:
    http = Redirecting(fake.base_url, json_bodies=True)
    yield Client(ACCOUNT, TOKEN, http_client=http)
    await http.close()


@pytest.fixture
async def stock_client(fake: FakeTwilio) -> AsyncIterator[Client]:
    http = Redirecting(fake.base_url)
    yield Client(ACCOUNT, TOKEN, http_client=http)
    await http.close()


def quick_reply(actions: int = 3, title: str = "Sí") -> dict[str, Any]:
    buttons = [{"title": f"{title}{n}" if n else title, "id": f"choice_{n}"} for n in range(actions)]
    return {
        QUICK_REPLY: {"body": "Hola {{1}}, ¿cuál prefieres?", "actions": buttons},
        TEXT: {"body": "{{1}}"},
    }


def list_picker(**item: str) -> dict[str, Any]:
    entry = {"item": "Plan Pro", "id": "plan_pro", "description": "Todo incluido"} | item
    return {LIST_PICKER: {"body": "Elige un plan, {{1}}", "button": "Ver planes", "items": [entry]}}


# --- what a test that only sends text always saw -----------------------------------------------------------
async def test_a_text_is_recorded_and_listed_as_before_with_no_status_posted(
    fake: FakeTwilio, client: Client, gateway: Gateway
) -> None:
    message = await client.messages.create_async(to=ANA, from_=SENDER, body="hola", status_callback=CALLBACK)
    assert message.status == "queued" and message.sid.startswith("SM") and message.body == "hola"
    assert (
        fake.bodies == ["hola"] and fake.sent[0]["Body"] == "hola" and fake.sent[0]["AccountSid"] == ACCOUNT
    )
    listed = await client.messages.list_async(to=ANA, from_=SENDER)
    assert [m.sid for m in listed] == [message.sid]
    await fake.settle()
    assert fake.callbacks() == [] and gateway.received == []  # no statuses unless a test asks for them
    assert [(w.method, w.status) for w in fake.wire()] == [("POST", 201), ("GET", 200)]


# --- 1. the clock and the 24-hour window ------------------------------------------------------------------
async def test_the_clock_moves_on_when_told(fake: FakeTwilio) -> None:
    start = fake.now()
    later = fake.advance(hours=2, minutes=30)
    assert 2.5 * 3600 <= (later - start).total_seconds() < 2.5 * 3600 + 5


async def test_free_text_past_the_window_is_accepted_then_fails_with_63016(
    fake: FakeTwilio, client: Client, gateway: Gateway
) -> None:
    fake.customer_wrote(ANA)
    fake.advance(hours=24, seconds=1)
    assert not fake.in_window(ANA)
    callback = CALLBACK + "?replica=2"
    message = await client.messages.create_async(
        to=ANA, from_=SENDER, body="¿sigues ahí?", status_callback=callback
    )
    assert message.status == "queued" and message.error_code is None  # Twilio accepts it first
    await fake.settle()
    [post] = fake.callbacks(message.sid)
    assert post.form["MessageStatus"] == post.form["SmsStatus"] == "undelivered"
    assert post.form["ErrorCode"] == "63016" and post.url == callback and post.status == 204
    [arrived] = gateway.received
    assert arrived.signed and arrived.path_qs == "/webhooks/twilio/status?replica=2"
    assert arrived.form["MessageSid"] == message.sid and arrived.form["To"] == ANA
    fetched = await client.messages(message.sid).fetch_async()
    assert fetched.status == "undelivered" and fetched.error_code == 63016
    assert "outside the allowed window" in (fetched.error_message or "")


async def test_inside_the_window_free_text_goes(fake: FakeTwilio, client: Client, gateway: Gateway) -> None:
    fake.customer_wrote(ANA)
    fake.advance(hours=23, minutes=59)
    fake.statuses = ["sent", "delivered"]
    message = await client.messages.create_async(
        to=ANA, from_=SENDER, body="aquí estoy", status_callback=CALLBACK
    )
    await fake.settle()
    assert [p.form["MessageStatus"] for p in fake.callbacks(message.sid)] == ["sent", "delivered"]
    assert all("ErrorCode" not in p.form for p in fake.callbacks())


async def test_a_customer_never_heard_from_is_inside_the_window_unless_enforced(
    fake: FakeTwilio, client: Client, gateway: Gateway
) -> None:
    first = await client.messages.create_async(to=ANA, from_=SENDER, body="uno", status_callback=CALLBACK)
    fake.enforce_window = True
    second = await client.messages.create_async(to=LUIS, from_=SENDER, body="dos", status_callback=CALLBACK)
    await fake.settle()
    assert fake.callbacks(first.sid) == []
    assert [p.form["ErrorCode"] for p in fake.callbacks(second.sid)] == ["63016"]


async def test_only_an_approved_template_reopens_a_closed_window(
    fake: FakeTwilio, client: Client, gateway: Gateway
) -> None:
    fake.enforce_window = True
    fake.templates[REOPEN] = "Hola {{1}}, ¿retomamos tu consulta?"
    unapproved = fake.add_content(quick_reply())
    picker = fake.add_content(list_picker())
    with pytest.raises(ValueError, match="list-picker"):
        fake.approve(picker)
    sids = []
    for content_sid in (REOPEN, unapproved, picker):
        sent = await client.messages.create_async(
            to=ANA,
            from_=SENDER,
            content_sid=content_sid,
            content_variables='{"1": "Ana"}',
            status_callback=CALLBACK,
        )
        sids.append(sent.sid)
    await fake.settle()
    assert [[p.form.get("ErrorCode") for p in fake.callbacks(sid)] for sid in sids] == [
        [],
        ["63016"],
        ["63016"],
    ]
    assert fake.bodies[0] == "Hola Ana, ¿retomamos tu consulta?"
    fake.approve(unapproved)
    again = await client.messages.create_async(
        to=ANA, from_=SENDER, content_sid=unapproved, status_callback=CALLBACK
    )
    await fake.settle()
    assert fake.callbacks(again.sid) == []


# --- 2. the Content API --------------------------------------------------------------------------------
async def test_content_is_created_fetched_listed_and_deleted_through_the_sdk(client: Client) -> None:
    request = ContentList.ContentCreateRequest(
        {"friendly_name": "elige", "language": "es", "variables": {"1": "cliente"}, "types": quick_reply()}
    )
    created = await client.content.v1.contents.create_async(request)
    assert re.fullmatch(r"HX[0-9a-f]{32}", created.sid or "")
    assert created.types is not None and created.types[QUICK_REPLY]["actions"][0] == {
        "title": "Sí",
        "id": "choice_0",
    }
    assert created.date_created is not None and created.account_sid == ACCOUNT
    fetched = await client.content.v1.contents(created.sid).fetch_async()
    assert fetched.friendly_name == "elige" and fetched.variables == {"1": "cliente"}
    assert [c.sid for c in await client.content.v1.contents.list_async()] == [created.sid]
    approval = await client.content.v1.contents(created.sid).approval_fetch().fetch_async()
    assert approval.whatsapp is not None and approval.whatsapp["status"] == "unsubmitted"
    assert await client.content.v1.contents(created.sid).delete_async()
    with pytest.raises(TwilioRestException) as missing:
        await client.content.v1.contents(created.sid).fetch_async()
    assert missing.value.status == 404 and missing.value.code == 20404


async def test_the_sdks_async_client_cannot_create_content_as_it_sends_no_json(stock_client: Client) -> None:
    """twilio 9's AsyncTwilioHttpClient form-encodes the Content API's JSON body (twilio-python#932): Twilio
    answers 400, and so does the fake. The gateway must send that body as JSON itself."""
    request = ContentList.ContentCreateRequest({"language": "es", "types": quick_reply()})
    with pytest.raises(TwilioRestException) as refused:
        await stock_client.content.v1.contents.create_async(request)
    assert refused.value.status == 400 and "Request input may be invalid" in refused.value.msg


@pytest.mark.parametrize(
    "types",
    [
        quick_reply(actions=11),
        quick_reply(title="x" * 21),
        {QUICK_REPLY: {"body": "b" * 1025, "actions": [{"title": "Sí", "id": "si"}]}},
        {QUICK_REPLY: {"body": "sin botones", "actions": []}},
        {
            LIST_PICKER: {
                "body": "b",
                "button": "Ver",
                "items": [{"item": f"i{n}", "id": f"{n}"} for n in range(11)],
            }
        },
        list_picker(item="x" * 25),
        list_picker(description="x" * 73),
        list_picker(id="x" * 201),
        {LIST_PICKER: {"body": "b", "button": "x" * 21, "items": [{"item": "i", "id": "i"}]}},
        {TEXT: {"body": "x" * 1601}},
    ],
    ids=[
        "11-quick-replies",
        "title-21",
        "body-1025",
        "no-actions",
        "11-items",
        "item-25",
        "description-73",
        "id-201",
        "button-21",
        "text-1601",
    ],
)
async def test_content_over_twilios_limits_is_refused_with_a_400(
    client: Client, types: dict[str, Any]
) -> None:
    with pytest.raises(TwilioRestException) as refused:
        await client.content.v1.contents.create_async(
            ContentList.ContentCreateRequest({"language": "es", "types": types})
        )
    assert refused.value.status == 400


async def test_content_at_twilios_limits_is_accepted(client: Client) -> None:
    for types in (
        quick_reply(actions=10, title="x" * 19),
        list_picker(item="x" * 24, description="x" * 72, id="x" * 200),
        {
            LIST_PICKER: {
                "body": "b",
                "button": "x" * 20,
                "items": [{"item": f"i{n}", "id": f"{n}"} for n in range(10)],
            }
        },
    ):
        created = await client.content.v1.contents.create_async(
            ContentList.ContentCreateRequest({"language": "es", "types": types})
        )
        assert created.sid


async def test_a_content_send_is_recorded_and_its_body_rendered(fake: FakeTwilio, client: Client) -> None:
    sid = fake.add_content(quick_reply(), variables={"1": "cliente"})
    message = await client.messages.create_async(
        to=ANA, from_=SENDER, content_sid=sid, content_variables='{"1": "Ana"}'
    )
    assert message.body == "Hola Ana, ¿cuál prefieres?"
    [record] = fake.messages(ANA)
    assert record.content_sid == sid and record.content_variables == {"1": "Ana"}
    assert record.content is not None and [a["title"] for a in record.content["actions"]] == [
        "Sí",
        "Sí1",
        "Sí2",
    ]
    assert record.form["ContentVariables"] == '{"1": "Ana"}' and "Body" not in record.form
    default = await client.messages.create_async(to=ANA, from_=SENDER, content_sid=sid)
    assert default.body == "Hola cliente, ¿cuál prefieres?"  # the content's own values when none are given


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        ({"content_sid": "HX" + "0" * 32}, 21655),
        ({"content_sid": "HXnot-a-sid"}, 21655),
        ({"content_sid": REOPEN, "content_variables": "{not json"}, 21656),
        ({"content_sid": REOPEN, "content_variables": '{"1": ""}'}, 21656),
        ({"body": "hola", "content_variables": '{"1": "Ana"}'}, 21654),
    ],
    ids=["unknown", "malformed", "variables-not-json", "variable-empty", "variables-without-content"],
)
async def test_a_bad_content_send_is_refused_as_twilio_refuses_it(
    fake: FakeTwilio, client: Client, extra: dict[str, str], code: int
) -> None:
    fake.templates[REOPEN] = "Hola {{1}}"
    with pytest.raises(TwilioRestException) as refused:
        await client.messages.create_async(to=ANA, from_=SENDER, **extra)
    assert refused.value.status == 400 and refused.value.code == code
    assert [m.accepted for m in fake.messages(ANA)] == [False]


async def test_more_than_three_quick_replies_need_approval_in_session(
    fake: FakeTwilio, client: Client, gateway: Gateway
) -> None:
    four = fake.add_content(quick_reply(actions=4))
    refused = await client.messages.create_async(
        to=ANA, from_=SENDER, content_sid=four, status_callback=CALLBACK
    )
    fake.approve(four)
    sent = await client.messages.create_async(
        to=ANA, from_=SENDER, content_sid=four, status_callback=CALLBACK
    )
    await fake.settle()
    assert [p.form["ErrorCode"] for p in fake.callbacks(refused.sid)] == ["63005"]
    assert fake.callbacks(sent.sid) == []


async def test_a_messaging_service_may_send_instead_of_a_sender(fake: FakeTwilio, client: Client) -> None:
    service = "MG" + "2" * 32
    message = await client.messages.create_async(to=ANA, messaging_service_sid=service, body="hola")
    assert message.status == "accepted" and message.from_ is None and message.messaging_service_sid == service
    [record] = fake.messages(ANA)
    assert record.messaging_service_sid == service and record.from_ == "" and record.accepted
    fetched = await client.messages(message.sid).fetch_async()
    assert fetched.from_ == SENDER and fetched.messaging_service_sid == service


def test_templates_are_declared_at_construction() -> None:
    fake = FakeTwilio(ACCOUNT, TOKEN, templates={REOPEN: "Hola {{1}}"})
    assert dict(fake.templates) == {REOPEN: "Hola {{1}}"}
    content = fake.content(REOPEN)
    assert content is not None and content.approved and content.body({"1": "Ana"}) == "Hola Ana"
    del fake.templates[REOPEN]
    assert fake.content(REOPEN) is None and REOPEN not in fake.templates
    assert list(FakeTwilio(ACCOUNT, TOKEN, templates=[REOPEN]).templates) == [REOPEN]


# --- 3. media ---------------------------------------------------------------------------------------------
async def test_a_customers_file_is_served_only_with_the_accounts_credentials(fake: FakeTwilio) -> None:
    url = fake.add_media("image/jpeg", b"\xff\xd8jpeg")
    assert (found := MEDIA_URL.match(url)) and found.group(1) == ACCOUNT
    local = fake.base_url + urlsplit(url).path
    good, bad = aiohttp.BasicAuth(ACCOUNT, TOKEN), aiohttp.BasicAuth(ACCOUNT, "wrong")
    async with aiohttp.ClientSession() as session:
        async with session.get(local) as anonymous, session.get(local, auth=bad) as forged:
            assert anonymous.status == forged.status == 401
        async with session.get(local, auth=good, allow_redirects=False) as redirect:
            assert redirect.status == 307 and "/cdn/" in redirect.headers["Location"]
        async with session.get(local, auth=good) as followed:
            assert followed.status == 200 and await followed.read() == b"\xff\xd8jpeg"
            assert followed.headers["Content-Type"] == "image/jpeg"
        fake.media_redirect = False
        async with session.get(local, auth=good, allow_redirects=False) as direct:
            assert direct.status == 200 and await direct.read() == b"\xff\xd8jpeg"
    fetches = fake.media_fetches()
    assert [(f.authorized, f.cdn, f.status) for f in fetches] == [
        (False, False, 401),
        (False, False, 401),
        (True, False, 307),
        (True, False, 307),
        (False, True, 200),
        (True, False, 200),
    ]


async def test_a_messages_media_are_listed_and_fetched_through_the_sdk(
    fake: FakeTwilio, client: Client
) -> None:
    url = fake.add_media("application/pdf", b"%PDF-1.7")
    found = MEDIA_URL.match(url)
    assert found is not None
    listed = await client.messages(found.group(2)).media.list_async()
    assert [(m.sid, m.content_type, m.parent_sid) for m in listed] == [
        (found.group(3), "application/pdf", found.group(2))
    ]
    fetched = await client.messages(found.group(2)).media(found.group(3)).fetch_async()
    assert fetched.content_type == "application/pdf" and fetched.date_created is not None


async def test_outbound_media_is_recorded_and_checked_against_whatsapps_limits(
    fake: FakeTwilio, client: Client, gateway: Gateway
) -> None:
    files = ["https://files.example.com/contrato.pdf", "https://files.example.com/plano.png"]
    sent = await client.messages.create_async(to=ANA, from_=SENDER, media_url=files, status_callback=CALLBACK)
    assert sent.sid.startswith("MM") and sent.num_media == "2"
    assert fake.messages(ANA)[0].media_urls == tuple(files)
    with pytest.raises(TwilioRestException) as too_many:
        await client.messages.create_async(to=ANA, from_=SENDER, media_url=files * 6)
    assert too_many.value.code == 21623
    fake.declare_media("https://files.example.com/big.jpg", "image/jpeg", 6 * 1024 * 1024)
    gif = await client.messages.create_async(
        to=ANA, from_=SENDER, media_url=["https://files.example.com/demo.gif"], status_callback=CALLBACK
    )
    big = await client.messages.create_async(
        to=ANA, from_=SENDER, media_url=["https://files.example.com/big.jpg"], status_callback=CALLBACK
    )
    await fake.settle()
    assert fake.callbacks(sent.sid) == []
    assert [p.form["ErrorCode"] for p in fake.callbacks(gif.sid)] == ["63021"]
    assert [p.form["ErrorCode"] for p in fake.callbacks(big.sid)] == ["11751"]


# --- 4. status callbacks --------------------------------------------------------------------------------
async def test_statuses_are_posted_in_order_signed_as_twilio_signs_them(
    fake: FakeTwilio, client: Client, gateway: Gateway
) -> None:
    fake.statuses = ["sent", "delivered", "read"]
    message = await client.messages.create_async(to=ANA, from_=SENDER, body="hola", status_callback=CALLBACK)
    await fake.settle()
    posts = fake.callbacks(message.sid)
    assert [p.form["MessageStatus"] for p in posts] == ["sent", "delivered", "read"]
    assert all(r.signed and r.path_qs == "/webhooks/twilio/status" for r in gateway.received)
    sent, delivered, read = (p.form for p in posts)
    assert sent["StructuredMessage"] == "false" and "EventType" not in sent
    assert (delivered["EventType"], read["EventType"]) == ("DELIVERED", "READ")
    for form in (sent, delivered, read):
        assert form["MessageSid"] == form["SmsSid"] == message.sid and form["AccountSid"] == ACCOUNT
        assert (form["From"], form["To"], form["ApiVersion"]) == (SENDER, ANA, "2010-04-01")
        assert form["ChannelToAddress"] == "+521551000XXXX" and form["ChannelPrefix"] == "whatsapp"
        assert re.fullmatch(r"XE[0-9a-f]{32}", form["ChannelInstallSid"])
    assert [p.status for p in posts] == [204, 204, 204]
    fetched = await client.messages(message.sid).fetch_async()
    assert fetched.status == "read" and fetched.date_sent is not None


async def test_the_gateways_answer_to_a_callback_is_recorded(
    fake: FakeTwilio, client: Client, gateway: Gateway
) -> None:
    fake.statuses = ["sent"]
    gateway.answer = 500
    await client.messages.create_async(to=ANA, from_=SENDER, body="hola", status_callback=CALLBACK)
    await fake.settle()
    fake.deliver_callbacks("http://127.0.0.1:9")  # nothing listens there
    await client.messages.create_async(to=ANA, from_=SENDER, body="otra", status_callback=CALLBACK)
    await fake.settle()
    answered, unreached = fake.callbacks()
    assert answered.status == 500 and unreached.status is None and unreached.error


async def test_statuses_progress_without_callbacks_when_none_are_delivered(
    fake: FakeTwilio, client: Client
) -> None:
    fake.statuses = ["sent", "delivered"]
    message = await client.messages.create_async(to=ANA, from_=SENDER, body="hola", status_callback=CALLBACK)
    await fake.settle()
    assert fake.callbacks() == []
    assert (await client.messages(message.sid).fetch_async()).status == "delivered"


@pytest.mark.parametrize("code", [63024, 63018, 63014, 63032])
async def test_fail_next_fails_one_accepted_message_later(
    fake: FakeTwilio, client: Client, gateway: Gateway, code: int
) -> None:
    fake.fail_next(ANA, code)
    failed = await client.messages.create_async(to=ANA, from_=SENDER, body="uno", status_callback=CALLBACK)
    other = await client.messages.create_async(to=LUIS, from_=SENDER, body="otro", status_callback=CALLBACK)
    after = await client.messages.create_async(to=ANA, from_=SENDER, body="dos", status_callback=CALLBACK)
    await fake.settle()
    assert failed.status == "queued"
    [post] = fake.callbacks(failed.sid)
    assert (post.form["MessageStatus"], post.form["ErrorCode"]) == ("failed", str(code))
    assert fake.callbacks(other.sid) == fake.callbacks(after.sid) == []
    assert (await client.messages(failed.sid).fetch_async()).error_code == code


async def test_refuse_next_answers_one_create_with_a_twilio_error(fake: FakeTwilio, client: Client) -> None:
    fake.refuse_next(ANA)
    with pytest.raises(TwilioRestException) as refused:
        await client.messages.create_async(to=ANA, from_=SENDER, body="uno")
    assert refused.value.status == 400 and refused.value.code == 21211 and ANA in refused.value.msg
    fake.refuse_next(None, status=429, code=20429, message="Too Many Requests")
    with pytest.raises(TwilioRestException) as limited:
        await client.messages.create_async(to=LUIS, from_=SENDER, body="dos")
    assert limited.value.status == 429
    assert (await client.messages.create_async(to=ANA, from_=SENDER, body="tres")).status == "queued"
    assert [m.accepted for m in fake.messages()] == [False, False, True] and fake.bodies == ["tres"]


# --- 5. customers' messages ------------------------------------------------------------------------------
async def test_a_customers_text_is_posted_signed_with_twilios_fields_and_opens_the_window(
    fake: FakeTwilio, gateway: Gateway
) -> None:
    fake.enforce_window = True
    assert not fake.in_window(ANA)
    gateway.answer = 200
    assert await fake.inbound(ANA, "hola", profile_name="Ana Torres") == 200
    [arrived] = gateway.received
    assert arrived.signed and arrived.path_qs == "/webhooks/twilio/whatsapp"
    form = arrived.form
    assert re.fullmatch(r"SM[0-9a-f]{32}", form["MessageSid"])
    assert form["SmsMessageSid"] == form["SmsSid"] == form["MessageSid"]
    assert (form["From"], form["To"], form["Body"], form["AccountSid"]) == (ANA, SENDER, "hola", ACCOUNT)
    assert (form["ProfileName"], form["WaId"], form["NumMedia"], form["MessageType"]) == (
        "Ana Torres",
        "5215510000001",
        "0",
        "text",
    )
    assert (form["SmsStatus"], form["ApiVersion"]) == ("received", "2010-04-01")
    assert fake.in_window(ANA) and fake.last_inbound(ANA) is not None
    assert fake.posts("inbound")[0].form == form
    message = fake.message(form["MessageSid"])
    assert message is not None and message["direction"] == "inbound" and message["status"] == "received"


async def test_a_customers_files_are_posted_as_media_urls_twilio_serves(
    fake: FakeTwilio, gateway: Gateway
) -> None:
    await fake.inbound(ANA, media=[("image/jpeg", b"jpeg"), ("audio/ogg", b"ogg")])
    form = gateway.received[0].form
    assert form["MessageSid"].startswith("MM") and form["NumMedia"] == "2" and form["Body"] == ""
    assert (form["MediaContentType0"], form["MediaContentType1"], form["MessageType"]) == (
        "image/jpeg",
        "audio/ogg",
        "image",
    )
    found = MEDIA_URL.match(form["MediaUrl1"])
    assert found is not None and found.group(2) == form["MessageSid"]
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            fake.base_url + urlsplit(form["MediaUrl1"]).path, auth=aiohttp.BasicAuth(ACCOUNT, TOKEN)
        ) as got,
    ):
        assert await got.read() == b"ogg"


async def test_a_quick_reply_tap_and_a_list_choice_are_posted_as_twilio_posts_them(
    fake: FakeTwilio, client: Client, gateway: Gateway
) -> None:
    sid = fake.add_content(quick_reply())
    ours = await client.messages.create_async(
        to=ANA, from_=SENDER, content_sid=sid, content_variables='{"1": "Ana"}'
    )
    await fake.inbound(ANA, button=("choice_1", "Sí1"))
    await fake.inbound(ANA, list_item=("plan_pro", "Plan Pro"), in_reply_to="SM" + "9" * 32)
    tap, choice = (r.form for r in gateway.received)
    assert (tap["MessageType"], tap["ButtonPayload"], tap["ButtonText"], tap["Body"]) == (
        "button",
        "choice_1",
        "Sí1",
        "Sí1",
    )
    assert (tap["OriginalRepliedMessageSid"], tap["OriginalRepliedMessageSender"]) == (ours.sid, SENDER)
    assert (choice["MessageType"], choice["ListId"], choice["ListTitle"], choice["Body"]) == (
        "interactive",
        "plan_pro",
        "Plan Pro",
        "Plan Pro",
    )
    assert choice["OriginalRepliedMessageSid"] == "SM" + "9" * 32
    assert all(r.signed for r in gateway.received)


async def test_a_customers_location_is_posted(fake: FakeTwilio, gateway: Gateway) -> None:
    await fake.inbound(ANA, latitude=19.4326, longitude=-99.1332, address="Zócalo", label="Oficina")
    form = gateway.received[0].form
    assert (form["MessageType"], form["Latitude"], form["Longitude"]) == ("location", "19.4326", "-99.1332")
    assert (form["Address"], form["Label"]) == ("Zócalo", "Oficina")


async def test_inbound_needs_to_know_where_the_gateway_is(fake: FakeTwilio) -> None:
    with pytest.raises(RuntimeError, match="webhooks_to"):
        await fake.inbound(ANA, "hola")


# --- a fake served in a thread, for tests without an event loop -------------------------------------------
class ThreadedGateway:
    """The stand-in gateway served in a thread of its own."""

    def __init__(self) -> None:
        self.gateway = Gateway(answer=200)
        self.url = ""
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    @contextmanager
    def running(self) -> Iterator[ThreadedGateway]:
        self._thread.start()
        runner = web.AppRunner(self.gateway.app(), access_log=None)

        async def start() -> None:
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", 0).start()

        asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        self.url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        try:
            yield self
        finally:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), self._loop).result(10)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)


def test_a_fake_served_in_a_thread_posts_customers_messages_and_statuses() -> None:
    with ThreadedGateway().running() as stand_in, FakeTwilio(ACCOUNT, TOKEN).running() as fake:
        fake.webhooks_to(stand_in.url, PUBLIC)
        fake.deliver_callbacks(stand_in.url)
        fake.statuses = ["sent"]
        assert fake.inbound_sync(ANA, "hola", profile_name="Ana") == 200
        client = Client(ACCOUNT, TOKEN, http_client=SyncRedirecting(fake.base_url))
        sent = client.messages.create(to=ANA, from_=SENDER, body="respuesta", status_callback=CALLBACK)
        assert sent.status == "queued"
        fake.wait_settled()
        received = stand_in.gateway.received
        assert [r.path_qs for r in received] == ["/webhooks/twilio/whatsapp", "/webhooks/twilio/status"]
        assert all(r.signed for r in received)
        assert fake.wait_for(ANA)[0].body == "respuesta"
