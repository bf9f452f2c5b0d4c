"""sessions ended at: signing out ends a user's sessions on the server

Revision ID: 0011
Revises: 0010
Create Date: 2027-01-13 09:00:00.000000

A session is a signed cookie, and signing out only asked the browser to forget it: a
copy kept from before stayed good until it expired.  ``users.sessions_ended_at`` is set
when the user signs out, and a session started at or before it is refused.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column needs no table rebuild on SQLite: plain ALTER TABLE ADD COLUMN.
    op.add_column("users", sa.Column("sessions_ended_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("sessions_ended_at")
