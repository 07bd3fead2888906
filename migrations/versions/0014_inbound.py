"""inbound email threading and attachments

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-26 04:52:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_message_ids",
        sa.Column("message_id", sa.String(length=500), nullable=False),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("inbound_id", sa.String(length=36), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_inbound_message_ids")),
    )
    with op.batch_alter_table("inbound_message_ids", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_inbound_message_ids_request_id"), ["request_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_inbound_message_ids_inbound_id"), ["inbound_id"], unique=False
        )
    op.create_table(
        "inbound_unmatched",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("sender", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("email_message_id", sa.String(length=500), nullable=False),
        sa.Column("attachment_count", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("linked_request_id", sa.String(length=36), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_unmatched")),
    )
    with op.batch_alter_table("inbound_unmatched", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_inbound_unmatched_status"), ["status"], unique=False)
    op.create_table(
        "attachment_blobs",
        sa.Column("attachment_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("contact_id", sa.String(length=36), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("attachment_id", name=op.f("pk_attachment_blobs")),
    )
    with op.batch_alter_table("attachment_blobs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attachment_blobs_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_attachment_blobs_sha256"), ["sha256"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("attachment_blobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attachment_blobs_sha256"))
        batch_op.drop_index(batch_op.f("ix_attachment_blobs_contact_id"))
    op.drop_table("attachment_blobs")
    with op.batch_alter_table("inbound_unmatched", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_unmatched_status"))
    op.drop_table("inbound_unmatched")
    with op.batch_alter_table("inbound_message_ids", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_inbound_message_ids_inbound_id"))
        batch_op.drop_index(batch_op.f("ix_inbound_message_ids_request_id"))
    op.drop_table("inbound_message_ids")
