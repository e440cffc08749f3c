"""Outbound texts carry their channel; numbered options are no longer kept by the gateway.

Every outbound text queued before this revision went to WhatsApp, so existing rows get that channel. The
options a text channel offered are now resolved by the dialogue itself (a typed "2" picks the second on
every channel), so their table goes; a downgrade brings it back empty.

Revision ID: 0007
Revises: 0006

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("channel", sa.String(length=24), nullable=False, server_default="whatsapp")
        )
        batch_op.create_index("ix_outbound_messages_channel_recipient", ["channel", "recipient"])
    op.drop_table("channel_options")


def downgrade() -> None:
    op.create_table(
        "channel_options",
        sa.Column("sender_id", sa.String(length=96), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sender_id", name=op.f("pk_channel_options")),
    )
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_outbound_messages_channel_recipient")
        batch_op.drop_column("channel")
