"""watchers and analytics: alerts, due rows, customer value, margins, KPIs

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-26 04:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alert_account_owners",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_alert_account_owners")),
    )
    op.create_table(
        "alert_clearings",
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_alert_clearings")),
    )
    op.create_index(
        op.f("ix_alert_clearings_position"), "alert_clearings", ["position"], unique=False
    )
    op.create_table(
        "alerts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("subject_type", sa.String(length=20), nullable=False),
        sa.Column("subject_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("assignee_id", sa.String(length=36), nullable=True),
        sa.Column("target", sa.String(length=20), nullable=True),
        sa.Column("threshold_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("clear_reason", sa.String(length=40), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alerts")),
    )
    op.create_index(op.f("ix_alerts_account_id"), "alerts", ["account_id"], unique=False)
    op.create_index(op.f("ix_alerts_assignee_id"), "alerts", ["assignee_id"], unique=False)
    op.create_index(op.f("ix_alerts_owner_id"), "alerts", ["owner_id"], unique=False)
    op.create_index("ix_alerts_raised_at_id", "alerts", ["raised_at", "id"], unique=False)
    op.create_index(op.f("ix_alerts_subject_id"), "alerts", ["subject_id"], unique=False)
    op.create_table(
        "cv_accounts",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("manual_grade", sa.String(length=1), nullable=True),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("costed_revenue", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("margin", sa.BigInteger(), nullable=False),
        sa.Column("order_count", sa.Integer(), nullable=False),
        sa.Column("first_order_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_order_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_order_sort", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_cv_accounts")),
    )
    op.create_index(
        "ix_cv_accounts_last_order", "cv_accounts", ["last_order_sort", "account_id"], unique=False
    )
    op.create_index("ix_cv_accounts_margin", "cv_accounts", ["margin", "account_id"], unique=False)
    op.create_index(op.f("ix_cv_accounts_owner_id"), "cv_accounts", ["owner_id"], unique=False)
    op.create_index(
        "ix_cv_accounts_revenue", "cv_accounts", ["revenue", "account_id"], unique=False
    )
    op.create_table(
        "cv_days",
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("costed_revenue", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cv_days")),
    )
    op.create_index("ix_cv_days_account_day", "cv_days", ["account_id", "day"], unique=False)
    op.create_index(op.f("ix_cv_days_day"), "cv_days", ["day"], unique=False)
    op.create_table(
        "dormancy_due",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("grade", sa.String(length=1), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("pending_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("archived", sa.Boolean(), nullable=False),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("alert_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_dormancy_due")),
    )
    op.create_index(
        "ix_dormancy_due_grade_pending", "dormancy_due", ["grade", "pending_since"], unique=False
    )
    op.create_table(
        "dormancy_orders",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_dormancy_orders")),
    )
    op.create_index(
        op.f("ix_dormancy_orders_account_id"), "dormancy_orders", ["account_id"], unique=False
    )
    op.create_table(
        "insight_account_owners",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_insight_account_owners")),
    )
    op.create_table(
        "insight_orders",
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("ordered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("open", sa.Boolean(), nullable=False),
        sa.Column("lines", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_insight_orders")),
    )
    op.create_index(
        op.f("ix_insight_orders_account_id"), "insight_orders", ["account_id"], unique=False
    )
    op.create_table(
        "kpi_account_owners",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_kpi_account_owners")),
    )
    op.create_table(
        "kpi_activity_days",
        sa.Column("id", sa.String(length=96), nullable=False),
        sa.Column("user_id", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("via", sa.String(length=10), nullable=False),
        sa.Column("activities", sa.Integer(), nullable=False),
        sa.Column("within_1h", sa.Integer(), nullable=False),
        sa.Column("within_1d", sa.Integer(), nullable=False),
        sa.Column("within_3d", sa.Integer(), nullable=False),
        sa.Column("later", sa.Integer(), nullable=False),
        sa.Column("recorded_by_next_10", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_activity_days")),
    )
    op.create_index(
        "ix_kpi_activity_days_user_day", "kpi_activity_days", ["user_id", "day"], unique=False
    )
    op.create_table(
        "kpi_completeness",
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("records", sa.Integer(), nullable=False),
        sa.Column("phone", sa.Integer(), nullable=False),
        sa.Column("email", sa.Integer(), nullable=False),
        sa.Column("occupation", sa.Integer(), nullable=False),
        sa.Column("birth_year", sa.Integer(), nullable=False),
        sa.Column("industry", sa.Integer(), nullable=False),
        sa.Column("address", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_completeness")),
    )
    op.create_index(
        op.f("ix_kpi_completeness_owner_id"), "kpi_completeness", ["owner_id"], unique=False
    )
    op.create_table(
        "kpi_opportunities",
        sa.Column("opportunity_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("opportunity_id", name=op.f("pk_kpi_opportunities")),
    )
    op.create_table(
        "kpi_owner_days",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("accounts_opened", sa.Integer(), nullable=False),
        sa.Column("opportunities_created", sa.Integer(), nullable=False),
        sa.Column("opportunities_won", sa.Integer(), nullable=False),
        sa.Column("opportunities_lost", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_kpi_owner_days")),
    )
    op.create_index(
        "ix_kpi_owner_days_owner_day", "kpi_owner_days", ["owner_id", "day"], unique=False
    )
    op.create_table(
        "kpi_records",
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("phone", sa.Boolean(), nullable=False),
        sa.Column("email", sa.Boolean(), nullable=False),
        sa.Column("occupation", sa.Boolean(), nullable=False),
        sa.Column("birth_year", sa.Boolean(), nullable=False),
        sa.Column("industry", sa.Boolean(), nullable=False),
        sa.Column("address", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_kpi_records")),
    )
    op.create_index(op.f("ix_kpi_records_account_id"), "kpi_records", ["account_id"], unique=False)
    op.create_table(
        "kpi_users",
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("team_id", sa.String(length=36), nullable=True),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_kpi_users")),
    )
    op.create_index(op.f("ix_kpi_users_team_id"), "kpi_users", ["team_id"], unique=False)
    op.create_table(
        "margin_days",
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("product_line", sa.String(length=64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("costed_revenue", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("quantity_milli", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_margin_days")),
    )
    op.create_index(op.f("ix_margin_days_day"), "margin_days", ["day"], unique=False)
    op.create_table(
        "revenue_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_revenue_days")),
    )
    op.create_table(
        "sla_due",
        sa.Column("id", sa.String(length=80), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("target", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("assignee_id", sa.String(length=36), nullable=True),
        sa.Column("episode", sa.Integer(), nullable=False),
        sa.Column("threshold_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("alert_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_due")),
    )
    op.create_index(op.f("ix_sla_due_due_at"), "sla_due", ["due_at"], unique=False)
    op.create_index(op.f("ix_sla_due_request_id"), "sla_due", ["request_id"], unique=False)
    op.create_table(
        "sla_requests",
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("assignee_id", sa.String(length=36), nullable=True),
        sa.Column("terms", sa.JSON(), nullable=True),
        sa.Column("first_responded", sa.Boolean(), nullable=False),
        sa.Column("resolution_episode", sa.Integer(), nullable=False),
        sa.Column("paused_since", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name=op.f("pk_sla_requests")),
    )
    op.create_table(
        "margin_months",
        sa.Column("id", sa.String(length=48), nullable=False),
        sa.Column("product_id", sa.String(length=36), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("product_line", sa.String(length=64), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("revenue", sa.BigInteger(), nullable=False),
        sa.Column("costed_revenue", sa.BigInteger(), nullable=False),
        sa.Column("cost", sa.BigInteger(), nullable=False),
        sa.Column("quantity_milli", sa.BigInteger(), nullable=False),
        sa.Column("lines", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_margin_months")),
    )
    op.create_index(op.f("ix_margin_months_month"), "margin_months", ["month"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_margin_months_month"), table_name="margin_months")
    op.drop_table("margin_months")
    op.drop_table("sla_requests")
    op.drop_index(op.f("ix_sla_due_request_id"), table_name="sla_due")
    op.drop_index(op.f("ix_sla_due_due_at"), table_name="sla_due")
    op.drop_table("sla_due")
    op.drop_table("revenue_days")
    op.drop_index(op.f("ix_margin_days_day"), table_name="margin_days")
    op.drop_table("margin_days")
    op.drop_index(op.f("ix_kpi_users_team_id"), table_name="kpi_users")
    op.drop_table("kpi_users")
    op.drop_index(op.f("ix_kpi_records_account_id"), table_name="kpi_records")
    op.drop_table("kpi_records")
    op.drop_index("ix_kpi_owner_days_owner_day", table_name="kpi_owner_days")
    op.drop_table("kpi_owner_days")
    op.drop_table("kpi_opportunities")
    op.drop_index(op.f("ix_kpi_completeness_owner_id"), table_name="kpi_completeness")
    op.drop_table("kpi_completeness")
    op.drop_index("ix_kpi_activity_days_user_day", table_name="kpi_activity_days")
    op.drop_table("kpi_activity_days")
    op.drop_table("kpi_account_owners")
    op.drop_index(op.f("ix_insight_orders_account_id"), table_name="insight_orders")
    op.drop_table("insight_orders")
    op.drop_table("insight_account_owners")
    op.drop_index(op.f("ix_dormancy_orders_account_id"), table_name="dormancy_orders")
    op.drop_table("dormancy_orders")
    op.drop_index("ix_dormancy_due_grade_pending", table_name="dormancy_due")
    op.drop_table("dormancy_due")
    op.drop_index(op.f("ix_cv_days_day"), table_name="cv_days")
    op.drop_index("ix_cv_days_account_day", table_name="cv_days")
    op.drop_table("cv_days")
    op.drop_index("ix_cv_accounts_revenue", table_name="cv_accounts")
    op.drop_index(op.f("ix_cv_accounts_owner_id"), table_name="cv_accounts")
    op.drop_index("ix_cv_accounts_margin", table_name="cv_accounts")
    op.drop_index("ix_cv_accounts_last_order", table_name="cv_accounts")
    op.drop_table("cv_accounts")
    op.drop_index(op.f("ix_alerts_subject_id"), table_name="alerts")
    op.drop_index("ix_alerts_raised_at_id", table_name="alerts")
    op.drop_index(op.f("ix_alerts_owner_id"), table_name="alerts")
    op.drop_index(op.f("ix_alerts_assignee_id"), table_name="alerts")
    op.drop_index(op.f("ix_alerts_account_id"), table_name="alerts")
    op.drop_table("alerts")
    op.drop_index(op.f("ix_alert_clearings_position"), table_name="alert_clearings")
    op.drop_table("alert_clearings")
    op.drop_table("alert_account_owners")
