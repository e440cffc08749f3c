"""The outbox: texts for the channels that answer later (WhatsApp) are stored first, then sent in order by
their channel's provider, with retries and backoff.

A provider outage or timeout loses nothing: the row stays pending and is retried (1 s, 2 s, 4 s … up to a
minute apart). A recipient's texts go out strictly in order: while the oldest is failing, the later
ones wait. Each row is claimed with a lease, so two gateway replicas never send the same row.

Never twice: a provider's API may take no idempotency key (Twilio's does not), so a send whose outcome is
unknown (a timeout, a crash or a store failure after the provider accepted it) leaves the row marked in
flight, and before the row is sent again the provider is asked whether it already holds that message.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway.outbound import Provider, Refused
from bot.store.db import in_store
from bot.store.models import OutboundMessage

log = logging.getLogger("bot.gateway.outbox")


class NoProvider(Exception):
    """A text of a channel this gateway does not deliver (its row waits for a replica that does)."""


# Clock difference allowed between us and the provider when matching an uncertain send.
CLOCK_SKEW = timedelta(seconds=120)


def _now() -> datetime:
    return datetime.now(UTC)


def _utc(moment: datetime) -> datetime:
    # SQLite returns naive datetimes for timezone-aware columns.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _aware(moment: datetime | None) -> datetime | None:
    return None if moment is None else _utc(moment)


def backoff(attempts: int, ceiling: float = 60.0) -> float:
    """Seconds before the next try after `attempts` failures: 1, 2, 4 … capped."""
    return float(min(ceiling, 2 ** max(0, attempts - 1)))


Pending = tuple[int, str, str, str, datetime, datetime | None]


def pending_rows(session: Session, channel: str | None = None, recipient: str | None = None) -> list[Pending]:
    """Texts waiting to go out (id, channel, recipient, body, due, leased until), oldest first; one
    recipient's on one channel when given."""
    query = (
        select(
            OutboundMessage.id,
            OutboundMessage.channel,
            OutboundMessage.recipient,
            OutboundMessage.body,
            OutboundMessage.next_attempt_at,
            OutboundMessage.claimed_until,
        )
        .where(OutboundMessage.status == "pending")
        .order_by(OutboundMessage.id)
        .limit(1000)
    )
    if channel is not None and recipient is not None:
        query = query.where(OutboundMessage.channel == channel, OutboundMessage.recipient == recipient)
    return [(r[0], r[1], r[2], r[3], _utc(r[4]), _aware(r[5])) for r in session.execute(query)]


class Queued(NamedTuple):
    """A text waiting in the outbox; `claimed`: leased to the replica that just queued it (it was the
    recipient's only text waiting, so that replica sends it without another trip to claim it)."""

    id: int
    body: str
    due: datetime
    claimed: bool = False


def queue_texts(
    session: Session, channel: str, to: str, bodies: list[str], claim: tuple[str, timedelta] | None = None
) -> list[Queued]:
    """Add texts for a recipient on a channel to the outbox in this transaction, due now; return the
    recipient's queue then, oldest first. With `claim` (owner, lease) and nothing older waiting, the new
    texts are leased to that owner and marked in flight at once, as `Outbox.deliver` would before sending
    them."""
    moment = _now()
    waiting = [Queued(row_id, body, due) for row_id, _, _, body, due, _ in pending_rows(session, channel, to)]
    leased = claim is not None and not waiting
    rows = [
        OutboundMessage(
            channel=channel,
            recipient=to,
            body=body,
            status="pending",
            attempts=0,
            next_attempt_at=moment,
            created_at=moment,
            claimed_by=claim[0] if leased and claim else None,
            claimed_until=moment + claim[1] if leased and claim else None,
            in_flight_since=moment if leased else None,
        )
        for body in bodies
    ]
    session.add_all(rows)
    session.flush()
    return [*waiting, *(Queued(row.id, row.body, moment, leased) for row in rows)]


