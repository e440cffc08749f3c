"""What the agent console shows of hand-offs and customers (JSON for its API and live events)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from bot.answers.account import STATUS_NAMES
from bot.gateway.attachments import PATH as ATTACHMENT_PATH
from bot.gateway.contacts import masked
from bot.handoff.queue import CustomerContext, HandoffView
from bot.handoff.triggers import REASONS


def handoff_json(
    handoff: HandoffView, at: datetime, stale_after: timedelta, names: dict[int, str]
) -> dict[str, Any]:
    """A hand-off, with waiting time and whether an idle agent's conversation may be taken."""
    data = asdict(handoff)
    if handoff.reply_to is not None:
        # A phone number is personal data: agents see its last four digits (the writer's name shows who).
        data["reply_to"] = masked(handoff.reply_to)
        data["sender_id"] = handoff.sender_id.split(":", 1)[0] + ":" + data["reply_to"]
    for key in ("created_at", "assigned_at", "agent_seen_at", "resolved_at"):
        value = data[key]
        data[key] = None if value is None else value.isoformat()
    data["reason_text"] = REASONS.get(handoff.reason, handoff.reason)
    data["waiting_seconds"] = max(0, int((at - handoff.created_at).total_seconds()))
    data["stale"] = handoff.is_stale(at, stale_after)
    data["agent_name"] = names.get(handoff.agent_id) if handoff.agent_id else None
    data["user_name"] = names.get(handoff.user_id) if handoff.user_id else None
    return data


def customer_json(context: CustomerContext) -> dict[str, Any]:
    """The customer as the console shows them: name, account, contracts' number, status and plan."""
    if context.name is None:
        return {"user": None, "account": None, "contracts": []}
    return {
        "user": {"name": context.name, "email": context.email, "profile": context.profile},
        "account": None if context.account_name is None else {"name": context.account_name},
        "contracts": [
            {
                "number": c.number,
                "status_text": STATUS_NAMES.get(c.status, c.status),
                "plan": c.software_plan.title(),
            }
            for c in context.contracts
        ],
    }


def media_json(message_id: int, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The files on a transcript line as the console loads them: an agent's attachment (served to anyone
    with its unguessable URL, as the provider fetches it) or a customer's (served to agents only, fetched
    from the provider)."""
    shown = []
    for index, item in enumerate(items):
        if item.get("attachment"):
            shown.append(
                {
                    "url": f"{ATTACHMENT_PATH}{item['attachment']}",
                    "content_type": item.get("content_type"),
                    "name": item.get("name"),
                    "size": item.get("size"),
                }
            )
        else:
            shown.append(
                {"url": f"/api/agent/media/{message_id}/{index}", "content_type": item.get("content_type")}
            )
    return shown


def message_json(message: dict[str, Any]) -> dict[str, Any]:
    """A transcript line for the console (its files as URLs to load)."""
    if not message.get("media"):
        return message
    return {**message, "media": media_json(int(message["id"]), list(message["media"]))}
