"""workspaces and offline sync

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "workspace",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("forked_from", sa.String(length=500), nullable=False),
        sa.Column("source_position", sa.BigInteger(), nullable=False),
        sa.Column("fork_position", sa.BigInteger(), nullable=False),
        sa.Column("fork_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("forked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_workspace")),
    )


def downgrade() -> None:
    op.drop_table("workspace")
