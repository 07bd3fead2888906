"""stored automatic grades: per account the grade, its as-of and due instant; the rule state

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-26 07:10:00
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def upgrade() -> None:
    with op.batch_alter_table("cv_accounts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("auto_grade", sa.String(length=1), server_default="D", nullable=False)
        )
        batch_op.add_column(sa.Column("grade_as_of", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("grade_due", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("grade_stamp", sa.BigInteger(), server_default="0", nullable=False)
        )
        batch_op.create_index(batch_op.f("ix_cv_accounts_grade_due"), ["grade_due"], unique=False)
        batch_op.create_index(
            "ix_cv_accounts_grades", ["manual_grade", "auto_grade", "owner_id"], unique=False
        )
    op.create_table(
        "auto_grade_state",
        sa.Column("id", sa.String(length=16), nullable=False),
        sa.Column("rule", sa.String(length=200), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_auto_grade_state")),
    )
    # Accounts that have orders are graded by the next watchers' tick (until then, on the fly).
    accounts = sa.table("cv_accounts", sa.column("account_id"), sa.column("grade_due"))
    days = sa.table("cv_days", sa.column("account_id"))
    op.execute(
        accounts.update()
        .where(accounts.c.account_id.in_(sa.select(days.c.account_id).distinct()))
        .values(grade_due=sa.bindparam("epoch", EPOCH, type_=sa.DateTime(timezone=True)))
    )


def downgrade() -> None:
    op.drop_table("auto_grade_state")
    with op.batch_alter_table("cv_accounts", schema=None) as batch_op:
        batch_op.drop_index("ix_cv_accounts_grades")
        batch_op.drop_index(batch_op.f("ix_cv_accounts_grade_due"))
        batch_op.drop_column("grade_stamp")
        batch_op.drop_column("grade_due")
        batch_op.drop_column("grade_as_of")
        batch_op.drop_column("auto_grade")
