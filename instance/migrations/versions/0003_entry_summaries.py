"""entry summaries: written from the entries already stored

The tables ``entry_month_summaries``, ``entry_volunteer_summaries`` and ``entry_volunteer_counts`` are created by
the previous migration; from now on the session events of ``instance.models.summary_upkeep`` keep them, and this
one fills them from the entries an instance already holds.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 08:14:46.412556
"""

from __future__ import annotations

from alembic import op

from instance.models.summary_upkeep import rebuild_summaries

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    rebuild_summaries(op.get_bind())


def downgrade() -> None:
    pass  # the rows go with the tables, which the previous migration drops
