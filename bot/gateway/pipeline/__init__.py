"""The message pipeline every channel shares: intake (validate, limit, redact, store) -> scheduling (a
sender's messages in order, one replica per message, bounded engine load, retries) -> answering (the engine,
hand-offs, notices) -> delivery (on the message's own channel). No step knows which channel it serves
beyond what the `Channel` interface says."""

from __future__ import annotations

from typing import Any

from bot.gateway.channels import Channel, Incoming
from bot.gateway.handoffs import Handoffs
from bot.gateway.inbox import Inbound, Inbox
from bot.gateway.outbox import Outbox
from bot.gateway.pipeline.intake import Accepted, Intake, Refusal
from bot.gateway.pipeline.scheduling import Scheduler


class Pipeline:
    """What channels hand messages to."""

    def __init__(
        self, intake: Intake, scheduler: Scheduler, outbox: Outbox, handoffs: Handoffs, inbox: Inbox
    ) -> None:
        self._inbox = inbox
        self.intake = intake
        self.scheduler = scheduler
        self.outbox = outbox
        # The hand-off routing the answers go through (the agent console works on it too).
        self.handoffs = handoffs

    async def receive(self, channel: Channel, incoming: Incoming) -> Accepted | Refusal:
        """Take a message in; on a channel that delivers later, start answering it in the background."""
        async with self.intake.arrivals.hold(incoming.sender_id):
            received = await self.intake.accept(channel, incoming)
            if isinstance(received, Accepted) and received.new and not channel.answers_in_response:
                self.scheduler.answer_later(received.inbound)
        return received

    async def answer(self, inbound: Inbound) -> list[dict[str, Any]] | None:
        """Answer a stored message now (in order after the sender's earlier ones); None: engine down."""
        return await self.scheduler.answer(inbound)

    async def inbound(self, message_id: int) -> Inbound | None:
        """A stored message (the files a customer sent are read from it)."""
        return await self._inbox.get(message_id)

    async def history(self, sender_id: str, limit: int) -> list[tuple[str, list[dict[str, Any]]]]:
        """A conversation's last answered messages (as stored: redacted) and their replies, oldest first."""
        return await self._inbox.history(sender_id, limit)

    async def retry_pending(self, batch_size: int = 500) -> int:
        """Answer what was stored while the engine was down; return how many were answered."""
        return await self.scheduler.retry_pending(batch_size)

    async def drain(self) -> None:
        """Wait for background answers and deliver what the outbox holds (shutdown and tests)."""
        await self.scheduler.drain()
        await self.outbox.deliver_due()