class Outbox:
    """Stores texts to send and delivers them through their channel's provider."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        providers: Mapping[str, Provider],
        owner: str,
        lease_seconds: float = 30.0,
        concurrency: int = 20,
    ) -> None:
        self._sessions = sessions
        self._providers = providers
        self._owner = owner
        self._lease = timedelta(seconds=lease_seconds)
        # The row operations, each one transaction, run in the store's worker thread.
        self.rows = OutboxRows(sessions, owner, self._lease)
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()

    def queue(self, session: Session, channel: str, to: str, bodies: list[str]) -> list[Queued]:
        """`queue_texts` with this replica's lease: what it queues first in line, it sends unclaimed."""
        return queue_texts(session, channel, to, bodies, (self._owner, self._lease))

    async def send(self, channel: str, to: str, bodies: list[str]) -> None:
        """Store texts, then try to deliver the recipient's pending texts now; failures are retried later."""

        def run() -> list[Queued]:
            with self._sessions.begin() as session:
                return self.queue(session, channel, to, bodies)

        await self.deliver(channel, to, await in_store(self._sessions, run))

    async def run_forever(self, idle_seconds: float = 1.0) -> None:
        """Deliver whenever texts are queued, and retry failed ones when they are due."""
        while True:
            self._wake.clear()
            try:
                await self.deliver_due()
            except Exception:
                log.exception("outbox delivery round failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=idle_seconds)

    async def deliver_due(self) -> int:
        """One round: each recipient's pending texts, in order, until one fails; return how many went out.
        Recipients whose oldest text is not due, or who have a text leased (being sent right now, by this
        replica or another), are left alone: trying them would only cost a store trip to find that out,
        and under load such futile trips crowd out the deliveries that can go."""
        now = _now()
        queues: dict[tuple[str, str], list[Queued]] = defaultdict(list)
        busy: set[tuple[str, str]] = set()
        for row_id, channel, recipient, body, due, leased_until in await in_store(
            self._sessions, self.rows.pending
        ):
            if leased_until is not None and leased_until > now:
                busy.add((channel, recipient))
            queues[channel, recipient].append(Queued(row_id, body, due))
        ready = {key: rows for key, rows in queues.items() if key not in busy and rows[0].due <= now}
        counts = await asyncio.gather(*(self.deliver(*key, rows) for key, rows in ready.items()))
        return sum(counts)

    async def deliver(self, channel: str, recipient: str, rows: list[Queued]) -> int:
        """Deliver a recipient's pending texts just read from the store, in order, until one is not due or
        fails; return how many went out. What went out is recorded in one trip once the run ends (a text
        sent but not yet recorded stays in flight: it is checked with the provider, never resent blind)."""
        sent: list[tuple[int, str]] = []
        failed: tuple[int, str, bool] | None = None
        untried: list[int] = []
        async with self._limit:
            rows = await self._still_ours(rows)
            for index, (row_id, body, due, claimed) in enumerate(rows):
                if due > _now():
                    break  # the oldest is not due: keep the order
                uncertain_since = None
                if not claimed:
                    claimed, uncertain_since = await in_store(self._sessions, self.rows.claim, row_id)
                    if not claimed:
                        break  # another replica is on it (or it went out meanwhile)
                try:
                    sent.append(
                        (row_id, await self._send_once(row_id, channel, recipient, body, uncertain_since))
                    )
                except Exception as error:
                    failed = (row_id, str(error)[:255], isinstance(error, Refused))
                    # Texts leased when queued behind it were never tried: free now, they follow it.
                    untried = [later.id for later in rows[index + 1 :] if later.claimed]
                    log.warning("outbound message %s failed (%s); will retry", row_id, type(error).__name__)
                    break
            if sent or failed:
                try:
                    await in_store(self._sessions, self.rows.record, sent, failed, untried)
                except Exception:
                    # Still marked in flight: whoever claims them after the lease asks the provider first.
                    log.warning("outbound messages %s: outcome not recorded; they will be checked", sent)
                    return 0
        return len(sent)

    async def _send_once(
        self, row_id: int, channel: str, recipient: str, body: str, uncertain_since: datetime | None
    ) -> str:
        """Send the row, unless an earlier attempt whose outcome is unknown did reach the provider."""
        provider = self._providers.get(channel)
        if provider is None:
            raise NoProvider(f"no provider delivers the channel {channel!r} on this gateway")
        if uncertain_since is not None:
            known = await in_store(self._sessions, self.rows.provider_ids, channel, recipient)
            found = await provider.find(recipient, body, uncertain_since - CLOCK_SKEW, known)
            if found is not None:
                log.info("outbound message %s had been accepted (%s): not sent again", row_id, found)
                return found
        return await provider.send(recipient, body)

    async def _still_ours(self, rows: list[Queued]) -> list[Queued]:
        """Texts leased when they were queued may have waited for a delivery slot longer than a good part of
        their lease: renew it before sending, and drop the recipient's run at the first text whose lease
        ended and went to another replica (it sends them; sending here too would send them twice)."""
        held = [row.id for row in rows if row.claimed]
        if not held or min(row.due for row in rows if row.claimed) > _now() - self._lease / 3:
            return rows
        renewed = await in_store(self._sessions, self.rows.renew, held)
        kept: list[Queued] = []
        for row in rows:
            if row.claimed and row.id not in renewed:
                break
            kept.append(row)
        return kept

    async def stats(self) -> dict[str, Any]:
        """Counts by status (diagnostics, soak reports)."""
        return await in_store(self._sessions, self.rows.stats)


class OutboxRows:
    """The outbox's rows: pending texts, leases, what went out and what failed."""

    def __init__(self, sessions: sessionmaker[Session], owner: str, lease: timedelta) -> None:
        self._sessions = sessions
        self._owner = owner
        self._lease = lease

    def pending(self) -> list[Pending]:
        """Every text waiting to go out, oldest first."""
        with self._sessions() as session:
            return pending_rows(session)

    def renew(self, row_ids: list[int]) -> set[int]:
        """Extend this replica's lease on rows it still holds (pending, claimed by it); return their ids."""
        moment = _now()
        with self._sessions.begin() as session:
            session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id.in_(row_ids),
                    OutboundMessage.status == "pending",
                    OutboundMessage.claimed_by == self._owner,
                    or_(OutboundMessage.claimed_until.is_(None), OutboundMessage.claimed_until >= moment),
                )
                .values(claimed_until=moment + self._lease)
                .execution_options(synchronize_session=False)
            )
            query = select(OutboundMessage.id).where(
                OutboundMessage.id.in_(row_ids),
                OutboundMessage.claimed_by == self._owner,
                OutboundMessage.claimed_until > moment,
            )
            return set(session.scalars(query))

    def claim(self, row_id: int) -> tuple[bool, datetime | None]:
        """Lease the row and mark it in flight; return whether it was claimed and, when an earlier send
        may have been accepted, since when."""
        moment = _now()
        with self._sessions.begin() as session:
            previous = session.scalar(
                select(OutboundMessage.in_flight_since).where(OutboundMessage.id == row_id)
            )
            result = session.execute(
                update(OutboundMessage)
                .where(
                    OutboundMessage.id == row_id,
                    OutboundMessage.status == "pending",
                    or_(OutboundMessage.claimed_until.is_(None), OutboundMessage.claimed_until < moment),
                )
                .values(
                    claimed_by=self._owner,
                    claimed_until=moment + self._lease,
                    in_flight_since=previous or moment,
                )
                .execution_options(synchronize_session=False)
            )
            claimed = bool(result.rowcount == 1)  # type: ignore[attr-defined]
            return claimed, _aware(previous) if claimed else None

    def provider_ids(self, channel: str, recipient: str) -> set[str]:
        """Provider ids already recorded for the recipient (an identical earlier text is not this one)."""
        query = select(OutboundMessage.provider_id).where(
            OutboundMessage.channel == channel,
            OutboundMessage.recipient == recipient,
            OutboundMessage.provider_id.is_not(None),
        )
        with self._sessions() as session:
            return {provider_id for provider_id in session.scalars(query) if provider_id}

    def record(
        self, sent: list[tuple[int, str]], failed: tuple[int, str, bool] | None, untried: list[int]
    ) -> None:
        """Mark texts sent (with the provider's ids) and the one that failed after them, and end the lease
        of texts leased when queued but not tried (nothing went out), in one trip."""
        moment = _now()
        with self._sessions.begin() as session:
            if untried:
                session.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.id.in_(untried), OutboundMessage.claimed_by == self._owner)
                    .values(claimed_until=None, in_flight_since=None)
                    .execution_options(synchronize_session=False)
                )
            for row_id, provider_id in sent:
                session.execute(
                    update(OutboundMessage)
                    .where(OutboundMessage.id == row_id)
                    .values(
                        status="sent",
                        sent_at=moment,
                        claimed_until=None,
                        provider_id=provider_id[:64],
                        in_flight_since=None,
                    )
                    .execution_options(synchronize_session=False)
                )
            if failed is not None:
                row_id, error, refused = failed
                row = session.get(OutboundMessage, row_id)
                if row is not None:
                    row.attempts += 1
                    row.last_error = error
                    row.next_attempt_at = moment + timedelta(seconds=backoff(row.attempts))
                    row.claimed_until = None
                    if refused:  # the provider said no: nothing went out, the next try sends without asking
                        row.in_flight_since = None

    def stats(self) -> dict[str, Any]:
        """Counts by status."""
        with self._sessions() as session:
            rows = session.execute(select(OutboundMessage.status, OutboundMessage.attempts))
            counts: dict[str, Any] = {"pending": 0, "sent": 0, "retried": 0}
            for status, attempts in rows:
                counts[status] += 1
                counts["retried"] += 1 if attempts else 0
            return counts
