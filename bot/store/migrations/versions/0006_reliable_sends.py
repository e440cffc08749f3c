"""Outbox sends that may have been accepted, and queue positions announced once across replicas.

Revision ID: 0006
Revises: 0005

"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("in_flight_since", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("announced_position", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("handoffs", schema=None) as batch_op:
        batch_op.drop_column("announced_position")
    with op.batch_alter_table("outbound_messages", schema=None) as batch_op:
        batch_op.drop_column("in_flight_since")
