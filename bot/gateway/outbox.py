"""The outbox: texts for the channels that answer later (WhatsApp) are stored first, then sent in order by
their channel's provider, with retries and backoff.

A provider outage or timeout loses nothing: the row stays pending and is retried (1 s, 2 s, 4 s … up to a
minute apart, at most `max_attempts` times, then it is `failed`). A recipient's texts go out in order: while
the oldest is being retried, the later ones wait. A text the provider refuses is `failed` at once, with the
provider's code, and the ones after it still go. Each row is claimed with a lease, so two gateway replicas
never send the same row.

Never twice: a provider's API may take no idempotency key (Twilio's does not), so a send whose outcome is
unknown (a timeout, a crash or a store failure after the provider accepted it) leaves the row marked in
flight, and before the row is sent again the provider is asked whether it already holds that message.

Rules of the channel, checked before every send: a recipient who opted out gets nothing but the
confirmation of it (`suppressed`); past the provider's service window (WhatsApp: 24 hours after the
recipient's last message) answers and agents' texts are `held` until the recipient writes again, after one
template that invites them to (when the provider has one), and stale notices are dropped (`failed`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from bot.gateway.metrics import GatewayMetrics
from bot.gateway.outbound import (
    CONFIRM,
    REOPEN,
    WORTH_REOPENING,
    Draft,
    OutboundText,
    Provider,
    Refused,
)
from bot.store.db import in_store, utc, utc_or_none
from bot.store.models import Contact, OutboundMessage
from bot.store.tables import (
    CONTACTS,
    DELIVERY_STATUSES,
    HANDOFF_MESSAGES,
    HANDOFFS,
    OUTBOUND,
    AnyRow,
)

log = logging.getLogger("bot.gateway.outbox")


class NoProvider(Exception):
    """A text of a channel this gateway does not deliver (its row waits for a replica that does)."""


# Clock difference allowed between us and the provider when matching an uncertain send.
CLOCK_SKEW = timedelta(seconds=120)
# A window closing this soon is treated as closed: a text sent now could arrive after it.
WINDOW_MARGIN = timedelta(seconds=60)
# Why a text past the recipient's window was not sent (no provider code: our own rule said so).
WINDOW_REASON = "outside the service window"
# The body kept (and shown to agents) for the template that reopens a closed window.
REOPEN_BODY = "[Plantilla] Invitación a retomar la conversación"
# Delivery statuses a provider reports, in the order they happen: a late callback never moves one back.
DELIVERY_RANK = {
    "accepted": 0,
    "queued": 0,
    "scheduled": 0,
    "sending": 1,
    "sent": 2,
    "delivered": 3,
    "read": 4,
    "failed": 5,
    "undelivered": 5,
    "canceled": 5,
}
FAILED_DELIVERY = ("failed", "undelivered", "canceled")


def _now() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int, ceiling: float = 60.0) -> float:
    """Seconds before the next try after `attempts` failures: 1, 2, 4 … capped."""
    return float(min(ceiling, 2 ** max(0, attempts - 1)))


@dataclass(frozen=True)
class Queued:
    """A text waiting in the outbox, with what its recipient's contact says; `claimed`: leased to the
    replica that just queued it (it was the recipient's only text waiting, so that replica sends it without
    another trip to claim it)."""

    id: int
    body: str
    due: datetime
    claimed: bool = False
    purpose: str = "answer"
    content: dict[str, Any] | None = None
    media_url: str | None = None
    leased_until: datetime | None = None
    # The recipient's contact: when they last wrote, and whether they opted out.
    last_inbound: datetime | None = None
    opted_out: bool = False


@dataclass(frozen=True)
class Pending:
    """A pending row as a delivery round reads it."""

    channel: str
    recipient: str
    text: Queued


# The statements of every answer's trip, built once: building a statement costs the store thread more than
# SQLite takes to run it. Parameters are named apart from the columns an UPDATE sets from its own keys.
_PENDING = (
    select(
        OUTBOUND.c.id,
        OUTBOUND.c.channel,
        OUTBOUND.c.recipient,
        OUTBOUND.c.body,
        OUTBOUND.c.next_attempt_at,
        OUTBOUND.c.claimed_until,
        OUTBOUND.c.purpose,
        OUTBOUND.c.content,
        OUTBOUND.c.media_url,
        CONTACTS.c.last_inbound_at,
        CONTACTS.c.opted_out_at,
    )
    .select_from(
        OUTBOUND.outerjoin(
            CONTACTS,
            and_(CONTACTS.c.channel == OUTBOUND.c.channel, CONTACTS.c.address == OUTBOUND.c.recipient),
        )
    )
    .where(OUTBOUND.c.status == "pending")
    .order_by(OUTBOUND.c.id)
    .limit(1000)
)
_PENDING_FOR = _PENDING.where(
    OUTBOUND.c.channel == bindparam("by_channel"), OUTBOUND.c.recipient == bindparam("by_recipient")
)
_CONTACT = select(CONTACTS.c.last_inbound_at, CONTACTS.c.opted_out_at).where(
    CONTACTS.c.channel == bindparam("by_channel"), CONTACTS.c.address == bindparam("by_recipient")
)
_INSERT = insert(OUTBOUND).returning(OUTBOUND.c.id, sort_by_parameter_order=True)
_CHANGE = update(OUTBOUND).where(OUTBOUND.c.id == bindparam("row_id"))
_REPORTED = select(
    DELIVERY_STATUSES.c.message_sid,
    DELIVERY_STATUSES.c.status,
    DELIVERY_STATUSES.c.error_code,
    DELIVERY_STATUSES.c.updated_at,
).where(DELIVERY_STATUSES.c.message_sid.in_(bindparam("sids", expanding=True)))


# A status callback's statements.
_STATUS_OF = select(DELIVERY_STATUSES.c.status).where(DELIVERY_STATUSES.c.message_sid == bindparam("sid"))
_NEW_STATUS = insert(DELIVERY_STATUSES)
_CHANGE_STATUS = update(DELIVERY_STATUSES).where(DELIVERY_STATUSES.c.message_sid == bindparam("sid"))
_SENT_AS = (
    select(
        OUTBOUND.c.id,
        OUTBOUND.c.channel,
        OUTBOUND.c.recipient,
        OUTBOUND.c.purpose,
        OUTBOUND.c.status,
        OUTBOUND.c.handoff_message_id,
        OUTBOUND.c.delivery,
        OUTBOUND.c.error_code,
    )
    .where(OUTBOUND.c.provider_id == bindparam("sid"))
    .limit(1)
)
_HANDOFF_OF_LINE = select(HANDOFF_MESSAGES.c.handoff_id).where(HANDOFF_MESSAGES.c.id == bindparam("line"))
_LATEST_HANDOFF = (
    select(HANDOFFS.c.id)
    .where(HANDOFFS.c.channel == bindparam("by_channel"), HANDOFFS.c.reply_to == bindparam("by_recipient"))
    .order_by(HANDOFFS.c.id.desc())
    .limit(1)
)


def pending_rows(session: Session, channel: str | None = None, recipient: str | None = None) -> list[Pending]:
    """Texts waiting to go out, oldest first (at most 1,000); one recipient's on one channel when given."""
    if channel is not None and recipient is not None:
        found = session.execute(_PENDING_FOR, {"by_channel": channel, "by_recipient": recipient})
    else:
        found = session.execute(_PENDING)
    return [
        Pending(
            r[1],
            r[2],
            Queued(
                r[0],
                r[3],
                utc(r[4]),
                purpose=r[6],
                content=r[7],
                media_url=r[8],
                leased_until=utc_or_none(r[5]),
                last_inbound=utc_or_none(r[9]),
                opted_out=r[10] is not None,
            ),
        )
        for r in found
    ]


