"""Delivery: an answer is kept with its message and, on a channel that delivers later, rendered for it and
queued in the outbox in the same transaction (so it is neither asked again nor sent twice), then sent."""

from __future__ import annotations

from typing import Any

from bot.gateway.channels import Channels
from bot.gateway.inbox import Inbound, Inbox, Outgoing
from bot.gateway.outbox import Outbox


class Delivery:
    """Sends answers and other texts on each message's own channel."""

    def __init__(self, inbox: Inbox, outbox: Outbox, channels: Channels) -> None:
        self._inbox = inbox
        self._outbox = outbox
        self._channels = channels

    async def answered(self, inbound: Inbound, replies: list[dict[str, Any]]) -> None:
        """Record the answer; deliver it unless the channel answers in the HTTP response."""
        channel = self._channels.get(inbound.channel)
        if channel is None or channel.answers_in_response or inbound.reply_to is None:
            await self._inbox.answered(inbound.id, replies)
            return
        texts = list(channel.render(replies).texts)
        queued = await self._inbox.answered(
            inbound.id, replies, Outgoing(channel.name, inbound.reply_to, texts)
        )
        await self._outbox.deliver(channel.name, inbound.reply_to, queued)

    async def notify(self, channel_name: str, reply_to: str | None, text: str) -> None:
        """A text outside an answer (the assistant is down, a hand-off's progress, an agent's reply) for a
        channel that delivers later; channels that answer in the response show it through their own live
        events instead."""
        channel = self._channels.get(channel_name)
        if channel is None or channel.answers_in_response or reply_to is None:
            return
        await self._outbox.send(channel.name, reply_to, list(channel.render([{"text": text}]).texts))
