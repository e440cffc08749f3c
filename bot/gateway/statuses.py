"""Delivery statuses a provider reports for the texts we sent (Twilio's status callbacks)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import in_store
from bot.store.models import DeliveryStatus


class DeliveryStatuses:
    """Records the latest status of each outbound message, by the provider's message id."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    async def record(self, message_sid: str, status: str, error_code: str | None) -> None:
        """Keep the provider's latest delivery status of an outbound message."""

        def run() -> None:
            with self._sessions.begin() as session:
                session.merge(
                    DeliveryStatus(
                        message_sid=message_sid,
                        status=status,
                        error_code=error_code,
                        updated_at=datetime.now(UTC),
                    )
                )

        await in_store(self._sessions, run)
