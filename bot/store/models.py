"""ORM models of the store. The catalogue tables mirror `bot/catalogue/models.py`."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Base(DeclarativeBase):
    """Declarative base of every table (constraint names fixed so migrations can refer to them)."""

    metadata = MetaData(
        naming_convention={
            "ix": "ix_%(column_0_label)s",
            "uq": "uq_%(table_name)s_%(column_0_name)s",
            "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
            "pk": "pk_%(table_name)s",
            "ck": "ck_%(table_name)s_%(constraint_name)s",
        }
    )


class CatalogueMeta(Base):
    """Key/value facts about the loaded catalogue (its version hash, its sections)."""

    __tablename__ = "catalogue_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


class PlanRow(Base):
    """A software plan."""

    __tablename__ = "catalogue_plans"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    rank: Mapped[int] = mapped_column(Integer, unique=True)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)


class FeatureRow(Base):
    """A row of the plans table."""

    __tablename__ = "catalogue_features"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(128))
    section: Mapped[str] = mapped_column(String(128))
    kind: Mapped[str] = mapped_column(String(16))
    unit: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    reading: Mapped[str | None] = mapped_column(Text, nullable=True)


class PlanValueRow(Base):
    """The value of one feature in one plan."""

    __tablename__ = "catalogue_values"

    feature_key: Mapped[str] = mapped_column(
        ForeignKey("catalogue_features.key", ondelete="CASCADE"), primary_key=True
    )
    plan_key: Mapped[str] = mapped_column(
        ForeignKey("catalogue_plans.key", ondelete="CASCADE"), primary_key=True
    )
    available: Mapped[bool] = mapped_column(Boolean)
    amount: Mapped[int | None] = mapped_column(Integer, nullable=True)
    unlimited: Mapped[bool] = mapped_column(Boolean, default=False)
    on_request: Mapped[bool] = mapped_column(Boolean, default=False)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    activator: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    service: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class ChannelRow(Base):
    """A channel of the channels plan."""

    __tablename__ = "catalogue_channels"

    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    uses: Mapped[list[str]] = mapped_column(JSON)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)


class FactRow(Base):
    """One billing or contracting fact of the page (text or list of texts)."""

    __tablename__ = "catalogue_facts"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[Any] = mapped_column(JSON)


# --- Accounts ----------------------------------------------------------------------------------------
# Card data is limited by construction: brand, last four digits (String(4) with a length CHECK), holder and
# expiry. No column exists for a full card number or a CVV.

# supervisor: the support team's lead, who reads the insights (no hand-offs, no customer data of their own).
PROFILES = ("admin", "member", "agent", "supervisor")
CONTRACT_STATUSES = ("active", "pending_payment", "suspended", "cancelled")
PAYMENT_METHODS = ("card", "invoice")
PAYMENT_STATUSES = ("paid", "pending", "failed")
INVOICE_STATUSES = ("paid", "open", "overdue")


def _one_of(column: str, values: tuple[str, ...]) -> CheckConstraint:
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=f"{column}_allowed")


class Account(Base):
    """A customer company."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(160))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    users: Mapped[list[User]] = relationship(back_populates="account")
    contracts: Mapped[list[Contract]] = relationship(back_populates="account", order_by="Contract.number")
    cards: Mapped[list[Card]] = relationship(back_populates="account", order_by="Card.id")


