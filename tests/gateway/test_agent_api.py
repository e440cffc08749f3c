"""The agent console's API: who may use it, what an agent sees of a customer, live events, and refusals.

Uses the hand-off gateway of test_handoff.py (fake engine with the tracker events API, fake Twilio).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

import jwt
import pytest

import tests.gateway.test_handoff as handoff_tests
from bot.answers.notices import position_text
from bot.gateway import tokens
from tests.gateway.conftest import ANA_PHONE, rows
from tests.gateway.test_handoff import (
    ANA,
    ANA_WHATSAPP,
    CARLA,
    DIEGO,
    LUIS,
    TRIGGER,
    Hub,
    message_event,
)

# The fixtures of test_handoff.py, shared.
start_hub = handoff_tests.start_hub
hub = handoff_tests.hub

CARLA_ID, _ = CARLA


async def handed_off_on_whatsapp(hub: Hub) -> int:
    """Ana (verified WhatsApp number, admin of account 1) asks for a person; the hand-off's id."""
    await hub.whatsapp(TRIGGER)
    await hub.settle()
    [row] = hub.handoff_rows(f"wa:{ANA_PHONE}")
    return int(row["id"])


def endpoints(handoff_id: int) -> list[tuple[str, str, Any]]:
    """Every console endpoint, with a valid body."""
    base = f"/api/agent/handoffs/{handoff_id}"
    return [
        ("GET", "/api/agent/queue", None),
        ("GET", base, None),
        ("POST", f"{base}/take", None),
        ("POST", f"{base}/reply", {"text": "Hola"}),
        ("POST", f"{base}/resolve", None),
        ("GET", "/api/agent/events", None),
    ]


async def call(hub: Hub, method: str, path: str, body: Any, token: str | None) -> tuple[int, Any]:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = await hub.client.request(method, path, json=body, headers=headers)
    content = (
        await response.read() if response.status != 200 or method != "GET" or "events" not in path else b""
    )
    response.close()
    return response.status, json.loads(content) if content else None


# --- who may use the console ----------------------------------------------------------------------------
async def test_the_console_page_is_served(hub: Hub) -> None:
    response = await hub.client.get("/agent")
    assert response.status == 200
    assert "Consola de agentes" in await response.text()
    for asset in ("/static/agent.js", "/static/agent.css"):
        assert (await hub.client.get(asset)).status == 200


async def test_without_a_valid_token_every_endpoint_is_a_401(hub: Hub) -> None:
    handoff_id = await handed_off_on_whatsapp(hub)
    now = int(time.time())
    expired = jwt.encode(
        {"sub": "7", "account_id": 4, "profile": "agent", "iat": now - 120, "exp": now - 60},
        hub.settings.jwt_secret,
        algorithm="HS256",
    )
    forged = tokens.mint(
        CARLA_ID, 4, "agent", "Carla", hub.settings.model_copy(update={"jwt_secret": "x" * 40}), 10
    )
    for token, code in ((None, "not_signed_in"), ("garbage", "token_invalid"), (forged, "token_invalid")):
        for method, path, body in endpoints(handoff_id):
            status, error = await call(hub, method, path, body, token)
            assert (status, error["error"]) == (401, code), (method, path, token)
            assert error["message"]
    for method, path, body in endpoints(handoff_id):
        status, error = await call(hub, method, path, body, expired)
        assert (status, error["error"]) == (401, "token_expired"), (method, path)
    # The token in the query (as EventSource sends it) is checked the same way.
    response = await hub.client.get("/api/agent/events", params={"access_token": "garbage"})
    assert response.status == 401
    [row] = hub.handoff_rows()
    assert (row["status"], row["agent_id"]) == ("queued", None)


@pytest.mark.parametrize(
    ("who", "profile", "account_id"),
    [
        (LUIS, "member", 1),  # a customer
        (ANA, "admin", 1),  # a customer's admin
        (ANA, "agent", 1),  # a customer whose token claims to be an agent (the store says admin)
        (CARLA, "admin", 4),  # an agent whose token says otherwise
    ],
)
async def test_anyone_but_an_agent_gets_a_403(
    hub: Hub, who: tuple[int, str], profile: str, account_id: int
) -> None:
    handoff_id = await handed_off_on_whatsapp(hub)
    token = hub.token(who, profile, account_id)
    for method, path, body in endpoints(handoff_id):
        status, error = await call(hub, method, path, body, token)
        assert (status, error["error"]) == (403, "not_an_agent"), (method, path)
        assert error["message"] == "Necesitas iniciar sesión con un perfil de agente."
    [row] = hub.handoff_rows()
    assert (row["status"], row["agent_id"]) == ("queued", None)
    assert [r["role"] for r in rows(hub.database_url, "handoff_messages")] == ["user", "bot"]
    assert hub.sent_to(ANA_WHATSAPP)[-1] != "Hola"


