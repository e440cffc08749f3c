"""What the assistant understood of each turn, satisfaction after a hand-off and the review of what it did
not understand: each inbound message's intent, understood flag and plans; each hand-off's CSAT question,
rating and comment; the review items a supervisor labels.

Revision ID: 0009
Revises: 0008

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("intent", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("understood", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("plans", sa.JSON(), nullable=True))

    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("csat_asked_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("csat_rating", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("csat_comment", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("csat_rated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_check_constraint("csat_rating_range", "csat_rating BETWEEN 1 AND 5")

    op.create_table(
        "review_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("inbound_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("sender_id", sa.String(length=96), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("normalized", sa.Text(), nullable=False),
        sa.Column("reason", sa.String(length=8), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("intent", sa.String(length=64), nullable=True),
        sa.Column("entities", sa.JSON(), nullable=True),
        sa.Column("reviewed_by", sa.Integer(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('waiting', 'labelled', 'out_of_scope')", name=op.f("ck_review_items_status_allowed")
        ),
        sa.CheckConstraint("reason IN ('fallback', 'handoff')", name=op.f("ck_review_items_reason_allowed")),
        sa.ForeignKeyConstraint(
            ["reviewed_by"],
            ["users.id"],
            name=op.f("fk_review_items_reviewed_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_items")),
        sa.UniqueConstraint("inbound_id", name=op.f("uq_review_items_inbound_id")),
    )
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index("ix_review_items_status_id", ["status", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_index("ix_review_items_status_id")
    op.drop_table("review_items")

    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_handoffs_csat_rating_range"), type_="check")
        batch_op.drop_column("csat_rated_at")
        batch_op.drop_column("csat_comment")
        batch_op.drop_column("csat_rating")
        batch_op.drop_column("csat_asked_at")

    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_column("plans")
        batch_op.drop_column("understood")
        batch_op.drop_column("intent")
