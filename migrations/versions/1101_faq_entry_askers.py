"""faq entry askers: the asking municipalities of each draft and published entry

Revision ID: 1101
Revises: 0301
Create Date: 2026-12-01 21:10:00
"""

from alembic import op
import sqlalchemy as sa


revision = '1101'
down_revision = '0301'
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ('faq_draft_entries', 'faq_entries'):
        op.add_column(table, sa.Column('asker', sa.String(length=200), nullable=False, server_default=''))


def downgrade() -> None:
    for table in ('faq_draft_entries', 'faq_entries'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('asker')
