"""Catalogue tables: plans, features, values, channels and facts.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalogue_channels",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("uses", sa.JSON(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_catalogue_channels")),
    )
    op.create_table(
        "catalogue_facts",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_catalogue_facts")),
    )
    op.create_table(
        "catalogue_features",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("section", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("unit", sa.JSON(), nullable=True),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.Column("reading", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_catalogue_features")),
    )
    op.create_table(
        "catalogue_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_catalogue_meta")),
    )
    op.create_table(
        "catalogue_plans",
        sa.Column("key", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("aliases", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_catalogue_plans")),
        sa.UniqueConstraint("rank", name=op.f("uq_catalogue_plans_rank")),
    )
    op.create_table(
        "catalogue_values",
        sa.Column("feature_key", sa.String(length=64), nullable=False),
        sa.Column("plan_key", sa.String(length=32), nullable=False),
        sa.Column("available", sa.Boolean(), nullable=False),
        sa.Column("amount", sa.Integer(), nullable=True),
        sa.Column("unlimited", sa.Boolean(), nullable=False),
        sa.Column("on_request", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("activator", sa.JSON(), nullable=True),
        sa.Column("service", sa.JSON(), nullable=True),
        sa.ForeignKeyConstraint(
            ["feature_key"],
            ["catalogue_features.key"],
            name=op.f("fk_catalogue_values_feature_key_catalogue_features"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["plan_key"],
            ["catalogue_plans.key"],
            name=op.f("fk_catalogue_values_plan_key_catalogue_plans"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("feature_key", "plan_key", name=op.f("pk_catalogue_values")),
    )


def downgrade() -> None:
    op.drop_table("catalogue_values")
    op.drop_table("catalogue_plans")
    op.drop_table("catalogue_meta")
    op.drop_table("catalogue_features")
    op.drop_table("catalogue_facts")
    op.drop_table("catalogue_channels")
