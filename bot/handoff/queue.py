"""The hand-off queue in the store: open, take (one agent only), reply, resolve, and what agents may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, tuple_, update
from sqlalchemy.orm import Session, sessionmaker

from bot.store.db import in_store, utc_or_none
from bot.store.models import Account, Contact, Contract, Handoff, HandoffMessage, User

ACTIVE = ("queued", "assigned")


def now() -> datetime:
    """The current time (UTC, aware)."""
    return datetime.now(UTC)


@dataclass(frozen=True)
class ContractSummary:
    """What an agent may see of one of the customer's contracts."""

    number: str
    status: str
    software_plan: str


@dataclass(frozen=True)
class CustomerContext:
    """What an agent may see of a customer: name, e-mail and profile, account name, contracts' status and
    plan (no amounts, invoices or cards)."""

    name: str | None = None
    email: str | None = None
    profile: str | None = None
    account_name: str | None = None
    contracts: tuple[ContractSummary, ...] = ()


@dataclass(frozen=True)
class HandoffView:
    """A hand-off as the gateway and the console see it."""

    id: int
    sender_id: str
    channel: str
    reply_to: str | None
    user_id: int | None
    reason: str
    status: str
    agent_id: int | None
    created_at: datetime
    assigned_at: datetime | None
    agent_seen_at: datetime | None
    resolved_at: datetime | None
    announced_position: int | None = None

    def is_stale(self, at: datetime, stale_after: timedelta) -> bool:
        """Assigned, but its agent has not been seen for longer than the timeout."""
        seen = self.agent_seen_at or self.assigned_at
        return self.status == "assigned" and seen is not None and at - seen > stale_after


def _view(row: Handoff) -> HandoffView:
    created = utc_or_none(row.created_at)
    assert created is not None
    return HandoffView(
        row.id,
        row.sender_id,
        row.channel,
        row.reply_to,
        row.user_id,
        row.reason,
        row.status,
        row.agent_id,
        created,
        utc_or_none(row.assigned_at),
        utc_or_none(row.agent_seen_at),
        utc_or_none(row.resolved_at),
        row.announced_position,
    )


def _message(row: HandoffMessage) -> dict[str, Any]:
    created = utc_or_none(row.created_at)
    message: dict[str, Any] = {
        "id": row.id,
        "role": row.role,
        "text": row.text,
        "created_at": created.isoformat() if created else None,
    }
    if row.media:
        message["media"] = list(row.media)
    return message