async def test_an_agent_may_use_every_endpoint(hub: Hub) -> None:
    handoff_id = await handed_off_on_whatsapp(hub)
    token = hub.token(CARLA)
    for method, path, body in endpoints(handoff_id):
        response = await hub.client.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token}"}
        )
        assert response.status == 200, (method, path, await response.text())
        response.close()


# --- what an agent sees of the customer -----------------------------------------------------------------
async def test_the_agent_sees_only_who_the_customer_is_and_their_contracts_status(hub: Hub) -> None:
    handoff_id = await handed_off_on_whatsapp(hub)
    response = await hub.client.get(
        f"/api/agent/handoffs/{handoff_id}", headers={"Authorization": f"Bearer {hub.token(CARLA)}"}
    )
    assert response.status == 200
    raw = await response.text()
    body = json.loads(raw)
    assert body["context"] == {
        "user": {"name": "Ana Torres", "email": "ana.torres@andina.example", "profile": "admin"},
        "account": {"name": "Andina Retail S.A."},
        "contracts": [
            {
                "number": "ZCC-100001",
                "status_text": body["context"]["contracts"][0]["status_text"],
                "plan": "Expert",
            },
            {"number": "ZCC-100002", "status_text": "Suspendido", "plan": "Specialist"},
            {
                "number": "ZCC-100003",
                "status_text": body["context"]["contracts"][2]["status_text"],
                "plan": "Starter",
            },
        ],
    }
    assert [m["role"] for m in body["messages"]] == ["user", "bot"]
    assert body["handoff"]["reason_text"] == "El cliente pidió hablar con una persona"
    assert body["handoff"]["user_name"] == "Ana Torres"

    # Nothing about money or cards, anywhere in the answer.
    secret: set[str] = set()
    for table in ("payments", "invoices"):
        for row in rows(hub.database_url, table):
            amount = str(row["amount"])
            secret |= {amount, amount.removesuffix(".00").removesuffix(".0")}
            if table == "invoices":
                secret.add(row["number"])
    for row in rows(hub.database_url, "cards"):
        secret |= {row["last4"], row["holder"]}
    assert len(secret) > 5
    # Timestamps are no secret, but their digits may spell an amount ("…:12.990+00:00" holds "990").
    scrubbed = re.sub(r"\d{4}-\d{2}-\d{2}[T ][\d:.]+(?:Z|[+-]\d{2}:?\d{2})?", "<time>", raw)
    for value in sorted(secret):
        at = scrubbed.find(value)
        assert at < 0, (value, scrubbed[max(0, at - 60) : at + 60])
    for word in ("amount", "currency", "invoice", "factura", "card", "tarjeta", "last4", "MXN", "payment"):
        assert word not in raw.lower(), word


async def test_an_anonymous_customer_has_no_context(hub: Hub) -> None:
    cookie, sender = await hub.new_customer()
    await hub.chat(TRIGGER, cookie)
    [row] = hub.handoff_rows(sender)
    status, body = await hub.agent("GET", f"/api/agent/handoffs/{row['id']}")
    assert status == 200
    assert body["context"] == {"user": None, "account": None, "contracts": []}
    assert body["handoff"]["user_name"] is None