class User(Base):
    """A person who signs in; only the Admin profile may see plans and contracts."""

    __tablename__ = "users"
    __table_args__ = (_one_of("profile", PROFILES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    email: Mapped[str] = mapped_column(String(254), unique=True)
    # E.164 ("+5215512345678"); trusted as identity only when verified.
    phone: Mapped[str | None] = mapped_column(String(16), unique=True, nullable=True)
    phone_verified: Mapped[bool] = mapped_column(Boolean, default=False)
    profile: Mapped[str] = mapped_column(String(16))

    account: Mapped[Account] = relationship(back_populates="users")


class Card(Base):
    """A card on file: never more than brand, last 4 digits, holder and expiry."""

    __tablename__ = "cards"
    __table_args__ = (
        CheckConstraint("length(last4) = 4", name="last4_length"),
        CheckConstraint("exp_month BETWEEN 1 AND 12", name="exp_month_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    brand: Mapped[str] = mapped_column(String(24))
    last4: Mapped[str] = mapped_column(String(4))
    holder: Mapped[str] = mapped_column(String(120))
    exp_month: Mapped[int] = mapped_column(Integer)
    exp_year: Mapped[int] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)

    account: Mapped[Account] = relationship(back_populates="cards")


class Contract(Base):
    """A contract: software plan plus channels package, with its payment method."""

    __tablename__ = "contracts"
    __table_args__ = (_one_of("status", CONTRACT_STATUSES), _one_of("payment_method", PAYMENT_METHODS))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    status: Mapped[str] = mapped_column(String(20))
    software_plan: Mapped[str] = mapped_column(String(32))
    start_date: Mapped[date] = mapped_column(Date)
    payment_method: Mapped[str] = mapped_column(String(16))

    account: Mapped[Account] = relationship(back_populates="contracts")
    channels: Mapped[list[ContractChannel]] = relationship(
        back_populates="contract", order_by="ContractChannel.channel_key", cascade="all, delete-orphan"
    )
    payments: Mapped[list[Payment]] = relationship(
        back_populates="contract", order_by="Payment.date.desc()", cascade="all, delete-orphan"
    )
    invoices: Mapped[list[Invoice]] = relationship(
        back_populates="contract", order_by="Invoice.issue_date.desc()", cascade="all, delete-orphan"
    )


class ContractChannel(Base):
    """Monthly quantity of one channel in a contract's channels package."""

    __tablename__ = "contract_channels"

    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"), primary_key=True)
    channel_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    quantity: Mapped[int] = mapped_column(Integer)

    contract: Mapped[Contract] = relationship(back_populates="channels")


class Payment(Base):
    """A payment of a contract (made, pending or failed)."""

    __tablename__ = "payments"
    __table_args__ = (_one_of("status", PAYMENT_STATUSES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10))
    description: Mapped[str] = mapped_column(String(160))

    contract: Mapped[Contract] = relationship(back_populates="payments")


class Invoice(Base):
    """An invoice (factura) of a contract."""

    __tablename__ = "invoices"
    __table_args__ = (_one_of("status", INVOICE_STATUSES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    number: Mapped[str] = mapped_column(String(24), unique=True)
    contract_id: Mapped[int] = mapped_column(ForeignKey("contracts.id", ondelete="CASCADE"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    issue_date: Mapped[date] = mapped_column(Date)
    due_date: Mapped[date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(10))

    contract: Mapped[Contract] = relationship(back_populates="invoices")


# --- Gateway -----------------------------------------------------------------------------------------
INBOUND_STATUSES = ("pending", "answered")
# pending: to send; sent: the provider accepted it; failed: refused or out of retries (final); held: waits
# for the recipient to write (their channel's service window closed); suppressed: the recipient opted out.
OUTBOUND_STATUSES = ("pending", "sent", "failed", "held", "suppressed")
# Why a text goes out: an answer to the user's message, a notice (queue position, resolved), an agent's
# message, a template that reopens a closed service window, or the opt-out confirmation (the one text a
# suppressed recipient still gets).
OUTBOUND_PURPOSES = ("answer", "notice", "agent", "reopen", "confirm")


class InboundMessage(Base):
    """A message received by the gateway, stored (already redacted) before the engine sees it.

    (channel, external_id) is unique: a Twilio MessageSid or a webchat client id is processed once,
    across gateway replicas too. Pending rows are answered when the engine is back.
    """

    __tablename__ = "inbound_messages"
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_inbound_messages_channel_external_id"),
        _one_of("status", INBOUND_STATUSES),
        Index("ix_inbound_messages_status_id", "status", "id"),
        # The insights read a period's messages by the time they arrived, and most figures need no more of
        # a message than these columns (read from the index alone).
        Index("ix_inbound_messages_insights", "received_at", "channel", "sender_id", "understood", "intent"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(16))
    external_id: Mapped[str] = mapped_column(String(64))
    sender_id: Mapped[str] = mapped_column(String(96), index=True)
    # The address to reply to on the channel (e.g. "whatsapp:+52..."); None for the webchat.
    reply_to: Mapped[str | None] = mapped_column(String(64), nullable=True)
    text: Mapped[str] = mapped_column(Text)
    meta: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    replies: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Lease: the gateway replica answering this message, until when (another may take over after).
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # What the assistant made of this turn, recorded with its answer: the intent it acted on, whether it
    # understood (False: the fallback or the "not understood twice" hand-off; None: not known, e.g. a
    # person answered it), and the catalogue plans it was about.
    intent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    understood: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    plans: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)


class DeliveryStatus(Base):
    """The latest delivery status Twilio reported for an outbound message."""

    __tablename__ = "delivery_statuses"

    message_sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(24))
    error_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- Hand-off ----------------------------------------------------------------------------------------
HANDOFF_STATUSES = ("queued", "assigned", "resolved")
HANDOFF_ROLES = ("user", "bot", "agent", "system")


class Handoff(Base):
    """A conversation handed to a human agent: queued, then assigned, then resolved."""

    __tablename__ = "handoffs"
    __table_args__ = (
        _one_of("status", HANDOFF_STATUSES),
        Index("ix_handoffs_status_id", "status", "id"),
        # The insights read a period's hand-offs by the time they were opened.
        Index("ix_handoffs_created_at", "created_at"),
        # Each status callback finds the hand-off of its text's recipient.
        Index("ix_handoffs_reply_to", "channel", "reply_to"),
        CheckConstraint("csat_rating BETWEEN 1 AND 5", name="csat_rating_range"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sender_id: Mapped[str] = mapped_column(String(96), index=True)
    channel: Mapped[str] = mapped_column(String(16))
    reply_to: Mapped[str | None] = mapped_column(String(64), nullable=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    reason: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(10), default="queued")
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Last sign of life of the assigned agent's console; past a timeout others may take over.
    agent_seen_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The queue position last told to the customer: replicas update it atomically, so each change is
    # announced once whichever gateway notices it.
    announced_position: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Satisfaction after resolution: when the customer was asked, their rating (1-5) and optional comment
    # (redacted), once.
    csat_asked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    csat_rating: Mapped[int | None] = mapped_column(Integer, nullable=True)
    csat_comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    csat_rated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class HandoffMessage(Base):
    """One line of a hand-off's transcript (already redacted), with the files it carried: a customer's
    (`{"content_type", "inbound_id", "index"}`: fetched from the provider when an agent opens it) or an
    agent's (`{"content_type", "attachment", "name", "size"}`)."""

    __tablename__ = "handoff_messages"
    __table_args__ = (_one_of("role", HANDOFF_ROLES),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(8))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    media: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)


class Attachment(Base):
    """A file an agent attached to a reply, served to the provider (which fetches it to deliver it) under
    an unguessable id."""

    __tablename__ = "attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    handoff_id: Mapped[int] = mapped_column(ForeignKey("handoffs.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(160))
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


# --- Contacts on channels that deliver later (WhatsApp) -----------------------------------------------
CONTACT_EVENTS = ("opt_out", "opt_in")


class Contact(Base):
    """An address a channel delivers to: when it last wrote (the service window runs from there), the
    name its channel gave, and whether it asked not to be written to."""

    __tablename__ = "contacts"

    channel: Mapped[str] = mapped_column(String(24), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_inbound_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    profile_name: Mapped[str | None] = mapped_column(String(120), nullable=True)
    opted_out_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # When a template to reopen the closed window was last queued (one per closed window).
    reopen_queued_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class ContactEvent(Base):
    """The audit trail of opt-outs and opt-ins: who, when, and the message that asked."""

    __tablename__ = "contact_events"
    __table_args__ = (
        _one_of("event", CONTACT_EVENTS),
        Index("ix_contact_events_address", "channel", "address"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(24))
    address: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(8))
    # The provider's id of the message that asked (its text is in inbound_messages).
    message_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ContentTemplate(Base):
    """A rich message (quick replies, a list) created once with the provider's content API, by the hash
    of its definition."""

    __tablename__ = "content_templates"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_sid: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class OutboundMessage(Base):
    """A text to deliver on a channel that answers later: kept until its channel's provider accepts it,
    retried with backoff. Rows of one recipient on one channel are sent in id order; a row is claimed
    (lease) by one gateway replica at a time.
    """

    __tablename__ = "outbound_messages"
    __table_args__ = (
        _one_of("status", OUTBOUND_STATUSES),
        _one_of("purpose", OUTBOUND_PURPOSES),
        Index("ix_outbound_messages_status_next", "status", "next_attempt_at"),
        Index("ix_outbound_messages_provider_id", "provider_id"),
        Index("ix_outbound_messages_channel_recipient", "channel", "recipient"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The channel that delivers it ("whatsapp"): its provider sends the row.
    channel: Mapped[str] = mapped_column(String(24), default="whatsapp", server_default="whatsapp")
    recipient: Mapped[str] = mapped_column(String(64), index=True)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    provider_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Set while a send is under way and cleared when the provider refuses it: a row still marked when it is
    # claimed again may have been accepted (a timeout, a crash, a store failure before it was marked sent),
    # so the provider is asked before it is sent again.
    in_flight_since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    purpose: Mapped[str] = mapped_column(String(8), default="answer", server_default="answer")
    # A rich form of the text (quick replies or a list; `body` is its plain fallback), or the template
    # that reopens a closed window: {"sid", "variables"}.
    content: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    media_url: Mapped[str | None] = mapped_column(String(500), nullable=True)
    # The provider's error when it refused or failed the text (Twilio's 63016: outside the window).
    error_code: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # The latest delivery status the provider reported (sent, delivered, read, failed, undelivered).
    delivery: Mapped[str | None] = mapped_column(String(16), nullable=True)
    delivery_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # What it belongs to: the message it answers, or the agent's line in a hand-off.
    inbound_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    handoff_message_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)


# --- Review of what the assistant did not understand --------------------------------------------------
REVIEW_STATUSES = ("waiting", "labelled", "out_of_scope")
REVIEW_REASONS = ("fallback", "handoff")


class ReviewItem(Base):
    """A user message the assistant did not understand (the fallback, or the "not understood twice"
    hand-off), kept already redacted with the turns before it, until a supervisor labels it (an intent and
    entities) or marks it out of scope; labelled ones become training examples (`bot review-export`)."""

    __tablename__ = "review_items"
    __table_args__ = (
        _one_of("status", REVIEW_STATUSES),
        _one_of("reason", REVIEW_REASONS),
        Index("ix_review_items_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The turn it comes from: one item per turn, however often its answer is recorded.
    inbound_id: Mapped[int] = mapped_column(Integer, unique=True)
    channel: Mapped[str] = mapped_column(String(16))
    sender_id: Mapped[str] = mapped_column(String(96))
    text: Mapped[str] = mapped_column(Text)
    # The text normalised for grouping similar messages (lower case, no accents or punctuation).
    normalized: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(8))
    # The conversation up to it: [{"role": "user" | "bot", "text"}], oldest first, the item's own turn
    # and the assistant's reply to it last.
    context: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(12), default="waiting")
    intent: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # [{"entity", "value", "start", "end"}] over `text`.
    entities: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, nullable=True)
    reviewed_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
