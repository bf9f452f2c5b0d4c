"""score disclosures: a disclosure and a review item may name the derived score they are about

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 10:00:00.000000

A disclosure was unique per agreement, record and person; a derived score (F8) is
disclosed on the same matched record as the person's casework, and a person may have
several scores, so the key gains ``score_id`` (``''`` for a disclosure that is not a
score, so that the constraint still holds for those on both backends).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("score_id", sa.String(length=64), server_default="", nullable=False)
        )
        batch_op.drop_constraint("uq_disclosures_agreement_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_disclosures_agreement_id", ["agreement_id", "record_id", "person_id", "score_id"]
        )

    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.add_column(sa.Column("score_id", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_column("score_id")

    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.drop_constraint("uq_disclosures_agreement_id", type_="unique")
        batch_op.create_unique_constraint(
            "uq_disclosures_agreement_id", ["agreement_id", "record_id", "person_id"]
        )
        batch_op.drop_column("score_id")