def _draft(item: Draft | str) -> Draft:
    return item if isinstance(item, Draft) else Draft(item)


def queue_texts(
    session: Session,
    channel: str,
    to: str,
    drafts: Sequence[Draft | str],
    claim: tuple[str, timedelta] | None = None,
) -> list[Queued]:
    """Add texts for a recipient on a channel to the outbox in this transaction, due now; return the
    recipient's queue then, oldest first. With `claim` (owner, lease) and nothing older waiting, the new
    texts are leased to that owner and marked in flight at once, as `Outbox.deliver` would before sending
    them."""
    moment = _now()
    waiting = [pending.text for pending in pending_rows(session, channel, to)]
    if waiting:
        last_inbound, opted_out = waiting[0].last_inbound, waiting[0].opted_out
    else:
        contact = session.execute(_CONTACT, {"by_channel": channel, "by_recipient": to}).first()
        last_inbound = None if contact is None else utc_or_none(contact.last_inbound_at)
        opted_out = contact is not None and contact.opted_out_at is not None
    items = [_draft(item) for item in drafts]
    if not items:
        return waiting
    leased = claim is not None and not waiting
    rows = [
        {
            "channel": channel,
            "recipient": to,
            "body": draft.body,
            "purpose": draft.purpose,
            "content": draft.content,
            "media_url": draft.media_url,
            "inbound_id": draft.inbound_id,
            "handoff_message_id": draft.handoff_message_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": moment,
            "created_at": moment,
            "claimed_by": claim[0] if leased and claim else None,
            "claimed_until": moment + claim[1] if leased and claim else None,
            "in_flight_since": moment if leased else None,
        }
        for draft in items
    ]
    ids = session.execute(_INSERT, rows).scalars().all()
    queued = [
        Queued(
            row_id,
            draft.body,
            moment,
            leased,
            draft.purpose,
            draft.content,
            draft.media_url,
            last_inbound=last_inbound,
            opted_out=opted_out,
        )
        for row_id, draft in zip(ids, items, strict=True)
    ]
    return [*waiting, *queued]


