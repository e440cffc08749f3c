"""An index for the status callbacks: each one finds the hand-off of the text's recipient (channel and reply
address), which without it read the hand-offs table from its newest row down, all of it for the many
recipients who never had one.

Revision ID: 0011
Revises: 0010

"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.create_index("ix_handoffs_reply_to", ["channel", "reply_to"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_index("ix_handoffs_reply_to")
