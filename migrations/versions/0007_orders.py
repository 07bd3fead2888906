"""orders: the orders read model (orders, lines, account owners); accounts.external_refs

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "order_account_owners",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_order_account_owners")),
    )
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("unit_price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("unit_cost", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.PrimaryKeyConstraint("order_id", "line", name=op.f("pk_order_lines")),
    )
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_lines_product_id"), ["product_id"], unique=False)

    op.create_table(
        "orders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("account_owner_id", sa.String(length=36), nullable=False),
        sa.Column("quote_id", sa.String(length=36), nullable=True),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("cost", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("margin", sa.Numeric(precision=20, scale=2), nullable=True),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("fingerprint", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
    )
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_orders_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_orders_account_owner_id"), ["account_owner_id"], unique=False
        )
        batch_op.create_index("ix_orders_ordered_at_id", ["ordered_at", "id"], unique=False)
        batch_op.create_index(
            "ix_orders_source_external_id", ["source", "external_id"], unique=True
        )
        batch_op.create_index("ix_orders_updated_at_id", ["updated_at", "id"], unique=False)

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_refs", sa.JSON(), nullable=True))
    # Accounts opened before this revision have no external references.
    op.execute("UPDATE accounts SET external_refs = '[]'")

    # Forecast vs actual counts orders too (rebuild the projection where it has data).
    with op.batch_alter_table("forecast_vs_actual", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("ordered_amount", sa.Numeric(20, 2), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("order_count", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "fva_account_owners",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_fva_account_owners")),
    )
    op.create_table(
        "fva_orders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("amounts", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fva_orders")),
    )


def downgrade() -> None:
    op.drop_table("fva_orders")
    op.drop_table("fva_account_owners")
    with op.batch_alter_table("forecast_vs_actual", schema=None) as batch_op:
        batch_op.drop_column("order_count")
        batch_op.drop_column("ordered_amount")

    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_column("external_refs")

    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_index("ix_orders_updated_at_id")
        batch_op.drop_index("ix_orders_source_external_id")
        batch_op.drop_index("ix_orders_ordered_at_id")
        batch_op.drop_index(batch_op.f("ix_orders_account_owner_id"))
        batch_op.drop_index(batch_op.f("ix_orders_account_id"))

    op.drop_table("orders")
    with op.batch_alter_table("order_lines", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_lines_product_id"))

    op.drop_table("order_lines")
    op.drop_table("order_account_owners")
