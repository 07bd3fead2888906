"""service: assets, service requests, routing, SLA, the customer email outbox, service analytics

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-26 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "assets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("account_owner_id", sa.String(length=36), nullable=False),
        sa.Column("serial_number", sa.String(length=100), nullable=False),
        sa.Column("asset_number", sa.String(length=100), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("product_id", sa.String(length=36), nullable=True),
        sa.Column("manufacturer", sa.String(length=200), nullable=True),
        sa.Column("install_date", sa.String(length=10), nullable=True),
        sa.Column("warranty_end", sa.String(length=10), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_assets")),
    )
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assets_account_id"), ["account_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_assets_account_owner_id"), ["account_owner_id"], unique=False
        )
        batch_op.create_index("ix_assets_created_at_id", ["created_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_assets_product_id"), ["product_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_assets_serial_number"), ["serial_number"], unique=False
        )

    op.create_table(
        "routing_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("conditions", sa.JSON(), nullable=False),
        sa.Column("assignee_id", sa.String(length=36), nullable=True),
        sa.Column("queue_id", sa.String(length=36), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_routing_rules")),
    )
    op.create_table(
        "service_account_owners",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_service_account_owners")),
    )
    op.create_table(
        "service_analytics_accounts",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_service_analytics_accounts")),
    )
    op.create_table(
        "service_analytics_assets",
        sa.Column("asset_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("product_id", sa.String(length=36), nullable=True),
        sa.Column("manufacturer", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("asset_id", name=op.f("pk_service_analytics_assets")),
    )
    op.create_table(
        "service_asset_totals",
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=36), nullable=False),
        sa.Column("assets", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "scope", "key", name=op.f("pk_service_asset_totals")),
    )
    op.create_table(
        "service_by_product",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("product_key", sa.String(length=450), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("product_id", sa.String(length=36), nullable=True),
        sa.Column("manufacturer", sa.String(length=200), nullable=True),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("requests", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "month", "owner_id", "product_key", "kind", name=op.f("pk_service_by_product")
        ),
    )
    op.create_table(
        "service_complaint_counts",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("key", sa.String(length=36), nullable=False),
        sa.Column("complaints", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "month", "owner_id", "scope", "key", name=op.f("pk_service_complaint_counts")
        ),
    )
    op.create_table(
        "service_email_deliveries",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_service_email_deliveries")),
    )
    with op.batch_alter_table("service_email_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_email_deliveries_next_attempt_at"),
            ["next_attempt_at"],
            unique=False,
        )

    op.create_table(
        "service_kpi_durations",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("metric", sa.String(length=20), nullable=False),
        sa.Column("bucket", sa.BigInteger(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "month", "owner_id", "metric", "bucket", name=op.f("pk_service_kpi_durations")
        ),
    )
    op.create_table(
        "service_kpi_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_response_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolve_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_responded", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_kpi_requests")),
    )
    op.create_table(
        "service_kpis",
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("opened", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("complaints", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("first_responses", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("first_response_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("first_response_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("first_response_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolutions", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolution_seconds", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolution_met", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("resolution_breached", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("evaluations", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("score_sum", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("satisfied", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("reopens", sa.BigInteger(), server_default="0", nullable=False),
        sa.PrimaryKeyConstraint("month", "owner_id", name=op.f("pk_service_kpis")),
    )
    op.create_table(
        "service_outbox",
        sa.Column("message_id", sa.String(length=36), nullable=False),
        sa.Column("request_id", sa.String(length=36), nullable=False),
        sa.Column("contact_id", sa.String(length=36), nullable=True),
        sa.Column("recipient", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=500), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_service_outbox")),
    )
    with op.batch_alter_table("service_outbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_outbox_contact_id"), ["contact_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_outbox_created_at"), ["created_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_outbox_request_id"), ["request_id"], unique=False
        )

    op.create_table(
        "service_queue_members",
        sa.Column("queue_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("queue_id", "user_id", name=op.f("pk_service_queue_members")),
    )
    with op.batch_alter_table("service_queue_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_queue_members_user_id"), ["user_id"], unique=False
        )

    op.create_table(
        "service_queues",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("member_ids", sa.JSON(), nullable=False),
        sa.Column("last_picked", sa.String(length=36), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_queues")),
    )
    op.create_table(
        "service_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("account_owner_id", sa.String(length=36), nullable=False),
        sa.Column("asset_id", sa.String(length=36), nullable=True),
        sa.Column("product_id", sa.String(length=36), nullable=True),
        sa.Column("contact_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=300), nullable=False),
        sa.Column("state", sa.String(length=30), nullable=False),
        sa.Column("assignee_id", sa.String(length=36), nullable=True),
        sa.Column("queue_id", sa.String(length=36), nullable=True),
        sa.Column("routed_by_rule_id", sa.String(length=36), nullable=True),
        sa.Column("reopen_count", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("first_responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_response_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolve_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_since", sa.DateTime(timezone=True), nullable=True),
        sa.Column("paused_seconds", sa.Float(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_requests")),
    )
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_service_requests_account_id"), ["account_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_requests_account_owner_id"), ["account_owner_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_requests_asset_id"), ["asset_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_requests_assignee_id"), ["assignee_id"], unique=False
        )
        batch_op.create_index(
            "ix_service_requests_created_at_id", ["created_at", "id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_requests_first_response_due_at"),
            ["first_response_due_at"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_service_requests_queue_id"), ["queue_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_service_requests_resolve_due_at"), ["resolve_due_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_service_requests_state"), ["state"], unique=False)

    op.create_table(
        "sla_policies",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sla_policies")),
        sa.UniqueConstraint("priority", name=op.f("uq_sla_policies_priority")),
    )


def downgrade() -> None:
    op.drop_table("sla_policies")
    with op.batch_alter_table("service_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_requests_state"))
        batch_op.drop_index(batch_op.f("ix_service_requests_resolve_due_at"))
        batch_op.drop_index(batch_op.f("ix_service_requests_queue_id"))
        batch_op.drop_index(batch_op.f("ix_service_requests_first_response_due_at"))
        batch_op.drop_index("ix_service_requests_created_at_id")
        batch_op.drop_index(batch_op.f("ix_service_requests_assignee_id"))
        batch_op.drop_index(batch_op.f("ix_service_requests_asset_id"))
        batch_op.drop_index(batch_op.f("ix_service_requests_account_owner_id"))
        batch_op.drop_index(batch_op.f("ix_service_requests_account_id"))

    op.drop_table("service_requests")
    op.drop_table("service_queues")
    with op.batch_alter_table("service_queue_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_queue_members_user_id"))

    op.drop_table("service_queue_members")
    with op.batch_alter_table("service_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_outbox_request_id"))
        batch_op.drop_index(batch_op.f("ix_service_outbox_created_at"))
        batch_op.drop_index(batch_op.f("ix_service_outbox_contact_id"))

    op.drop_table("service_outbox")
    op.drop_table("service_kpis")
    op.drop_table("service_kpi_requests")
    op.drop_table("service_kpi_durations")
    with op.batch_alter_table("service_email_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_service_email_deliveries_next_attempt_at"))

    op.drop_table("service_email_deliveries")
    op.drop_table("service_complaint_counts")
    op.drop_table("service_by_product")
    op.drop_table("service_asset_totals")
    op.drop_table("service_analytics_assets")
    op.drop_table("service_analytics_accounts")
    op.drop_table("service_account_owners")
    op.drop_table("routing_rules")
    with op.batch_alter_table("assets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assets_serial_number"))
        batch_op.drop_index(batch_op.f("ix_assets_product_id"))
        batch_op.drop_index("ix_assets_created_at_id")
        batch_op.drop_index(batch_op.f("ix_assets_account_owner_id"))
        batch_op.drop_index(batch_op.f("ix_assets_account_id"))

    op.drop_table("assets")
