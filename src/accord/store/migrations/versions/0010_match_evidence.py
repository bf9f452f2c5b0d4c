"""match evidence: what decided whether a match could be acted on without a person

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 14:00:00.000000

A match's probability used to be the two records' comparison alone, capped below the
automatic band unless the full postcode agreed.  It is now the chance that the record is
the person's with every other candidate, lookalikes and the chance of no record
considered (accord.linkage.risk); ``evidence`` keeps the figures behind it (the pair's
own probability, the chance of the wrong person, the gap to the strongest rival, the
register's coverage, other records with the same names) so that a later approval, a
reviewer and an auditor see what the gate saw.  Matches made before keep NULL.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("matches") as batch_op:
        batch_op.add_column(sa.Column("evidence", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("matches") as batch_op:
        batch_op.drop_column("evidence")
