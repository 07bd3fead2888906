"""opportunities, the funnel, forecasts and forecast vs actual read models

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "opportunity_account_owners",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_opportunity_account_owners")),
    )
    op.create_table(
        "opportunities",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("account_owner_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expected_close_date", sa.String(length=10), nullable=False),
        sa.Column("product_id", sa.String(length=36), nullable=True),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("lost_reason", sa.String(length=500), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("won_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lost_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("search_text", sa.String(length=200), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_opportunities")),
    )
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opportunities_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_opportunities_account_owner_id"), ["account_owner_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_opportunities_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index("ix_opportunities_name_id", ["name", "id"], unique=False)
        batch_op.create_index("ix_opportunities_updated_at_id", ["updated_at", "id"], unique=False)

    op.create_table(
        "funnel_opportunities",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("stage", sa.String(length=20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_month", sa.String(length=7), nullable=False),
        sa.Column("qualification_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("proposal_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("negotiation_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("won_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lost_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cycle_seconds", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_funnel_opportunities")),
    )
    with op.batch_alter_table("funnel_opportunities", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_funnel_opportunities_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_funnel_opportunities_owner_id"), ["owner_id"], unique=False
        )

    op.create_table(
        "forecasts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.Column("total", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecasts")),
    )
    with op.batch_alter_table("forecasts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_forecasts_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index("ix_forecasts_period_id", ["period", "id"], unique=False)
        batch_op.create_index("ix_forecasts_updated_at_id", ["updated_at", "id"], unique=False)

    op.create_table(
        "fva_opportunities",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("product_id", sa.String(length=36), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fva_opportunities")),
    )
    op.create_table(
        "fva_forecasts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fva_forecasts")),
    )
    op.create_table(
        "forecast_vs_actual",
        sa.Column("id", sa.String(length=160), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("product_key", sa.String(length=36), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("forecast_amount", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("won_amount", sa.Numeric(precision=20, scale=2), nullable=False),
        sa.Column("won_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_forecast_vs_actual")),
    )
    with op.batch_alter_table("forecast_vs_actual", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_forecast_vs_actual_owner_id"), ["owner_id"], unique=False
        )
        batch_op.create_index("ix_forecast_vs_actual_period_id", ["period", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("forecast_vs_actual", schema=None) as batch_op:
        batch_op.drop_index("ix_forecast_vs_actual_period_id")
        batch_op.drop_index(batch_op.f("ix_forecast_vs_actual_owner_id"))
    op.drop_table("forecast_vs_actual")
    op.drop_table("fva_forecasts")
    op.drop_table("fva_opportunities")
    with op.batch_alter_table("forecasts", schema=None) as batch_op:
        batch_op.drop_index("ix_forecasts_updated_at_id")
        batch_op.drop_index("ix_forecasts_period_id")
        batch_op.drop_index(batch_op.f("ix_forecasts_owner_id"))
    op.drop_table("forecasts")
    with op.batch_alter_table("funnel_opportunities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_funnel_opportunities_owner_id"))
        batch_op.drop_index(batch_op.f("ix_funnel_opportunities_created_at"))
    op.drop_table("funnel_opportunities")
    with op.batch_alter_table("opportunities", schema=None) as batch_op:
        batch_op.drop_index("ix_opportunities_updated_at_id")
        batch_op.drop_index("ix_opportunities_name_id")
        batch_op.drop_index(batch_op.f("ix_opportunities_owner_id"))
        batch_op.drop_index(batch_op.f("ix_opportunities_account_owner_id"))
        batch_op.drop_index(batch_op.f("ix_opportunities_account_id"))
    op.drop_table("opportunities")
    op.drop_table("opportunity_account_owners")
