"""ledger leaves on SQLite: the leaf index is the table's rowid

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 05:00:00.000000

SQLite makes a single-column primary key the table's rowid only when its declared type
is exactly INTEGER; ``leaf_index`` was declared BIGINT, so every leaf went into the
table and again into a separate primary-key index.  Declared INTEGER (the same 64-bit
values), a leaf is one B-tree entry, read by index directly: an append of 50,000
leaves writes about a fifth less (benchmarks/ledger.py).  PostgreSQL is unchanged.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def _retype(old: sa.types.TypeEngine[int], new: sa.types.TypeEngine[int]) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("ledger_leaves", recreate="always") as batch_op:
        batch_op.alter_column(
            "leaf_index",
            existing_type=old,
            type_=new,
            existing_nullable=False,
            autoincrement=False,
        )


def upgrade() -> None:
    _retype(sa.BigInteger(), sa.Integer())


def downgrade() -> None:
    _retype(sa.Integer(), sa.BigInteger())
