"""review decisions by reviewer: the workbench's count of a reviewer's decisions today

Revision ID: 0013
Revises: 0012
Create Date: 2027-01-20 09:00:00.000000

The review queue shows each reviewer how many items they have decided today, on every
page: one indexed range read on (reviewer, decided_at) rather than a scan of every
decision ever made.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_review_decisions_reviewer", "review_decisions", ["reviewer", "decided_at"])


def downgrade() -> None:
    op.drop_index("ix_review_decisions_reviewer", table_name="review_decisions")
