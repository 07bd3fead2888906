"""receivables: shipments and fulfilment, invoices, payments and account owners for aging

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26 01:44:26.357141
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "fulfilment_account_owners",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_fulfilment_account_owners")),
    )
    op.create_table(
        "fulfilment_lines",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("ordered", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("shipped", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.PrimaryKeyConstraint("order_id", "line", name=op.f("pk_fulfilment_lines")),
    )
    op.create_table(
        "fulfilment_orders",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("account_owner_id", sa.String(length=36), nullable=False),
        sa.Column("order_status", sa.String(length=20), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_fulfilment_orders")),
    )
    with op.batch_alter_table("fulfilment_orders", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_fulfilment_orders_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_fulfilment_orders_account_owner_id"), ["account_owner_id"], unique=False
        )

    op.create_table(
        "receivable_accounts",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_receivable_accounts")),
    )
    op.create_table(
        "receivable_invoices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("account_owner_id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_cents", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("issued_at", sa.Date(), nullable=False),
        sa.Column("due_at", sa.Date(), nullable=False),
        sa.Column("due_day", sa.Integer(), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receivable_invoices")),
    )
    with op.batch_alter_table("receivable_invoices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_receivable_invoices_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_receivable_invoices_account_owner_id"),
            ["account_owner_id"],
            unique=False,
        )
        batch_op.create_index(
            "ix_receivable_invoices_created_at_id", ["created_at", "id"], unique=False
        )
        batch_op.create_index("ix_receivable_invoices_due_day_id", ["due_day", "id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_receivable_invoices_order_id"), ["order_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_receivable_invoices_status"), ["status"], unique=False)

    op.create_table(
        "receivable_payments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("account_owner_id", sa.String(length=36), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("paid_at", sa.Date(), nullable=False),
        sa.Column("method", sa.String(length=50), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receivable_payments")),
    )
    with op.batch_alter_table("receivable_payments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_receivable_payments_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_receivable_payments_account_owner_id"),
            ["account_owner_id"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_receivable_payments_invoice_id"), ["invoice_id"], unique=False
        )
        batch_op.create_index(
            "ix_receivable_payments_recorded_at_id", ["recorded_at", "id"], unique=False
        )

    op.create_table(
        "shipment_lines",
        sa.Column("shipment_id", sa.String(length=36), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.PrimaryKeyConstraint("shipment_id", "line", name=op.f("pk_shipment_lines")),
    )
    op.create_table(
        "shipments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("carrier", sa.String(length=100), nullable=False),
        sa.Column("tracking_number", sa.String(length=100), nullable=True),
        sa.Column("shipped_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
    )
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shipments_order_id"), ["order_id"], unique=False)
        batch_op.create_index(
            "ix_shipments_order_id_shipped_at_id", ["order_id", "shipped_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.drop_index("ix_shipments_order_id_shipped_at_id")
        batch_op.drop_index(batch_op.f("ix_shipments_order_id"))

    op.drop_table("shipments")
    op.drop_table("shipment_lines")
    with op.batch_alter_table("receivable_payments", schema=None) as batch_op:
        batch_op.drop_index("ix_receivable_payments_recorded_at_id")
        batch_op.drop_index(batch_op.f("ix_receivable_payments_invoice_id"))
        batch_op.drop_index(batch_op.f("ix_receivable_payments_account_owner_id"))
        batch_op.drop_index(batch_op.f("ix_receivable_payments_account_id"))

    op.drop_table("receivable_payments")
    with op.batch_alter_table("receivable_invoices", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_receivable_invoices_status"))
        batch_op.drop_index(batch_op.f("ix_receivable_invoices_order_id"))
        batch_op.drop_index("ix_receivable_invoices_due_day_id")
        batch_op.drop_index("ix_receivable_invoices_created_at_id")
        batch_op.drop_index(batch_op.f("ix_receivable_invoices_account_owner_id"))
        batch_op.drop_index(batch_op.f("ix_receivable_invoices_account_id"))

    op.drop_table("receivable_invoices")
    op.drop_table("receivable_accounts")
    with op.batch_alter_table("fulfilment_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fulfilment_orders_account_owner_id"))
        batch_op.drop_index(batch_op.f("ix_fulfilment_orders_account_id"))

    op.drop_table("fulfilment_orders")
    op.drop_table("fulfilment_lines")
    op.drop_table("fulfilment_account_owners")
