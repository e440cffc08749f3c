"""What the assistant understood of each turn, satisfaction after a hand-off and the review of what it did not understand (filled in by issue 16's review work).

Revision ID: 0009
Revises: 0008

"""

from __future__ import annotations

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
