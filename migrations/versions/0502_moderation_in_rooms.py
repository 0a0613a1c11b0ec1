"""moderation in rooms: hidden comments, questions, held-comment refs, viewer samples

Revision ID: 0502
Revises: 0201, 0501
Create Date: 2026-11-22 07:00:00

Merge point of the comment rooms (0201) and the moderation core (0501).
"""

from alembic import op
import sqlalchemy as sa
import core.db


revision = '0502'
down_revision = ('0201', '0501')
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('room_comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('is_question', sa.Boolean(), server_default=sa.false(), nullable=False))
        batch_op.add_column(sa.Column('hidden_at', core.db.UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('hidden_by_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f('fk_room_comments_hidden_by_id_members'), 'members', ['hidden_by_id'], ['id'], ondelete='SET NULL'
        )
    with op.batch_alter_table('held_comments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('ref', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint('uq_held_comments_ref', ['broadcast_id', 'member_id', 'ref'])
    op.create_table('viewer_samples',
    sa.Column('broadcast_id', sa.Integer(), nullable=False),
    sa.Column('at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('viewers', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['broadcast_id'], ['broadcasts.id'], name=op.f('fk_viewer_samples_broadcast_id_broadcasts'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('broadcast_id', 'at', name=op.f('pk_viewer_samples'))
    )


def downgrade() -> None:
    op.drop_table('viewer_samples')
    with op.batch_alter_table('held_comments', schema=None) as batch_op:
        batch_op.drop_constraint('uq_held_comments_ref', type_='unique')
        batch_op.drop_column('ref')
    with op.batch_alter_table('room_comments', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_room_comments_hidden_by_id_members'), type_='foreignkey')
        batch_op.drop_column('hidden_by_id')
        batch_op.drop_column('hidden_at')
        batch_op.drop_column('is_question')
