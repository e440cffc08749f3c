"""What each turn was and the not-understood review, through the real gateway (a fake engine that answers
as the actions do, real SQLite store): the turn's report never reaches the customer and is recorded with
the answer; a message not understood waits for review with its conversation; supervisors (only) label it
or set it aside; `bot review-export` writes the labelled ones as training examples."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from pytest_aiohttp.plugin import AiohttpServer

from bot import cli
from bot.gateway import tokens
from bot.settings import PROJECT_ROOT, Settings
from tests.gateway.conftest import FakeEngine, Gateway, StartGateway, rows

LEAD = "Sigo sin entenderte, así que te comunico con una persona del equipo de soporte."
FALLBACK = "No estoy seguro de haber entendido. ¿Puedes decirlo de otra forma?"
ELENA = (8, 4, "supervisor", "Elena Supervisión")  # the demo supervisor
CARLA = (7, 4, "agent", "Carla Soporte")


def turn(intent: str, understood: bool = True, plans: tuple[str, ...] = ()) -> dict[str, Any]:
    return {"custom": {"type": "turn", "intent": intent, "understood": understood, "plans": list(plans)}}


def as_the_actions(payload: dict[str, Any]) -> list[dict[str, Any]]:
    """Answers as our actions do: the reply, then the turn's report (none for the engine's own greeting)."""
    message = payload["message"]
    if message == "hola":
        return [{"text": "¡Hola! ¿En qué te ayudo?"}]
    if message.startswith("cuanto sale"):
        return [{"text": "El plan Expert cuesta 100 USD al mes."}, turn("ask_price", True, ("expert",))]
    if message == "qqq":
        return [
            {"text": LEAD},
            {"custom": {"type": "handoff", "reason": "not_understood"}},
            turn("nlu_fallback", False),
        ]
    return [{"text": FALLBACK}, turn("nlu_fallback", False)]


@pytest.fixture
async def engine(aiohttp_server: AiohttpServer) -> AsyncIterator[FakeEngine]:
    """The fake engine, with the tracker the gateway asks when no action reported the turn."""
    fake = FakeEngine(answer=as_the_actions)

    async def tracker(request: web.Request) -> web.Response:
        sender = request.match_info["sender"]
        said = [p for p in fake.received if p["sender"] == sender]
        intent = "greet" if said and said[-1]["message"] == "hola" else "nlu_fallback"
        return web.json_response({"sender_id": sender, "latest_message": {"intent": {"name": intent}}})

    app = web.Application()
    app.router.add_post("/webhooks/rest/webhook", fake.webhook)
    app.router.add_get("/conversations/{sender}/tracker", tracker)
    server: TestServer = await aiohttp_server(app)
    fake.url = str(server.make_url("")).rstrip("/")
    yield fake
    fake.release.set()


def bearer(who: tuple[int, int, str, str], settings: Settings) -> dict[str, str]:
    user_id, account_id, profile, name = who
    return {"Authorization": f"Bearer {tokens.mint(user_id, account_id, profile, name, settings, 10)}"}


async def talk(gateway: Gateway, cookie: str | None, text: str) -> tuple[list[dict[str, Any]], str]:
    response = await gateway.chat({"message": text}, cookie=cookie)
    assert response.status == 200
    morsel = response.cookies.get("zcc_conversation")
    return await response.json(), morsel.value if morsel else str(cookie)


async def test_each_turn_is_recorded_and_what_was_not_understood_waits_for_review(
    start_gateway: StartGateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    gateway = await start_gateway()
    answer, cookie = await talk(gateway, None, "hola")
    assert answer == [{"text": "¡Hola! ¿En qué te ayudo?"}]
    answer, _ = await talk(gateway, cookie, "cuanto sale el Expert al mes")
    assert [m.get("text") for m in answer] == ["El plan Expert cuesta 100 USD al mes."]  # no report shown
    answer, _ = await talk(gateway, cookie, "asdf qwer")
    assert [m.get("text") for m in answer] == [FALLBACK] and not any("custom" in m for m in answer)
    answer, _ = await talk(gateway, cookie, "qqq")
    assert answer[0]["text"] == LEAD
    assert not any(m.get("custom", {}).get("type") == "turn" for m in answer)

    stored = sorted(rows(gateway.settings.database_url, "inbound_messages"), key=lambda r: r["id"])
    assert [(r["text"], r["intent"], r["understood"], r["plans"]) for r in stored] == [
        ("hola", "greet", 1, "[]"),  # the tracker's intent: the engine answered with its own response
        ("cuanto sale el Expert al mes", "ask_price", 1, '["expert"]'),
        ("asdf qwer", "nlu_fallback", 0, "[]"),
        ("qqq", "nlu_fallback", 0, "[]"),
    ]
    # Retried webchat requests get the stored replies: the report is not among them either.
    assert all("turn" not in str(r["replies"]) for r in stored)

    items = sorted(rows(gateway.settings.database_url, "review_items"), key=lambda r: r["id"])
    assert [(i["text"], i["reason"], i["status"]) for i in items] == [
        ("asdf qwer", "fallback", "waiting"),
        ("qqq", "handoff", "waiting"),
    ]

    # Only supervisors see the review.
    client = gateway.client
    assert (await client.get("/api/insights/review")).status == 401
    assert (await client.get("/api/insights/review", headers=bearer(CARLA, gateway.settings))).status == 403
    supervisor = bearer(ELENA, gateway.settings)
    response = await client.get("/api/insights/review", headers=supervisor)
    assert response.status == 200
    body = await response.json()
    assert body["waiting"] == 2 and body["out_of_scope"] is True
    assert "ask_price" in body["intents"] and "nlu_fallback" not in body["intents"]
    assert body["entities"] == ["plan", "feature", "channel", "contract_number"]
    first = next(i for g in body["groups"] for i in g["items"] if i["text"] == "asdf qwer")
    assert first["context"] == [
        {"role": "user", "text": "hola"},
        {"role": "bot", "text": "¡Hola! ¿En qué te ayudo?"},
        {"role": "user", "text": "cuanto sale el Expert al mes"},
        {"role": "bot", "text": "El plan Expert cuesta 100 USD al mes."},
        {"role": "user", "text": "asdf qwer"},
        {"role": "bot", "text": FALLBACK},
    ]
    second = next(i for g in body["groups"] for i in g["items"] if i["text"] == "qqq")

    # Refusals: an intent outside the domain, words that are not in the message.
    label = "/api/insights/review/label"
    refused = await client.post(label, json={"ids": [first["id"]], "intent": "nope"}, headers=supervisor)
    assert (refused.status, (await refused.json())["error"]) == (400, "unknown_intent")
    wrong = {
        "ids": [first["id"]],
        "intent": "ask_price",
        "entities": {str(first["id"]): [{"entity": "plan", "text": "expert"}]},
    }
    refused = await client.post(label, json=wrong, headers=supervisor)
    assert (refused.status, (await refused.json())["error"]) == (400, "entity_not_in_text")
    assert (await client.post(label, json={"ids": [first["id"]], "intent": "ask_price"})).status == 401

    done = await client.post(
        label, json={"ids": [first["id"]], "intent": "list_plans", "entities": {}}, headers=supervisor
    )
    assert await done.json() == {"reviewed": 1, "waiting": 1}
    aside = await client.post(
        "/api/insights/review/out-of-scope", json={"ids": [second["id"]]}, headers=supervisor
    )
    assert await aside.json() == {"reviewed": 1, "waiting": 0}
    body = await (await client.get("/api/insights/review", headers=supervisor)).json()
    assert (body["waiting"], body["groups"]) == (0, [])

    # The export writes both, and writing again changes nothing.
    monkeypatch.setattr(cli, "get_settings", lambda: gateway.settings)
    output = tmp_path / "reviewed.yml"
    assert cli.main(["review-export", "--output", str(output)]) == 0
    written = output.read_text(encoding="utf-8")
    assert "  - intent: list_plans\n    examples: |\n      - asdf qwer\n" in written
    assert "  - intent: out_of_scope\n    examples: |\n      - qqq\n" in written
    assert cli.main(["review-export", "--output", str(output)]) == 0
    assert output.read_text(encoding="utf-8") == written
    # Never into the held-out test set.
    assert cli.main(["review-export", "--output", str(PROJECT_ROOT / "tests" / "nlu" / "reviewed.yml")]) == 2
    assert not (PROJECT_ROOT / "tests" / "nlu" / "reviewed.yml").exists()


async def test_entities_are_placed_in_the_message(gateway: Gateway, engine: FakeEngine) -> None:
    engine.answer = lambda payload: [{"text": FALLBACK}, turn("nlu_fallback", False)]
    await talk(gateway, None, "y cuanto vale el Expert con whatsapp")
    supervisor = bearer(ELENA, gateway.settings)
    body = await (await gateway.client.get("/api/insights/review", headers=supervisor)).json()
    [item] = [i for g in body["groups"] for i in g["items"]]
    entities = {
        str(item["id"]): [{"entity": "plan", "text": "expert"}, {"entity": "channel", "text": "WhatsApp"}]
    }
    response = await gateway.client.post(
        "/api/insights/review/label",
        json={"ids": [item["id"]], "intent": "ask_price", "entities": entities},
        headers=supervisor,
    )
    assert response.status == 200
    [row] = rows(gateway.settings.database_url, "review_items")
    assert row["status"] == "labelled" and row["intent"] == "ask_price"
    assert '"value": "Expert", "start": 17, "end": 23' in row["entities"]
    assert '"value": "whatsapp", "start": 28, "end": 36' in row["entities"]
