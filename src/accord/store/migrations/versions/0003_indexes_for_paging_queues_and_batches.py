"""indexes for paging queues and batches

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 23:20:48.273324
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.create_index(
            "ix_disclosures_recipient_page", ["recipient", "disclosure_id"], unique=False
        )

    with op.batch_alter_table("recalls", schema=None) as batch_op:
        batch_op.create_index("ix_recalls_recipient_page", ["recipient", "recall_id"], unique=False)

    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.create_index("ix_review_items_open_kind", ["status", "kind"], unique=False)
        batch_op.create_index(
            "ix_review_items_queue", ["status", "created_at", "item_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("review_items", schema=None) as batch_op:
        batch_op.drop_index("ix_review_items_queue")
        batch_op.drop_index("ix_review_items_open_kind")

    with op.batch_alter_table("recalls", schema=None) as batch_op:
        batch_op.drop_index("ix_recalls_recipient_page")

    with op.batch_alter_table("disclosures", schema=None) as batch_op:
        batch_op.drop_index("ix_disclosures_recipient_page")
