"""Delivery: an answer is kept with its message and, on a channel that delivers later, rendered for it and
queued in the outbox in the same transaction (so it is neither asked again nor sent twice), then sent."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from bot.gateway.channels import Channel, Channels
from bot.gateway.contacts import OPT_OUT
from bot.gateway.inbox import Inbound, Inbox, Outgoing
from bot.gateway.metrics import GatewayMetrics
from bot.gateway.outbound import ANSWER, CONFIRM, NOTICE, Draft
from bot.gateway.outbox import Outbox
from bot.gateway.pipeline.answering import Answer


def drafts(
    channel: Channel,
    replies: list[dict[str, Any]],
    purpose: str,
    inbound_id: int | None = None,
    handoff_message_id: int | None = None,
) -> list[Draft]:
    """The replies rendered for the channel, as texts to queue (with their rich forms)."""
    rendered = channel.render(replies)
    return [
        Draft(
            text,
            purpose,
            rendered.content(index),
            inbound_id=inbound_id,
            handoff_message_id=handoff_message_id,
        )
        for index, text in enumerate(rendered.texts)
    ]


class Delivery:
    """Sends answers and other texts on each message's own channel."""

    def __init__(self, inbox: Inbox, outbox: Outbox, channels: Channels, metrics: GatewayMetrics) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self._channels = channels
        self._metrics = metrics

    def _later(self, channel_name: str, reply_to: str | None) -> Channel | None:
        """The channel, when it delivers later (not in the HTTP response) and there is an address."""
        channel = self._channels.get(channel_name)
        if channel is None or channel.answers_in_response or reply_to is None:
            return None
        return channel

    def window(self, channel_name: str) -> timedelta | None:
        """How long after a customer's last message their channel lets us write (None: any time)."""
        channel = self._channels.get(channel_name)
        provider = None if channel is None else channel.provider()
        return None if provider is None else provider.window

    async def answered(self, inbound: Inbound, answer: Answer, owner: str | None = None) -> bool:
        """Record the answer and what the turn was (while `owner` still holds the message); deliver it
        unless the channel answers in the HTTP response. False when another replica answered it meanwhile
        (nothing is sent)."""
        replies, turn, review = answer.replies, answer.turn, answer.review
        channel = self._later(inbound.channel, inbound.reply_to)
        if channel is None or inbound.reply_to is None:
            recorded = await self._inbox.answered(inbound.id, replies, None, owner, turn, review)
            if recorded is not None and replies:  # returned in the HTTP response now
                self._metrics.answered(inbound.channel, inbound.received_at, len(replies))
            return recorded is not None
        # The confirmation of an opt-out is the one text that still goes to them.
        purpose = CONFIRM if inbound.meta.get("kind") == OPT_OUT else ANSWER
        texts = drafts(channel, replies, purpose, inbound_id=inbound.id)
        outgoing = Outgoing(channel.name, inbound.reply_to, texts)
        queued = await self._inbox.answered(inbound.id, replies, outgoing, owner, turn, review)
        if queued is None:
            return False
        await self._outbox.deliver(channel.name, inbound.reply_to, queued)
        if replies:  # the outbox counts the texts Twilio accepted
            self._metrics.answered(channel.name, inbound.received_at, 0)
        return True

    async def notify(
        self,
        channel_name: str,
        reply_to: str | None,
        text: str,
        purpose: str = NOTICE,
        handoff_message_id: int | None = None,
        media_url: str | None = None,
        buttons: list[dict[str, str]] | None = None,
    ) -> list[int]:
        """A text outside an answer (the assistant is down, a hand-off's progress, an agent's message, with
        a file, a question with options) for a channel that delivers later; channels that answer in the
        response show it through their own live events instead. Returns the queued rows' ids."""
        channel = self._later(channel_name, reply_to)
        if channel is None or reply_to is None:
            return []
        message: dict[str, Any] = {"text": text, "buttons": buttons} if buttons else {"text": text}
        texts = drafts(channel, [message] if text else [], purpose, handoff_message_id=handoff_message_id)
        if media_url is not None:
            if texts:  # the file goes with the first part, as its caption
                texts[0] = Draft(
                    texts[0].body, purpose, media_url=media_url, handoff_message_id=handoff_message_id
                )
            else:
                texts = [Draft("", purpose, media_url=media_url, handoff_message_id=handoff_message_id)]
        return await self._outbox.send(channel.name, reply_to, texts)
