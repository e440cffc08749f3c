"""WhatsApp as operators run it: outbound texts that fail, wait for the service window or are suppressed,
with their purpose, rich content, media and delivery status; contacts (window, profile name, opt-out) with
an audit trail; content templates created once; files agents attach; media on hand-off lines.

Existing outbound rows keep their status (pending or sent) and become answers. A downgrade maps the new
statuses back onto the old two (failed, held and suppressed texts count as sent: nothing will send them).

Revision ID: 0008
Revises: 0007

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

NEW_STATUSES = "status IN ('pending', 'sent', 'failed', 'held', 'suppressed')"
OLD_STATUSES = "status IN ('pending', 'sent')"
PURPOSES = "purpose IN ('answer', 'notice', 'agent', 'reopen', 'confirm')"


def upgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_outbound_messages_status_allowed"), type_="check")
        batch_op.alter_column(
            "status", existing_type=sa.String(length=8), type_=sa.String(length=10), existing_nullable=False
        )
        batch_op.create_check_constraint("status_allowed", NEW_STATUSES)
        batch_op.add_column(
            sa.Column("purpose", sa.String(length=8), nullable=False, server_default="answer")
        )
        batch_op.create_check_constraint("purpose_allowed", PURPOSES)
        batch_op.add_column(sa.Column("content", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("media_url", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("error_code", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("delivery", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("delivery_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("inbound_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("handoff_message_id", sa.Integer(), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_outbound_messages_handoff_message_id"), ["handoff_message_id"], unique=False
        )
        batch_op.create_index("ix_outbound_messages_provider_id", ["provider_id"], unique=False)

    with op.batch_alter_table("handoff_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("media", sa.JSON(), nullable=True))

    op.create_table(
        "attachments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("handoff_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=160), nullable=False),
        sa.Column("content_type", sa.String(length=64), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["handoff_id"],
            ["handoffs.id"],
            name=op.f("fk_attachments_handoff_id_handoffs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attachments")),
    )
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attachments_handoff_id"), ["handoff_id"], unique=False)

    op.create_table(
        "contacts",
        sa.Column("channel", sa.String(length=24), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("profile_name", sa.String(length=120), nullable=True),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reopen_queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("channel", "address", name=op.f("pk_contacts")),
    )
    op.create_table(
        "contact_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=24), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("event", sa.String(length=8), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("event IN ('opt_out', 'opt_in')", name=op.f("ck_contact_events_event_allowed")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_events")),
    )
    with op.batch_alter_table("contact_events", schema=None) as batch_op:
        batch_op.create_index("ix_contact_events_address", ["channel", "address"], unique=False)

    op.create_table(
        "content_templates",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("content_sid", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_content_templates")),
    )

    # The window of customers who wrote before this revision runs from their last message.
    op.execute(
        """
        INSERT INTO contacts (channel, address, last_inbound_at)
        SELECT channel, reply_to, MAX(received_at) FROM inbound_messages
        WHERE reply_to IS NOT NULL GROUP BY channel, reply_to
        """
    )


def downgrade() -> None:
    op.drop_table("content_templates")
    with op.batch_alter_table("contact_events", schema=None) as batch_op:
        batch_op.drop_index("ix_contact_events_address")
    op.drop_table("contact_events")
    op.drop_table("contacts")
    with op.batch_alter_table("attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachments_handoff_id"))
    op.drop_table("attachments")
    with op.batch_alter_table("handoff_messages", schema=None) as batch_op:
        batch_op.drop_column("media")

    op.execute("UPDATE outbound_messages SET status = 'sent' WHERE status NOT IN ('pending', 'sent')")
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbound_messages_provider_id")
        batch_op.drop_index(batch_op.f("ix_outbound_messages_handoff_message_id"))
        batch_op.drop_column("handoff_message_id")
        batch_op.drop_column("inbound_id")
        batch_op.drop_column("delivery_at")
        batch_op.drop_column("delivery")
        batch_op.drop_column("error_code")
        batch_op.drop_column("media_url")
        batch_op.drop_column("content")
        batch_op.drop_constraint(op.f("ck_outbound_messages_purpose_allowed"), type_="check")
        batch_op.drop_column("purpose")
        batch_op.drop_constraint(op.f("ck_outbound_messages_status_allowed"), type_="check")
        batch_op.alter_column(
            "status", existing_type=sa.String(length=10), type_=sa.String(length=8), existing_nullable=False
        )
        batch_op.create_check_constraint("status_allowed", OLD_STATUSES)
