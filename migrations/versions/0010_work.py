"""work management: activities, timeline, tasks, work plans, notices, reports

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-26 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("account_owner_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("contact_id", sa.String(length=36), nullable=True),
        sa.Column("opportunity_id", sa.String(length=36), nullable=True),
        sa.Column("service_request_id", sa.String(length=36), nullable=True),
        sa.Column("duration_minutes", sa.Integer(), nullable=True),
        sa.Column("outcome", sa.String(length=500), nullable=True),
        sa.Column("next_step", sa.String(length=500), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("entered_by", sa.String(length=64), nullable=False),
        sa.Column("on_behalf_of", sa.String(length=36), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
    )
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.create_index(
            "ix_activities_account_id_occurred_at", ["account_id", "occurred_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_activities_account_owner_id"), ["account_owner_id"], unique=False
        )
        batch_op.create_index("ix_activities_occurred_at_id", ["occurred_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_activities_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "matter_reports",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("author_id", sa.String(length=36), nullable=False),
        sa.Column("addressed_to", sa.String(length=36), nullable=True),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("links", sa.JSON(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_matter_reports")),
    )
    with op.batch_alter_table("matter_reports", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_matter_reports_addressed_to"), ["addressed_to"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_matter_reports_author_id"), ["author_id"], unique=False
        )
        batch_op.create_index("ix_matter_reports_created_at_id", ["created_at", "id"], unique=False)

    op.create_table(
        "meeting_notices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("organizer_id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("place", sa.String(length=200), nullable=True),
        sa.Column("agenda", sa.Text(), nullable=True),
        sa.Column("attendees", sa.JSON(), nullable=False),
        sa.Column("acknowledged_count", sa.Integer(), nullable=False),
        sa.Column("cancelled", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_notices")),
    )
    with op.batch_alter_table("meeting_notices", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_meeting_notices_organizer_id"), ["organizer_id"], unique=False
        )
        batch_op.create_index("ix_meeting_notices_starts_at_id", ["starts_at", "id"], unique=False)

    op.create_table(
        "notice_attendees",
        sa.Column("notice_id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("notice_id", "user_id", name=op.f("pk_notice_attendees")),
    )
    with op.batch_alter_table("notice_attendees", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_notice_attendees_user_id"), ["user_id"], unique=False)

    op.create_table(
        "tasks",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("priority", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee_id", sa.String(length=36), nullable=False),
        sa.Column("linked_type", sa.String(length=32), nullable=True),
        sa.Column("linked_id", sa.String(length=36), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("on_behalf_of", sa.String(length=36), nullable=True),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
    )
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_tasks_assignee_id"), ["assignee_id"], unique=False)
        batch_op.create_index("ix_tasks_due_date_id", ["due_date", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_tasks_requested_by"), ["requested_by"], unique=False)

    op.create_table(
        "timeline",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("category", sa.String(length=32), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=64), nullable=False),
        sa.Column("summary", sa.String(length=300), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("on_behalf_of", sa.String(length=36), nullable=True),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_timeline")),
    )
    with op.batch_alter_table("timeline", schema=None) as batch_op:
        batch_op.create_index(
            "ix_timeline_account_id_occurred_at_position",
            ["account_id", "occurred_at", "position"],
            unique=False,
        )

    op.create_table(
        "timeline_records",
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("record_id", name=op.f("pk_timeline_records")),
    )
    op.create_table(
        "work_account_owners",
        sa.Column("account_id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.PrimaryKeyConstraint("account_id", name=op.f("pk_work_account_owners")),
    )
    op.create_table(
        "work_plans",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("owner_id", sa.String(length=36), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("period_kind", sa.String(length=8), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("comments", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=True),
        sa.Column("submissions", sa.Integer(), nullable=False),
        sa.Column("reviewed_by", sa.String(length=64), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_work_plans")),
    )
    with op.batch_alter_table("work_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_plans_owner_id"), ["owner_id"], unique=False)
        batch_op.create_index("ix_work_plans_period_owner_id", ["period", "owner_id"], unique=False)
        batch_op.create_index("ix_work_plans_period_start_id", ["period_start", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("work_plans", schema=None) as batch_op:
        batch_op.drop_index("ix_work_plans_period_start_id")
        batch_op.drop_index("ix_work_plans_period_owner_id")
        batch_op.drop_index(batch_op.f("ix_work_plans_owner_id"))

    op.drop_table("work_plans")
    op.drop_table("work_account_owners")
    op.drop_table("timeline_records")
    with op.batch_alter_table("timeline", schema=None) as batch_op:
        batch_op.drop_index("ix_timeline_account_id_occurred_at_position")

    op.drop_table("timeline")
    with op.batch_alter_table("tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_tasks_requested_by"))
        batch_op.drop_index("ix_tasks_due_date_id")
        batch_op.drop_index(batch_op.f("ix_tasks_assignee_id"))

    op.drop_table("tasks")
    with op.batch_alter_table("notice_attendees", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_notice_attendees_user_id"))

    op.drop_table("notice_attendees")
    with op.batch_alter_table("meeting_notices", schema=None) as batch_op:
        batch_op.drop_index("ix_meeting_notices_starts_at_id")
        batch_op.drop_index(batch_op.f("ix_meeting_notices_organizer_id"))

    op.drop_table("meeting_notices")
    with op.batch_alter_table("matter_reports", schema=None) as batch_op:
        batch_op.drop_index("ix_matter_reports_created_at_id")
        batch_op.drop_index(batch_op.f("ix_matter_reports_author_id"))
        batch_op.drop_index(batch_op.f("ix_matter_reports_addressed_to"))

    op.drop_table("matter_reports")
    with op.batch_alter_table("activities", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_activities_owner_id"))
        batch_op.drop_index("ix_activities_occurred_at_id")
        batch_op.drop_index(batch_op.f("ix_activities_account_owner_id"))
        batch_op.drop_index("ix_activities_account_id_occurred_at")

    op.drop_table("activities")
