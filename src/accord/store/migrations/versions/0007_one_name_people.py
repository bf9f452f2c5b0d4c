"""people with one name: a case's or a person's family name or given names may be empty

Revision ID: 0007
Revises: 0006
Create Date: 2027-01-10 09:00:00.000000

Many people have one name (SPEC.md: either name part may be empty, not both).  Such a
name arrives with the other part empty, which Accord holds as NULL, so ``family_name``
and ``given_names`` of ``case_decisions`` and ``people`` may now be NULL; validation
still refuses a row with neither.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

TABLES = ("case_decisions", "people")
NAMES = ("family_name", "given_names")


def _nullable(nullable: bool) -> None:
    for table in TABLES:
        with op.batch_alter_table(table) as batch_op:
            for column in NAMES:
                batch_op.alter_column(
                    column,
                    existing_type=sa.Text(),
                    existing_nullable=not nullable,
                    nullable=nullable,
                )


def upgrade() -> None:
    _nullable(True)


def downgrade() -> None:
    # A one-name row keeps its name; the empty part becomes an empty text.
    for table in TABLES:
        for column in NAMES:
            op.execute(f"UPDATE {table} SET {column} = '' WHERE {column} IS NULL")
    _nullable(False)