class HandoffQueue:
    """Store operations on hand-offs, run in a worker thread."""

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @property
    def sessions(self) -> sessionmaker[Session]:
        """The store it works on (the satisfaction survey works on it too)."""
        return self._sessions

    async def active_for(self, sender_id: str) -> HandoffView | None:
        """The sender's queued or assigned hand-off."""

        def run() -> HandoffView | None:
            with self._sessions() as session:
                row = session.scalars(
                    select(Handoff).where(Handoff.sender_id == sender_id, Handoff.status.in_(ACTIVE))
                ).first()
                return None if row is None else _view(row)

        return await in_store(self._sessions, run)

    async def open(
        self,
        sender_id: str,
        channel: str,
        reply_to: str | None,
        user_id: int | None,
        reason: str,
        transcript: list[tuple[str, str]],
    ) -> tuple[HandoffView, bool]:
        """Queue a hand-off with the transcript so far; an active one for the sender is reused.

        A new hand-off's queue position is computed and recorded as announced in the same transaction (the
        caller tells the customer), so no replica announces it a second time."""

        def run() -> tuple[HandoffView, bool]:
            with self._sessions.begin() as session:
                existing = session.scalars(
                    select(Handoff).where(Handoff.sender_id == sender_id, Handoff.status.in_(ACTIVE))
                ).first()
                if existing is not None:
                    return _view(existing), False
                row = Handoff(
                    sender_id=sender_id,
                    channel=channel,
                    reply_to=reply_to,
                    user_id=user_id,
                    reason=reason,
                    status="queued",
                    created_at=now(),
                )
                session.add(row)
                session.flush()
                row.announced_position = session.scalar(
                    select(func.count())
                    .select_from(Handoff)
                    .where(Handoff.status == "queued", Handoff.id <= row.id)
                )
                session.add_all(
                    HandoffMessage(handoff_id=row.id, role=role, text=text, created_at=now())
                    for role, text in transcript
                )
                return _view(row), True

        return await in_store(self._sessions, run)

    async def add_message(
        self, handoff_id: int, role: str, text: str, media: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Append a line (and the files it carried) to the transcript."""

        def run() -> dict[str, Any]:
            with self._sessions.begin() as session:
                row = HandoffMessage(
                    handoff_id=handoff_id, role=role, text=text, created_at=now(), media=media or None
                )
                session.add(row)
                session.flush()
                return _message(row)

        return await in_store(self._sessions, run)

    async def get(self, handoff_id: int) -> HandoffView | None:
        """A hand-off by id."""

        def run() -> HandoffView | None:
            with self._sessions() as session:
                row = session.get(Handoff, handoff_id)
                return None if row is None else _view(row)

        return await in_store(self._sessions, run)

    async def messages(self, handoff_id: int, after: int = 0) -> list[dict[str, Any]]:
        """The transcript, oldest first."""

        def run() -> list[dict[str, Any]]:
            with self._sessions() as session:
                rows = session.scalars(
                    select(HandoffMessage)
                    .where(HandoffMessage.handoff_id == handoff_id, HandoffMessage.id > after)
                    .order_by(HandoffMessage.id)
                )
                return [_message(r) for r in rows]

        return await in_store(self._sessions, run)

    async def active(self) -> list[HandoffView]:
        """Queued and assigned hand-offs, oldest first."""

        def run() -> list[HandoffView]:
            with self._sessions() as session:
                rows = session.scalars(select(Handoff).where(Handoff.status.in_(ACTIVE)).order_by(Handoff.id))
                return [_view(r) for r in rows]

        return await in_store(self._sessions, run)

    async def take(self, handoff_id: int, agent_id: int, stale_after: timedelta) -> bool:
        """Assign to this agent if queued, or assigned to an agent idle past the timeout. One winner only."""

        def run() -> bool:
            moment = now()
            with self._sessions.begin() as session:
                result = session.execute(
                    update(Handoff)
                    .where(
                        Handoff.id == handoff_id,
                        or_(
                            Handoff.status == "queued",
                            (Handoff.status == "assigned") & (Handoff.agent_seen_at < moment - stale_after),
                        ),
                    )
                    .values(status="assigned", agent_id=agent_id, assigned_at=moment, agent_seen_at=moment)
                    .execution_options(synchronize_session=False)
                )
                return bool(result.rowcount == 1)  # type: ignore[attr-defined]

        return await in_store(self._sessions, run)

    async def announce(self, handoff_id: int, position: int) -> bool:
        """Record that the customer is told this position; False when it was already told (by any replica)
        or the hand-off is no longer queued."""

        def run() -> bool:
            with self._sessions.begin() as session:
                result = session.execute(
                    update(Handoff)
                    .where(
                        Handoff.id == handoff_id,
                        Handoff.status == "queued",
                        or_(Handoff.announced_position.is_(None), Handoff.announced_position != position),
                    )
                    .values(announced_position=position)
                    .execution_options(synchronize_session=False)
                )
                return bool(result.rowcount == 1)  # type: ignore[attr-defined]

        return await in_store(self._sessions, run)

    async def seen(self, agent_id: int) -> None:
        """The agent's console is alive: keep their conversations theirs."""

        def run() -> None:
            with self._sessions.begin() as session:
                session.execute(
                    update(Handoff)
                    .where(Handoff.agent_id == agent_id, Handoff.status == "assigned")
                    .values(agent_seen_at=now())
                    .execution_options(synchronize_session=False)
                )

        await in_store(self._sessions, run)

    async def resolve(self, handoff_id: int, agent_id: int) -> HandoffView | None:
        """Close a hand-off assigned to this agent; None when it is not theirs (or not open)."""

        def run() -> HandoffView | None:
            with self._sessions.begin() as session:
                result = session.execute(
                    update(Handoff)
                    .where(
                        Handoff.id == handoff_id, Handoff.status == "assigned", Handoff.agent_id == agent_id
                    )
                    .values(status="resolved", resolved_at=now())
                    .execution_options(synchronize_session=False)
                )
                if result.rowcount != 1:  # type: ignore[attr-defined]
                    return None
                row = session.get(Handoff, handoff_id)
                return None if row is None else _view(row)

        return await in_store(self._sessions, run)

    async def withdraw(self, sender_id: str) -> HandoffView | None:
        """Close the sender's open hand-off, whoever has it (the customer asked not to be written to)."""

        def run() -> HandoffView | None:
            with self._sessions.begin() as session:
                row = session.scalars(
                    select(Handoff).where(Handoff.sender_id == sender_id, Handoff.status.in_(ACTIVE))
                ).first()
                if row is None:
                    return None
                row.status, row.resolved_at = "resolved", now()
                session.flush()
                return _view(row)

        return await in_store(self._sessions, run)

    async def message(self, message_id: int) -> tuple[int, dict[str, Any]] | None:
        """One transcript line and its hand-off's id."""

        def run() -> tuple[int, dict[str, Any]] | None:
            with self._sessions() as session:
                row = session.get(HandoffMessage, message_id)
                return None if row is None else (row.handoff_id, _message(row))

        return await in_store(self._sessions, run)

    async def profiles(self, addresses: set[tuple[str, str]]) -> dict[tuple[str, str], str | None]:
        """The name each (channel, address) showed for itself (WhatsApp's profile name), if known."""

        def run() -> dict[tuple[str, str], str | None]:
            if not addresses:
                return {}
            with self._sessions() as session:
                rows = session.scalars(
                    select(Contact).where(tuple_(Contact.channel, Contact.address).in_(sorted(addresses)))
                )
                return {(row.channel, row.address): row.profile_name for row in rows}

        return await in_store(self._sessions, run)

    async def names(self, user_ids: set[int]) -> dict[int, str]:
        """Display names of users (customers and agents)."""

        def run() -> dict[int, str]:
            if not user_ids:
                return {}
            with self._sessions() as session:
                return {u.id: u.name for u in session.scalars(select(User).where(User.id.in_(user_ids)))}

        return await in_store(self._sessions, run)

    async def customer_context(self, user_id: int | None) -> CustomerContext:
        """What an agent may see of the customer (nothing for an anonymous one)."""

        def run() -> CustomerContext:
            if user_id is None:
                return CustomerContext()
            with self._sessions() as session:
                user = session.get(User, user_id)
                if user is None:
                    return CustomerContext()
                account = session.get(Account, user.account_id)
                contracts = session.scalars(
                    select(Contract).where(Contract.account_id == user.account_id).order_by(Contract.number)
                )
                return CustomerContext(
                    user.name,
                    user.email,
                    user.profile,
                    None if account is None else account.name,
                    tuple(ContractSummary(c.number, c.status, c.software_plan) for c in contracts),
                )

        return await in_store(self._sessions, run)