@dataclass(frozen=True)
class Outcome:
    """What became of one text in a delivery run."""

    id: int
    status: str  # sent, failed, held, suppressed
    provider_id: str | None = None
    error: str | None = None
    code: str | None = None


class Outbox:
    """Stores texts to send and delivers them through their channel's provider."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        providers: Mapping[str, Provider],
        owner: str,
        lease_seconds: float = 30.0,
        concurrency: int = 20,
        max_attempts: int = 10,
        metrics: GatewayMetrics | None = None,
    ) -> None:
        self._metrics = metrics or GatewayMetrics()
        self._sessions = sessions
        self._providers = providers
        self._owner = owner
        self._lease = timedelta(seconds=lease_seconds)
        # The row operations, each one transaction, run in the store's worker thread.
        self.rows = OutboxRows(sessions, owner, self._lease, max_attempts, providers)
        self._limit = asyncio.Semaphore(concurrency)
        self._wake = asyncio.Event()

    def queue(self, session: Session, channel: str, to: str, drafts: Sequence[Draft | str]) -> list[Queued]:
        """`queue_texts` with this replica's lease: what it queues first in line, it sends unclaimed."""
        return queue_texts(session, channel, to, drafts, (self._owner, self._lease))

    async def send(self, channel: str, to: str, drafts: Sequence[Draft | str]) -> list[int]:
        """Store texts, then try to deliver the recipient's pending texts now (failures are retried later);
        return the new rows' ids."""

        def run() -> list[Queued]:
            with self._sessions.begin() as session:
                return self.queue(session, channel, to, drafts)

        queued = await in_store(self._sessions, run)
        await self.deliver(channel, to, queued)
        return [q.id for q in queued[len(queued) - len(drafts) :]]

    def wake(self) -> None:
        """Texts became deliverable (held ones released): start a round now."""
        self._wake.set()

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
        for pending in await in_store(self._sessions, self.rows.pending):
            key = (pending.channel, pending.recipient)
            leased_until = pending.text.leased_until
            if leased_until is not None and leased_until > now:
                busy.add(key)
            queues[key].append(pending.text)
        ready = {key: rows for key, rows in queues.items() if key not in busy and rows[0].due <= now}
        counts = await asyncio.gather(*(self.deliver(*key, rows) for key, rows in ready.items()))
        return sum(counts)

    async def deliver(self, channel: str, recipient: str, rows: list[Queued]) -> int:
        """Deliver a recipient's pending texts just read from the store, in order, until one is not due or
        must be retried; return how many went out. What became of them is recorded in one trip once the
        run ends (a text sent but not yet recorded stays in flight: it is checked with the provider, never
        resent blind)."""
        provider = self._providers.get(channel)
        outcomes: list[Outcome] = []
        retry: Outcome | None = None
        untried: list[int] = []
        async with self._limit:
            rows = await self._still_ours(rows)
            for index, row in enumerate(rows):
                if row.due > _now() or provider is None:
                    break  # the oldest is not due: keep the order (or another replica delivers it)
                claimed, uncertain_since = row.claimed, None
                if not claimed:
                    claimed, uncertain_since = await in_store(self._sessions, self.rows.claim, row.id)
                    if not claimed:
                        break  # another replica is on it (or it went out meanwhile)
                ruled = self._ruled_out(row, provider)
                if ruled is not None:
                    outcomes.append(ruled)
                    continue
                try:
                    sid = await self._send_once(row, provider, channel, recipient, uncertain_since)
                    outcomes.append(Outcome(row.id, "sent", provider_id=sid))
                except Refused as refusal:
                    outcomes.append(self._refused(row, refusal))
                except Exception as error:
                    retry = Outcome(row.id, "pending", error=f"{type(error).__name__}: {error}"[:255])
                    # Texts leased when queued behind it were never tried: free now, they follow it.
                    untried = [later.id for later in rows[index + 1 :] if later.claimed]
                    log.warning("outbound message %s failed (%s); will retry", row.id, type(error).__name__)
                    break
            if not outcomes and retry is None:
                return 0
            try:
                reopen = await in_store(self._sessions, self.rows.record, outcomes, retry, untried)
            except Exception:
                # Still marked in flight: whoever claims them after the lease asks the provider first.
                log.warning("outbound messages %s: outcome not recorded; they will be checked", outcomes)
                return 0
        sent = sum(1 for outcome in outcomes if outcome.status == "sent")
        self._metrics.sent.labels(channel).inc(sent)
        if reopen is not None:  # the window closed: the template that reopens it goes out now
            await self.deliver(channel, recipient, [reopen])
        return sent

    @staticmethod
    def _ruled_out(row: Queued, provider: Provider) -> Outcome | None:
        """What the channel's rules make of a text before it is sent: None to send it."""
        if row.opted_out and row.purpose != CONFIRM:
            return Outcome(row.id, "suppressed")
        window = provider.window
        if window is None or row.purpose in (REOPEN, CONFIRM) or row.last_inbound is None:
            return None
        if _now() - row.last_inbound < window - WINDOW_MARGIN:
            return None
        return _window_closed(row, None, WINDOW_REASON)

    @staticmethod
    def _refused(row: Queued, refusal: Refused) -> Outcome:
        log.warning("outbound message %s refused: %s", row.id, refusal)
        if refusal.window_closed:
            return _window_closed(row, refusal.code, str(refusal))
        return Outcome(row.id, "failed", error=str(refusal)[:255], code=refusal.code)

    async def _send_once(
        self,
        row: Queued,
        provider: Provider,
        channel: str,
        recipient: str,
        uncertain_since: datetime | None,
    ) -> str:
        """Send the row, unless an earlier attempt whose outcome is unknown did reach the provider."""
        text = OutboundText(recipient, row.body, row.purpose, row.content, row.media_url)
        if uncertain_since is not None:
            known = await in_store(self._sessions, self.rows.provider_ids, channel, recipient)
            found = await provider.find(text, uncertain_since - CLOCK_SKEW, known)
            if found is not None:
                log.info("outbound message %s had been accepted (%s): not sent again", row.id, found)
                return found
        return await provider.send(text)

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

    async def reported(self, provider_id: str, status: str, code: str | None) -> dict[str, Any] | None:
        """A delivery status the provider reported (a status callback): kept by the provider's id, and on
        the text it belongs to. A text that failed because the window had closed waits for the recipient
        (after the template that reopens it). Returns what the console shows of the change, if anything."""
        reported = await in_store(self._sessions, self.rows.reported, provider_id, status, code)
        if reported.reopen is not None:
            channel, recipient, queued = reported.reopen
            await self.deliver(channel, recipient, [queued])
        return reported.event

    async def reopen(self, channel: str, recipient: str, handoff_message_id: int | None = None) -> int | None:
        """Send the template that reopens the recipient's closed window (an agent asked; the transcript
        line that says so shows its delivery); the new row's id, or None when the provider has no template
        or one already went out since the recipient last wrote."""
        queued = await in_store(
            self._sessions, self.rows.queue_reopen, channel, recipient, handoff_message_id
        )
        if queued is None:
            return None
        await self.deliver(channel, recipient, [queued])
        return queued.id

    async def stats(self) -> dict[str, Any]:
        """Counts by status (diagnostics, soak reports)."""
        return await in_store(self._sessions, self.rows.stats)


