"""faq attendance: who took part in a session, apart from who registered

Revision ID: 0902
Revises: 0301
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = '0902'
down_revision = '0301'
branch_labels = ('attendance',)
depends_on = None


def upgrade() -> None:
    op.create_table(
        'faq_attendances',
        sa.Column('session_id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('source', sa.String(20), nullable=False),
        sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['member_id'], ['members.id'], name=op.f('fk_faq_attendances_member_id_members'), ondelete='CASCADE'
        ),
        sa.ForeignKeyConstraint(
            ['session_id'], ['faq_sessions.id'], name=op.f('fk_faq_attendances_session_id_faq_sessions'),
            ondelete='CASCADE',
        ),
        sa.PrimaryKeyConstraint('session_id', 'member_id', name=op.f('pk_faq_attendances')),
    )


def downgrade() -> None:
    op.drop_table('faq_attendances')
