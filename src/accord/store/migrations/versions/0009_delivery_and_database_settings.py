"""delivery of reviewed disclosures, and settings kept with the database

Revision ID: 0009
Revises: 0008
Create Date: 2027-01-12 09:00:00.000000

A disclosure approved at review has no run, so no run's batch files carried it and no
recipient ever received it in a batch: ``disclosures.delivered_in`` now names the run
whose batches delivered it (NULL until then).  ``database_settings`` keeps settings
with the database itself, first the path of its ledger key, so that the same database
always finds its key.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column needs no table rebuild on SQLite: plain ALTER TABLE ADD COLUMN.
    op.add_column("disclosures", sa.Column("delivered_in", sa.String(length=64), nullable=True))
    op.create_table(
        "database_settings",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_database_settings")),
    )


def downgrade() -> None:
    op.drop_table("database_settings")
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.drop_column("delivered_in")
