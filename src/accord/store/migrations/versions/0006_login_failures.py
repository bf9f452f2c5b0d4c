"""login failures: consecutive failed sign-ins per username, and the lock they earn

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 07:00:00.000000

Passwords were checked at whatever rate a caller could send them (scrypt made each guess
cost about 50 ms, no more).  A username now earns a lock after a few consecutive
failures, doubling with each further one up to a ceiling (accord.identity); a count is
forgotten a day after its last failure.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_login_failures")),
    )
    op.create_index(op.f("ix_login_failures_last_failed_at"), "login_failures", ["last_failed_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_login_failures_last_failed_at"), table_name="login_failures")
    op.drop_table("login_failures")
