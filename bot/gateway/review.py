"""The not-understood review for supervisors: the page at /insights/review and its API. Messages the
assistant did not understand wait here grouped by similarity; a supervisor assigns the right intent (and
entities) or sets them aside as out of scope, and `bot review-export` turns the labelled ones into training
examples."""

from __future__ import annotations

import asyncio
from functools import cache
from typing import Any

from aiohttp import web

from bot.gateway.channels.webchat import STATIC
from bot.gateway.errors import ApiError
from bot.gateway.keys import REVIEW
from bot.gateway.supervision import require_supervisor
from bot.review.export import OUT_OF_SCOPE, domain_names
from bot.review.grouping import group
from bot.store.review import LABELLED, Item

# Messages shown at once (the oldest waiting): the page says how many more wait.
SHOWN = 500
MAX_IDS = 500
NO_STORE = {"Cache-Control": "private, no-store"}


@cache
def _domain() -> tuple[tuple[str, ...], tuple[str, ...]]:
    intents, entities = domain_names()
    return tuple(intents), tuple(entities)


def _item_json(item: Item) -> dict[str, Any]:
    return {
        "id": item.id,
        "text": item.text,
        "channel": item.channel,
        "reason": item.reason,
        "received_at": item.received_at.isoformat(),
        "context": item.context,
    }


async def page(request: web.Request) -> web.FileResponse:
    """GET /insights/review: the page (it signs in and asks the API, which needs a supervisor's token)."""
    return web.FileResponse(STATIC / "review.html")


async def waiting(request: web.Request) -> web.Response:
    """GET /api/insights/review: how many messages wait, the oldest of them grouped by similarity (largest
    group first), and the intents and entities of the domain to label them with."""
    await require_supervisor(request)
    count, items = await request.app[REVIEW].waiting(SHOWN)
    # Off the event loop: a few hundred messages take tens of milliseconds to compare (make bench-review).
    groups = await asyncio.to_thread(group, items, [item.text for item in items])
    intents, entities = _domain()
    body = {
        "waiting": count,
        "shown": len(items),
        "groups": [
            {"label": g.leader, "size": len(g.members), "items": [_item_json(i) for i in g.members]}
            for g in groups
        ],
        "intents": list(intents),
        "entities": list(entities),
        "out_of_scope": OUT_OF_SCOPE in intents,
    }
    return web.json_response(body, headers=NO_STORE)


async def _decision(request: web.Request) -> tuple[int, dict[str, Any], list[int]]:
    user = await require_supervisor(request)
    try:
        body = await request.json()
    except ValueError as failure:
        raise ApiError(400, "bad_json", "La solicitud no es un JSON válido.") from failure
    ids = body.get("ids") if isinstance(body, dict) else None
    if (
        not isinstance(ids, list)
        or not ids
        or len(ids) > MAX_IDS
        or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
    ):
        raise ApiError(400, "bad_ids", "Elige al menos un mensaje.")
    return user.user_id, body, ids


def _spans(text: str, wanted: Any, names: tuple[str, ...]) -> list[dict[str, Any]]:
    """Entities given as {"entity", "text"} placed in the message: the words must appear in it."""
    if wanted is None:
        return []
    if not isinstance(wanted, list):
        raise ApiError(400, "bad_entities", "Las entidades no tienen el formato esperado.")
    spans = []
    for entity in wanted:
        name = entity.get("entity") if isinstance(entity, dict) else None
        words = str(entity.get("text") or "").strip() if isinstance(entity, dict) else ""
        if name not in names:
            raise ApiError(400, "unknown_entity", f"La entidad «{name}» no existe en el dominio.")
        start = text.casefold().find(words.casefold()) if words else -1
        if start < 0:
            raise ApiError(400, "entity_not_in_text", f"«{words}» no aparece en el mensaje.")
        end = start + len(words)
        spans.append({"entity": name, "value": text[start:end], "start": start, "end": end})
    return spans


async def label(request: web.Request) -> web.Response:
    """POST /api/insights/review/label {"ids", "intent", "entities": {id: [{"entity", "text"}]}}: the right
    intent for these messages, and the entities in each."""
    user_id, body, ids = await _decision(request)
    intents, names = _domain()
    intent = body.get("intent")
    if intent not in intents:
        raise ApiError(400, "unknown_intent", "Elige una intención del dominio.")
    given = body.get("entities") or {}
    if not isinstance(given, dict):
        raise ApiError(400, "bad_entities", "Las entidades no tienen el formato esperado.")
    texts = await request.app[REVIEW].texts(ids)
    entities = {
        item_id: spans
        for item_id, text in texts.items()
        if (spans := _spans(text, given.get(str(item_id)), names))
    }
    changed, left = await request.app[REVIEW].decide(ids, LABELLED, user_id, str(intent), entities)
    return web.json_response({"reviewed": changed, "waiting": left}, headers=NO_STORE)


async def out_of_scope(request: web.Request) -> web.Response:
    """POST /api/insights/review/out-of-scope {"ids"}: messages that are not the assistant's to answer."""
    user_id, _, ids = await _decision(request)
    changed, left = await request.app[REVIEW].decide(ids, "out_of_scope", user_id)
    return web.json_response({"reviewed": changed, "waiting": left}, headers=NO_STORE)


def add_routes(app: web.Application) -> None:
    """Routes of the review page."""
    app.router.add_get("/insights/review", page)
    app.router.add_get("/api/insights/review", waiting)
    app.router.add_post("/api/insights/review/label", label)
    app.router.add_post("/api/insights/review/out-of-scope", out_of_scope)
