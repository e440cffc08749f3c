"""The supervisor profile (the support team's lead, who reads the insights) and the indexes the insights
figures need.

Revision ID: 0010
Revises: 0009

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

NEW_PROFILES = "profile IN ('admin', 'member', 'agent', 'supervisor')"
OLD_PROFILES = "profile IN ('admin', 'member', 'agent')"


def _profiles(allowed: str) -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_users_profile_allowed"), type_="check")
        batch_op.create_check_constraint("profile_allowed", allowed)


def upgrade() -> None:
    _profiles(NEW_PROFILES)
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_inbound_messages_insights",
            ["received_at", "channel", "sender_id", "understood", "intent"],
            unique=False,
        )
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.create_index("ix_handoffs_created_at", ["created_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_index("ix_handoffs_created_at")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_messages_insights")
    # Supervisors cannot exist under the old rule: they are removed (their token stops working).
    op.execute(sa.text("DELETE FROM users WHERE profile = 'supervisor'"))
    _profiles(OLD_PROFILES)
