"""proposals: changes to automation that reviewers' labels support, under four eyes

Revision ID: 0012
Revises: 0011
Create Date: 2027-01-20 09:00:00.000000

Every reviewer decision on a match is a label.  From the labels, `accord link propose`
suggests trusting an agreement pattern that reviewers confirm often enough, and
`accord link reestimate` a model re-estimated from them; neither takes effect until two
different people approve it (``proposal_decisions``).  An approved proposal is a new
agreement version (or the register's current model) and a ledger leaf of kind
``governance`` at ``proposals.ledger_index``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "proposals",
        sa.Column("proposal_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=64), nullable=False),
        sa.Column("register", sa.String(length=64), nullable=False),
        sa.Column("agreement_id", sa.String(length=64), nullable=True),
        sa.Column("pattern", sa.Text(), nullable=True),
        sa.Column("model_id", sa.Integer(), nullable=True),
        sa.Column("based_on_version", sa.Integer(), nullable=True),
        sa.Column("based_on_model_id", sa.Integer(), nullable=True),
        sa.Column("labels", sa.Integer(), nullable=False),
        sa.Column("wrong", sa.Integer(), nullable=False),
        sa.Column("wrong_upper_per_10000", sa.Float(), nullable=True),
        sa.Column("automatic_gain", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=64), nullable=False),
        sa.Column("approvals_needed", sa.Integer(), nullable=False),
        sa.Column("proposed_by", sa.Text(), nullable=False),
        sa.Column("proposed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("approved_by", sa.Text(), nullable=True),
        sa.Column("result_version", sa.Integer(), nullable=True),
        sa.Column("ledger_index", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("proposal_id", name=op.f("pk_proposals")),
        sa.UniqueConstraint("ledger_index", name=op.f("uq_proposals_ledger_index")),
    )
    op.create_index(op.f("ix_proposals_register"), "proposals", ["register"])
    op.create_index(op.f("ix_proposals_agreement_id"), "proposals", ["agreement_id"])
    op.create_index(op.f("ix_proposals_status"), "proposals", ["status"])
    op.create_table(
        "proposal_decisions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("proposal_id", sa.String(length=64), nullable=False),
        sa.Column("reviewer", sa.Text(), nullable=False),
        sa.Column("decision", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["proposal_id"],
            ["proposals.proposal_id"],
            name=op.f("fk_proposal_decisions_proposal_id_proposals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_proposal_decisions")),
        sa.UniqueConstraint(
            "proposal_id", "reviewer", name=op.f("uq_proposal_decisions_proposal_id")
        ),
    )
    op.create_index(
        op.f("ix_proposal_decisions_proposal_id"), "proposal_decisions", ["proposal_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_proposal_decisions_proposal_id"), table_name="proposal_decisions")
    op.drop_table("proposal_decisions")
    op.drop_index(op.f("ix_proposals_status"), table_name="proposals")
    op.drop_index(op.f("ix_proposals_agreement_id"), table_name="proposals")
    op.drop_index(op.f("ix_proposals_register"), table_name="proposals")
    op.drop_table("proposals")
