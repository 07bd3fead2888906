"""quotes: the quotes read model (current revision, lines, approval) and account owners

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "quote_account_owners",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_quote_account_owners")),
    )
    op.create_table(
        "quote_lines",
        sa.Column("quote_id", sa.String(length=36), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("list_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("floor_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("unit_cost", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("discount_pct", sa.Numeric(precision=9, scale=2), nullable=False),
        sa.Column("below_floor", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("quote_id", "line", name=op.f("pk_quote_lines")),
    )
    with op.batch_alter_table("quote_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quote_lines_product_id"), ["product_id"], unique=False)

    op.create_table(
        "quotes",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("account_owner_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("opportunity_id", sa.String(length=36), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("list_amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("cost", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("margin", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("deepest_discount_pct", sa.Numeric(precision=9, scale=2), nullable=False),
        sa.Column("needs_approval", sa.Boolean(), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("approved_by", sa.String(length=36), nullable=True),
        sa.Column("approved_revision", sa.Integer(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("voided_approvals", sa.Integer(), nullable=False),
        sa.Column("search_text", sa.String(length=300), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotes")),
    )
    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_quotes_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_quotes_account_owner_id"), ["account_owner_id"], unique=False
        )
        batch_op.create_index("ix_quotes_created_at_id", ["created_at", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_quotes_opportunity_id"), ["opportunity_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_quotes_state"), ["state"], unique=False)
        batch_op.create_index("ix_quotes_updated_at_id", ["updated_at", "id"], unique=False)
        batch_op.create_index("ix_quotes_valid_until_id", ["valid_until", "id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("quotes", schema=None) as batch_op:
        batch_op.drop_index("ix_quotes_valid_until_id")
        batch_op.drop_index("ix_quotes_updated_at_id")
        batch_op.drop_index(batch_op.f("ix_quotes_state"))
        batch_op.drop_index(batch_op.f("ix_quotes_opportunity_id"))
        batch_op.drop_index("ix_quotes_created_at_id")
        batch_op.drop_index(batch_op.f("ix_quotes_account_owner_id"))
        batch_op.drop_index(batch_op.f("ix_quotes_account_id"))

    op.drop_table("quotes")
    with op.batch_alter_table("quote_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_quote_lines_product_id"))

    op.drop_table("quote_lines")
    op.drop_table("quote_account_owners")