# --- refusals -------------------------------------------------------------------------------------------
async def test_unknown_conversations_and_bad_replies_are_refused_clearly(hub: Hub) -> None:
    assert (await hub.agent("GET", "/api/agent/handoffs/999"))[0] == 404
    assert (await hub.agent("GET", "/api/agent/handoffs/abc"))[0] == 404
    assert (await hub.take(999))[0] == 409
    assert (await hub.reply(999, "hola"))[0] == 409
    assert (await hub.resolve(999))[0] == 409

    handoff_id = await handed_off_on_whatsapp(hub)
    # Not taken yet: nobody may answer or resolve it.
    assert (await hub.reply(handoff_id, "hola"))[0] == 409
    assert (await hub.resolve(handoff_id))[0] == 409
    assert (await hub.take(handoff_id))[0] == 200
    assert (await hub.take(handoff_id))[0] == 409  # taking it twice, even by the same agent
    bodies: list[Any] = [{"text": ""}, {"text": "x" * 4001}, {"texto": "hola"}, [], "hola"]
    for body in bodies:
        status, error = await hub.agent("POST", f"/api/agent/handoffs/{handoff_id}/reply", CARLA, body)
        assert (status, error["error"]) == (400, "malformed_request"), body
        assert error["message"]
    response = await hub.client.post(
        f"/api/agent/handoffs/{handoff_id}/reply",
        data=b"{not json",
        headers={"Authorization": f"Bearer {hub.token(CARLA)}", "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert hub.sent_to(ANA_WHATSAPP)[-1] == "Carla Soporte del equipo de soporte se unió a la conversación."

    assert (await hub.resolve(handoff_id))[0] == 200
    # Resolved: it is over for everyone.
    assert (await hub.reply(handoff_id, "¿algo más?"))[0] == 409
    assert (await hub.resolve(handoff_id))[0] == 409
    assert (await hub.take(handoff_id, DIEGO))[0] == 409
    status, body = await hub.agent("GET", f"/api/agent/handoffs/{handoff_id}")
    assert status == 200 and body["handoff"]["status"] == "resolved"


async def test_an_agents_reply_is_masked_like_every_stored_text(hub: Hub) -> None:
    handoff_id = await handed_off_on_whatsapp(hub)
    assert (await hub.take(handoff_id))[0] == 200
    status, body = await hub.reply(handoff_id, "Confirmo la tarjeta 4929 4205 7395 4518, cvv 123")
    assert status == 200
    for text in (body["message"]["text"], hub.sent_to(ANA_WHATSAPP)[-1], hub.transcript(handoff_id)[-1][1]):
        assert "4518" in text and "4929 4205" not in text and "123" not in text


# --- live events ----------------------------------------------------------------------------------------
async def test_the_console_follows_the_queue_and_the_conversation_live(hub: Hub) -> None:
    console = await hub.agent_events(CARLA)
    assert await console.next() == ("queue", {"handoffs": [], "failed": 0})

    cookie, sender = await hub.new_customer()
    await hub.chat(TRIGGER, cookie)
    [row] = hub.handoff_rows(sender)
    name, data = await console.next()
    assert name == "queue"
    [item] = data["handoffs"]
    assert (item["id"], item["status"], item["position"], item["reason_text"]) == (
        row["id"],
        "queued",
        1,
        "El cliente pidió hablar con una persona",
    )

    await hub.chat("¿hay alguien?", cookie)
    name, data = await console.next()
    assert name == "message" and data["handoff_id"] == row["id"]
    assert (data["message"]["role"], data["message"]["text"]) == ("user", "¿hay alguien?")

    assert (await hub.take(row["id"]))[0] == 200
    taken = await console.until(lambda name, data: name == "queue")
    assert taken[-1][1]["handoffs"][0]["status"] == "assigned"
    assert taken[-1][1]["handoffs"][0]["agent_name"] == "Carla Soporte"

    status, body = await hub.reply(row["id"], "Aquí estoy.")
    assert status == 200
    name, data = await console.next()
    assert (name, data) == ("message", {"handoff_id": row["id"], "message": body["message"]})

    assert (await hub.resolve(row["id"]))[0] == 200
    done = await console.until(lambda name, data: name == "queue")
    assert done[-1][1] == {"handoffs": [], "failed": 0}


async def test_a_customer_stream_carries_only_their_own_conversation(hub: Hub) -> None:
    first, first_sender = await hub.new_customer()
    second, second_sender = await hub.new_customer()
    for cookie in (first, second):
        await hub.chat(TRIGGER, cookie)
    streams = {}
    for cookie, sender in ((first, first_sender), (second, second_sender)):
        streams[sender] = await hub.customer_events(cookie)
        assert (await streams[sender].next())[0] == "handoff"
    [one] = hub.handoff_rows(first_sender)
    assert (await hub.take(one["id"]))[0] == 200
    assert (await hub.reply(one["id"], "Solo para el primero."))[0] == 200
    await streams[first_sender].until(message_event("agent", "Solo para el primero."))
    # The second one only learns that their place moved, never the first one's messages.
    seen = await streams[second_sender].quiet(0.3)
    assert seen == [
        ("message", {"id": seen[0][1]["id"], "role": "system", "text": position_text(1)}),
        ("handoff", {"status": "queued", "position": 1}),
    ]


async def test_a_customer_stream_with_a_bad_token_is_refused(hub: Hub) -> None:
    response = await hub.client.get("/api/chat/events", params={"access_token": "garbage"})
    assert response.status == 401
    assert (await response.json())["error"] == "token_invalid"
