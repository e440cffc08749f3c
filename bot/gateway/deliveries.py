"""What the console shows of texts sent on channels that deliver later: each agent message's delivery
(sent, delivered, read, failed, waiting for the window…), the assistant's last answer's, and the failures."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import in_store
from bot.store.models import OutboundMessage

# How far each state is from the customer's screen: a message in parts shows its least advanced part.
_PROGRESS = {
    "failed": 0,
    "suppressed": 1,
    "held": 2,
    "pending": 3,
    "queued": 4,
    "accepted": 4,
    "sending": 4,
    "sent": 5,
    "delivered": 6,
    "read": 7,
}
FAILED_DELIVERY = ("failed", "undelivered", "canceled")


@dataclass(frozen=True)
class DeliveryView:
    """A text's (or a message's parts') state for the console: `state` is one of pending, held (waits for
    the customer's window), suppressed (they opted out), failed, sent, delivered, read."""

    state: str
    error_code: str | None = None
    error: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {"state": self.state, "error_code": self.error_code, "error": self.error}


def _state(row: OutboundMessage) -> str:
    if row.status != "sent":
        return row.status
    if row.delivery in FAILED_DELIVERY:
        return "failed"
    return row.delivery if row.delivery in _PROGRESS else "sent"


def _summary(rows: list[OutboundMessage]) -> DeliveryView:
    worst = min(rows, key=lambda row: _PROGRESS.get(_state(row), 3))
    return DeliveryView(_state(worst), worst.error_code, worst.last_error)


class Deliveries:
    """Reads of the outbox for the console, in the store's worker thread."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    async def of_messages(self, message_ids: list[int]) -> dict[int, DeliveryView]:
        """The delivery of each transcript line that went out as texts, by the line's id."""

        def run() -> dict[int, DeliveryView]:
            if not message_ids:
                return {}
            with self._sessions() as session:
                query = select(OutboundMessage).where(OutboundMessage.handoff_message_id.in_(message_ids))
                parts: dict[int, list[OutboundMessage]] = defaultdict(list)
                for row in session.scalars(query.order_by(OutboundMessage.id)):
                    parts[row.handoff_message_id or 0].append(row)
                return {message_id: _summary(rows) for message_id, rows in parts.items()}

        return await in_store(self._sessions, run)

    async def last_answer(self, channel: str, recipient: str) -> DeliveryView | None:
        """The delivery of the assistant's last answer to the recipient (all its parts)."""

        def run() -> DeliveryView | None:
            with self._sessions() as session:
                last = session.scalar(
                    select(func.max(OutboundMessage.inbound_id)).where(
                        OutboundMessage.channel == channel,
                        OutboundMessage.recipient == recipient,
                        OutboundMessage.inbound_id.is_not(None),
                    )
                )
                if last is None:
                    return None
                rows = list(
                    session.scalars(
                        select(OutboundMessage).where(
                            OutboundMessage.inbound_id == last, OutboundMessage.recipient == recipient
                        )
                    )
                )
                return _summary(rows) if rows else None

        return await in_store(self._sessions, run)

    async def failed_since(self, hours: float = 24.0) -> int:
        """Texts that could not be delivered in the last hours (refused, out of retries, or failed later)."""

        def run() -> int:
            since = datetime.now(UTC) - timedelta(hours=hours)
            with self._sessions() as session:
                query = (
                    select(func.count())
                    .select_from(OutboundMessage)
                    .where(
                        OutboundMessage.created_at >= since,
                        (OutboundMessage.status == "failed") | OutboundMessage.delivery.in_(FAILED_DELIVERY),
                    )
                )
                return int(session.scalar(query) or 0)

        return await in_store(self._sessions, run)