@dataclass(frozen=True)
class Reported:
    """What a reported status changed: the console's event, and a template to send now."""

    event: dict[str, Any] | None = None
    reopen: tuple[str, str, Queued] | None = None


def _delivery_event(session: Session, row: Mapping[str, Any]) -> dict[str, Any]:
    """A text's delivery as the console hears of it, with the hand-off it belongs to (if any)."""
    handoff_id = None
    if row["handoff_message_id"] is not None:
        handoff_id = session.execute(_HANDOFF_OF_LINE, {"line": row["handoff_message_id"]}).scalar()
    if handoff_id is None:
        to = {"by_channel": row["channel"], "by_recipient": row["recipient"]}
        handoff_id = session.execute(_LATEST_HANDOFF, to).scalar()
    return {
        "handoff_id": handoff_id,
        "outbound_id": row["id"],
        "handoff_message_id": row["handoff_message_id"],
        "purpose": row["purpose"],
        "status": row["status"],
        "delivery": row["delivery"],
        "error_code": row["error_code"],
    }


def _window_closed(row: Queued, code: str | None, error: str) -> Outcome:
    """A text past the recipient's window: answers and agents' texts wait for them; notices are dropped."""
    if row.purpose in WORTH_REOPENING:
        return Outcome(row.id, "held", error=error[:255], code=code)
    return Outcome(row.id, "failed", error=error[:255], code=code)


