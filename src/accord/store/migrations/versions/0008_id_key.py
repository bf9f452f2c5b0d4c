"""id key: a secret of the database that keys the ids of disclosures, recalls and reviews

Revision ID: 0008
Revises: 0007
Create Date: 2027-01-12 09:00:00.000000

Disclosure ids were a plain SHA-256 of agreement, record and person, so a recipient that
knows its own records (and the person ids that travel with cases) could recompute them,
learn which person each disclosure is about, and name another recipient's disclosures.
Ids are now an HMAC-SHA256 under a key made here, for every database new or upgraded, and
kept in ``secrets`` (accord.ids).  Ids made before keep their old spelling: they are
stored, never recomputed.
"""

from __future__ import annotations

import datetime as dt
import secrets

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    table = op.create_table(
        "secrets",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_secrets")),
    )
    op.bulk_insert(
        table,
        [
            {
                "name": "id_key",
                "value": secrets.token_bytes(32).hex(),
                "created_at": dt.datetime.now(dt.UTC),
            }
        ],
    )


def downgrade() -> None:
    op.drop_table("secrets")
