"""custom fields (definitions and values) and customer preferences

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-26 07:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "field_definitions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_field_definitions")),
    )
    op.create_index(
        "ux_field_definitions_record_type_key",
        "field_definitions",
        ["record_type", "key"],
        unique=True,
    )
    op.create_table(
        "custom_field_values",
        sa.Column("record_type", sa.String(length=32), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=40), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("text_value", sa.String(length=255), nullable=True),
        sa.Column("number_value", sa.Numeric(precision=38, scale=10), nullable=True),
        sa.Column("date_value", sa.Date(), nullable=True),
        sa.Column("bool_value", sa.Boolean(), nullable=True),
        sa.Column("options_text", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint(
            "record_type", "record_id", "key", name=op.f("pk_custom_field_values")
        ),
    )
    for name, column in (
        ("ix_custom_field_values_text", "text_value"),
        ("ix_custom_field_values_number", "number_value"),
        ("ix_custom_field_values_date", "date_value"),
    ):
        op.create_index(name, "custom_field_values", ["record_type", "key", column])
    for table in ("accounts", "contacts"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("preferences", sa.JSON(), nullable=True))
        op.execute(sa.text(f"UPDATE {table} SET preferences = '{{}}'"))


def downgrade() -> None:
    for table in ("contacts", "accounts"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("preferences")
    op.drop_table("custom_field_values")
    op.drop_table("field_definitions")