class OutboxRows:
    """The outbox's rows: pending texts, leases, what went out, failed or waits, and delivery statuses."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        owner: str,
        lease: timedelta,
        max_attempts: int = 10,
        providers: Mapping[str, Provider] | None = None,
    ) -> None:
        self._sessions = sessions
        self._owner = owner
        self._lease = lease
        self._max_attempts = max_attempts
        self._providers = providers or {}

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
            return claimed, utc_or_none(previous) if claimed else None

    def provider_ids(self, channel: str, recipient: str) -> set[str]:
        """Provider ids already recorded for the recipient (an identical earlier text is not this one)."""
        query = select(OutboundMessage.provider_id).where(
            OutboundMessage.channel == channel,
            OutboundMessage.recipient == recipient,
            OutboundMessage.provider_id.is_not(None),
        )
        with self._sessions() as session:
            return {provider_id for provider_id in session.scalars(query) if provider_id}

    def record(self, outcomes: list[Outcome], retry: Outcome | None, untried: list[int]) -> Queued | None:
        """Record a delivery run in one trip: texts sent (with the provider's ids and any status it already
        reported), refused, held or suppressed; the one to retry (or, out of attempts, failed); and free the
        texts leased when queued but not tried. Returns the template that reopens the window when texts
        were held for it and none went out since the recipient last wrote."""
        moment = _now()
        with self._sessions.begin() as session:
            if untried:
                session.execute(
                    update(OUTBOUND)
                    .where(OUTBOUND.c.id.in_(untried), OUTBOUND.c.claimed_by == self._owner)
                    .values(claimed_until=None, in_flight_since=None)
                )
            reported = self._reported_early(session, [o.provider_id for o in outcomes if o.provider_id])
            held: OutboundMessage | None = None
            for outcome in outcomes:
                values: dict[str, Any] = {
                    "status": outcome.status,
                    "claimed_until": None,
                    "in_flight_since": None,
                }
                if outcome.status == "sent":
                    values.update(sent_at=moment, provider_id=(outcome.provider_id or "")[:64])
                    early = reported.get(outcome.provider_id or "")
                    if early is not None:
                        values.update(delivery=early.status, delivery_at=early.updated_at)
                        if early.error_code:
                            values["error_code"] = early.error_code
                else:
                    values.update(last_error=outcome.error, error_code=outcome.code)
                session.execute(_CHANGE, {"row_id": outcome.id, **values})
                if outcome.status == "held" and held is None:
                    held = session.get(OutboundMessage, outcome.id)
            if retry is not None:
                self._retry_later(session, retry, moment)
            return None if held is None else self._reopen_for(session, held.channel, held.recipient, moment)

    def _retry_later(self, session: Session, retry: Outcome, moment: datetime) -> None:
        row = session.get(OutboundMessage, retry.id)
        if row is None:
            return
        row.attempts += 1
        row.last_error = retry.error
        row.claimed_until = None
        if row.attempts >= self._max_attempts:
            # Out of retries: it stops holding up the recipient's later texts. If the provider did accept
            # one of the attempts after all, the status callback will still tell.
            row.status = "failed"
            log.warning("outbound message %s failed after %s attempts", row.id, row.attempts)
        else:
            row.next_attempt_at = moment + timedelta(seconds=backoff(row.attempts))

    @staticmethod
    def _reported_early(session: Session, provider_ids: list[str]) -> dict[str, AnyRow]:
        """Statuses the provider reported before the send was recorded (its callback can win the race)."""
        if not provider_ids:
            return {}
        return {row.message_sid: row for row in session.execute(_REPORTED, {"sids": provider_ids})}

    def _reopen_for(
        self,
        session: Session,
        channel: str,
        recipient: str,
        moment: datetime,
        handoff_message_id: int | None = None,
    ) -> Queued | None:
        """Queue the template that reopens the recipient's window, unless the provider has none or one was
        queued since the recipient last wrote."""
        provider = self._providers.get(channel)
        template = None if provider is None else provider.reopener()
        if template is None:
            return None
        contact = session.get(Contact, (channel, recipient))
        if contact is None:
            contact = Contact(channel=channel, address=recipient)
            session.add(contact)
        if contact.opted_out_at is not None:
            return None
        last_inbound = utc_or_none(contact.last_inbound_at)
        queued_at = utc_or_none(contact.reopen_queued_at)
        if queued_at is not None and (last_inbound is None or queued_at > last_inbound):
            return None
        contact.reopen_queued_at = moment
        row = OutboundMessage(
            channel=channel,
            recipient=recipient,
            body=REOPEN_BODY,
            purpose=REOPEN,
            content=template,
            handoff_message_id=handoff_message_id,
            status="pending",
            attempts=0,
            next_attempt_at=moment,
            created_at=moment,
            claimed_by=self._owner,
            claimed_until=moment + self._lease,
            in_flight_since=moment,
        )
        session.add(row)
        session.flush()
        return Queued(row.id, row.body, moment, True, REOPEN, template, last_inbound=last_inbound)

    def queue_reopen(self, channel: str, recipient: str, handoff_message_id: int | None) -> Queued | None:
        """`_reopen_for` in a transaction of its own (an agent asked for the template)."""
        with self._sessions.begin() as session:
            return self._reopen_for(session, channel, recipient, _now(), handoff_message_id)

    def reported(self, provider_id: str, status: str, code: str | None) -> Reported:
        """Keep the provider's latest status of a message (never moving back: a late "sent" does not undo
        "read"), and put it on the text it belongs to. A text that failed because the window had closed is
        held for the recipient, and the template that reopens the window queued. (Every text gets several
        callbacks: Core statements built once, as on the message's own trips.)"""
        moment = _now()
        rank = DELIVERY_RANK.get(status, 0)
        with self._sessions.begin() as session:
            kept = session.execute(_STATUS_OF, {"sid": provider_id}).first()
            if kept is not None and DELIVERY_RANK.get(kept.status, 0) > rank:
                return Reported()
            values = {"status": status, "error_code": code, "updated_at": moment}
            if kept is None:
                session.execute(_NEW_STATUS, {"message_sid": provider_id, **values})
            else:
                session.execute(_CHANGE_STATUS, {"sid": provider_id, **values})
            row = session.execute(_SENT_AS, {"sid": provider_id}).first()
            if row is None:
                return Reported()  # not recorded yet: `record` picks the status up
            changes: dict[str, Any] = {"delivery": status[:16], "delivery_at": moment}
            if code:
                changes["error_code"] = code[:16]
            reopen = None
            if status in FAILED_DELIVERY:
                provider = self._providers.get(row.channel)
                if provider is not None and provider.window_closed(code) and row.purpose in WORTH_REOPENING:
                    # Refused for the window after it was accepted: it waits for the recipient, like a text
                    # refused at once, and goes again (a new message) when they write.
                    changes.update(status="held", provider_id=None, in_flight_since=None)
                else:
                    changes["status"] = "failed"
            session.execute(_CHANGE, {"row_id": row.id, **changes})
            if changes.get("status") == "held":
                reopen = self._reopen_for(session, row.channel, row.recipient, moment)
            event = _delivery_event(session, {**row._asdict(), **changes})
            return Reported(event, None if reopen is None else (row.channel, row.recipient, reopen))

    def stats(self) -> dict[str, Any]:
        """Counts by status."""
        with self._sessions() as session:
            counts: dict[str, Any] = {"pending": 0, "sent": 0, "failed": 0, "held": 0, "suppressed": 0}
            for status, number in session.execute(
                select(OutboundMessage.status, func.count()).group_by(OutboundMessage.status)
            ):
                counts[status] = int(number)
            retried = select(func.count()).select_from(OutboundMessage).where(OutboundMessage.attempts > 0)
            counts["retried"] = int(session.scalar(retried) or 0)
            return counts
