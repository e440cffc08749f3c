"""Hand-off routing: while a person handles a conversation the assistant is silent and paused."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from bot.answers import csat
from bot.answers.notices import OPTED_OUT_NOTE, RESOLVED, position_text, taken
from bot.gateway.attachments import AttachmentView
from bot.gateway.console import handoff_json, message_json
from bot.gateway.contacts import masked
from bot.gateway.csat import BUTTONS as CSAT_BUTTONS
from bot.gateway.csat import survey_reply
from bot.gateway.deliveries import Deliveries
from bot.gateway.engine import EngineClient, EngineUnavailable
from bot.gateway.inbox import Inbound, Inbox
from bot.gateway.outbound import AGENT, NOTICE
from bot.handoff.csat import Surveys
from bot.handoff.events import AGENTS, Broker, conversation_topic
from bot.handoff.queue import HandoffQueue, HandoffView, now
from bot.handoff.triggers import HANDOFF_TYPE
from bot.privacy.redact import redact

if TYPE_CHECKING:
    from bot.gateway.pipeline.delivery import Delivery

log = logging.getLogger("bot.gateway.handoff")


def handoff_request(replies: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str | None]:
    """Split the engine's replies into what the user sees and the hand-off reason the action asked for."""
    reason = None
    kept = []
    for reply in replies:
        custom = reply.get("custom")
        if isinstance(custom, dict) and custom.get("type") == HANDOFF_TYPE:
            reason = str(custom.get("reason") or "requested")
            continue
        kept.append(reply)
    return kept, reason


def writer_json(handoff: HandoffView, profiles: dict[tuple[str, str], str | None]) -> dict[str, Any] | None:
    """Who writes on a channel with addresses (WhatsApp): their number, every digit but the last four
    hidden, and the profile name their channel shows (unverified: a verified number names the user)."""
    if handoff.reply_to is None:
        return None
    return {
        "channel": handoff.channel,
        "number": masked(handoff.reply_to),
        "profile_name": profiles.get((handoff.channel, handoff.reply_to)),
        "verified": handoff.user_id is not None,
    }


