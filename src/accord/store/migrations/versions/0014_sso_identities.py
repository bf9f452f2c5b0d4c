"""sso identities: staff who sign in through OpenID Connect, by issuer and subject

Revision ID: 0014
Revises: 0013
Create Date: 2027-01-27 09:00:00.000000

A user who signs in through the department's identity provider is recorded once, by the
provider's issuer and the subject it names them by (``users.sso_issuer``,
``users.sso_subject``, unique together), so that every audit entry names the same user
however their display name or groups change.  ``users.sso_disabled`` marks an account
Accord disabled because the provider no longer gave it a group mapped to a role: a later
sign-in with such a group enables it again, while an administrator's
``accord users disable`` stays.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable columns (and one with a constant default) need no table rebuild on SQLite.
    op.add_column("users", sa.Column("sso_issuer", sa.Text()))
    op.add_column("users", sa.Column("sso_subject", sa.Text()))
    op.add_column(
        "users",
        sa.Column("sso_disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index("ux_users_sso_identity", "users", ["sso_issuer", "sso_subject"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_users_sso_identity", table_name="users")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("sso_disabled")
        batch_op.drop_column("sso_subject")
        batch_op.drop_column("sso_issuer")