class Handoffs:
    """Opens hand-offs, routes messages between customers and agents, and hands back to the assistant."""

    def __init__(
        self,
        queue: HandoffQueue,
        inbox: Inbox,
        engine: EngineClient,
        broker: Broker,
        delivery: Delivery,
        stale_after: timedelta,
        public_url: str = "",
        deliveries: Deliveries | None = None,
    ) -> None:
        self.queue = queue
        self.inbox = inbox
        self.engine = engine
        self.broker = broker
        self.delivery = delivery
        self.stale_after = stale_after
        # Where the provider fetches the files agents attach.
        self.public_url = public_url.rstrip("/")
        self.deliveries = deliveries
        self.surveys = Surveys(queue.sessions)

    async def intercept(self, inbound: Inbound) -> bool:
        """Route a customer's message to the agent when their conversation is handed off."""
        handoff = await self.queue.active_for(inbound.sender_id)
        if handoff is None:
            return False
        # Files stay with the provider: the console asks the gateway, which fetches them with the
        # channel's credentials (see `agent.media`).
        media = [
            {"content_type": str(item.get("content_type") or ""), "inbound_id": inbound.id, "index": index}
            for index, item in enumerate(inbound.meta.get("media") or [])
        ]
        message = await self.queue.add_message(handoff.id, "user", inbound.text, media)
        self.broker.publish(AGENTS, "message", {"handoff_id": handoff.id, "message": message_json(message)})
        return True

    async def survey_answer(self, inbound: Inbound) -> list[dict[str, Any]] | None:
        """The reply when the message answers the satisfaction question (recorded once); None when it is
        for the assistant."""
        return await survey_reply(self.surveys, inbound)

    async def withdraw(self, sender_id: str) -> None:
        """The customer opted out: their open hand-off closes (nobody may write to them), noted for the
        agent, and the assistant takes the conversation back."""
        handoff = await self.queue.withdraw(sender_id)
        if handoff is None:
            return
        message = await self.queue.add_message(handoff.id, "system", OPTED_OUT_NOTE)
        self.broker.publish(AGENTS, "message", {"handoff_id": handoff.id, "message": message_json(message)})
        try:
            await self.engine.add_event(sender_id, "resume")
        except EngineUnavailable as error:
            log.warning("could not resume conversation of hand-off %s: %s", handoff.id, error)
        await self.publish_queue()

    async def start(
        self, inbound: Inbound, reason: str, replies: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Queue the conversation, pause the engine, and tell the user their place in the queue."""
        transcript = await self._transcript(inbound, replies)
        user_id = (inbound.meta.get("identity") or {}).get("user_id")
        handoff, created = await self.queue.open(
            inbound.sender_id, inbound.channel, inbound.reply_to, user_id, reason, transcript
        )
        # A new hand-off's position is recorded as announced with it, so no replica's queue update tells
        # the customer a second time.
        position = handoff.announced_position if created else None
        if position is None:
            position = await self._position(handoff.id)
        try:
            await self.engine.add_event(inbound.sender_id, "pause")
        except EngineUnavailable as error:
            # The gateway routes around the engine anyway; resuming later re-enables it.
            log.warning("could not pause conversation of hand-off %s: %s", handoff.id, error)
        await self.publish_queue()
        return [
            {"text": position_text(position)},
            {"custom": {"type": HANDOFF_TYPE, "status": "queued", "position": position}},
        ]

    async def _transcript(self, inbound: Inbound, replies: list[dict[str, Any]]) -> list[tuple[str, str]]:
        """The conversation so far (already redacted): earlier answered turns, then this one."""
        lines: list[tuple[str, str]] = []
        for text, answered in [
            *await self.inbox.history(inbound.sender_id, limit=20),
            (inbound.text, replies),
        ]:
            lines.append(("user", text))
            lines += [("bot", str(r["text"])) for r in answered if r.get("text")]
        return lines

    async def _position(self, handoff_id: int) -> int:
        queued = [h.id for h in await self.queue.active() if h.status == "queued"]
        return queued.index(handoff_id) + 1 if handoff_id in queued else 0

    async def queue_json(self) -> list[dict[str, Any]]:
        """The console's view of the queue."""
        active = await self.queue.active()
        names = await self.queue.names({i for h in active for i in (h.user_id, h.agent_id) if i is not None})
        profiles = await self.queue.profiles({(h.channel, h.reply_to) for h in active if h.reply_to})
        at = now()
        queued = [h.id for h in active if h.status == "queued"]
        items = []
        for handoff in active:
            item = handoff_json(handoff, at, self.stale_after, names)
            item["position"] = queued.index(handoff.id) + 1 if handoff.id in queued else None
            item["writer"] = writer_json(handoff, profiles)
            items.append(item)
        return items

    async def failed(self) -> int:
        """Texts that could not be delivered in the last 24 hours (the console counts them)."""
        return 0 if self.deliveries is None else await self.deliveries.failed_since(24)

    async def publish_queue(self) -> None:
        """Push the queue to every console, and tell customers whose position changed (each change once,
        whichever replica notices it first)."""
        items = await self.queue_json()
        self.broker.publish(AGENTS, "queue", {"handoffs": items, "failed": await self.failed()})
        for item in items:
            position = item["position"]
            if position is None or item["announced_position"] == position:
                continue
            if not await self.queue.announce(item["id"], position):
                continue
            handoff = await self.queue.get(item["id"])
            if handoff is not None:
                await self.to_customer(
                    handoff, "system", position_text(position), {"status": "queued", "position": position}
                )

    async def to_customer(
        self,
        handoff: HandoffView,
        role: str,
        text: str,
        status: dict[str, Any] | None = None,
        attachment: AttachmentView | None = None,
        buttons: list[dict[str, str]] | None = None,
    ) -> dict[str, Any]:
        """Record a line and deliver it on the customer's channel: as a live event (what the webchat shows)
        and, on a channel that delivers later, as a text (an agent's file goes with it, options to tap as
        the channel shows them)."""
        media = None if attachment is None else [attachment.media()]
        message = await self.queue.add_message(handoff.id, role, text, media)
        topic = conversation_topic(handoff.sender_id)
        event: dict[str, Any] = {"id": message["id"], "role": role, "text": text}
        if attachment is not None:
            event["media"] = [
                {"url": attachment.path, "name": attachment.name, "type": attachment.content_type}
            ]
        if buttons:
            event["buttons"] = buttons
        self.broker.publish(topic, "message", event)
        if status is not None:
            self.broker.publish(topic, "handoff", status)
        await self.delivery.notify(
            handoff.channel,
            handoff.reply_to,
            text,
            AGENT if role == "agent" else NOTICE,
            message["id"],
            None if attachment is None else self.public_url + attachment.path,
            buttons,
        )
        return message

    async def take(self, handoff_id: int, agent_id: int, agent_name: str) -> HandoffView | None:
        """Assign to an agent (one winner); the customer learns a person joined."""
        if not await self.queue.take(handoff_id, agent_id, self.stale_after):
            return None
        handoff = await self.queue.get(handoff_id)
        if handoff is None:
            return None
        await self.to_customer(handoff, "system", taken(agent_name), {"status": "assigned"})
        await self.publish_queue()
        return handoff

    async def reply(
        self, handoff: HandoffView, text: str, attachment: AttachmentView | None = None
    ) -> dict[str, Any]:
        """An agent's message to the customer (redacted like every text that is stored), with a file."""
        message = await self.to_customer(handoff, "agent", redact(text).text, None, attachment)
        self.broker.publish(AGENTS, "message", {"handoff_id": handoff.id, "message": message_json(message)})
        if handoff.reply_to is not None:
            # It was just sent, refused or held: consoles show how it went without waiting for Twilio.
            event = {"handoff_id": handoff.id, "handoff_message_id": message["id"]}
            self.broker.publish(AGENTS, "delivery", event)
        return message

    async def resolve(self, handoff_id: int, agent_id: int) -> HandoffView | None:
        """Close the hand-off, resume the engine, and hand the customer back to the assistant."""
        handoff = await self.queue.resolve(handoff_id, agent_id)
        if handoff is None:
            return None
        try:
            await self.engine.add_event(handoff.sender_id, "resume")
        except EngineUnavailable as error:
            log.warning("could not resume conversation of hand-off %s: %s", handoff.id, error)
        await self.to_customer(handoff, "system", RESOLVED, {"status": "resolved"})
        # Once, and never to a customer who opted out or whose channel's window closed.
        if await self.surveys.ask(handoff.id, self.delivery.window(handoff.channel)):
            await self.to_customer(handoff, "system", csat.QUESTION, buttons=CSAT_BUTTONS)
        await self.publish_queue()
        return handoff
