"""notifications: follows, notifications, mail deliveries, settings

Revision ID: 0901
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

import core.db

revision = '0901'
down_revision = '0001'
branch_labels = ('notify',)
depends_on = None


def _enum(*values: str) -> sa.Enum:
    return sa.Enum(*values, native_enum=False, length=30)


KINDS = (
    'program_live', 'program_reminder', 'session_reminder', 'question_answered', 'question_dismissed',
    'question_merged', 'faq_published', 'signup_pending', 'report_received',
)
STATES = ('pending', 'sending', 'sent', 'digest', 'digested', 'dropped', 'failed')


def upgrade() -> None:
    member_fk = lambda name: sa.ForeignKeyConstraint(  # noqa: E731
        ['member_id'], ['members.id'], name=op.f(f'fk_{name}_member_id_members'), ondelete='CASCADE'
    )
    op.create_table(
        'notify_follows',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('target', _enum('program', 'personality', 'section', 'series'), nullable=False),
        sa.Column('target_id', sa.Integer(), nullable=False),
        sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
        member_fk('notify_follows'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_follows')),
        sa.UniqueConstraint('member_id', 'target', 'target_id', name=op.f('uq_notify_follows_member_id')),
    )
    op.create_index('ix_notify_follows_target', 'notify_follows', ['target', 'target_id'])
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('kind', _enum(*KINDS), nullable=False),
        sa.Column('event_key', sa.String(200), nullable=False),
        sa.Column('title', sa.String(300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('url', sa.String(500), nullable=False),
        sa.Column('in_app', sa.Boolean(), nullable=False),
        sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('read_at', core.db.UTCDateTime(timezone=True), nullable=True),
        member_fk('notifications'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notifications')),
        sa.UniqueConstraint('member_id', 'event_key', name=op.f('uq_notifications_member_id')),
    )
    op.create_index('ix_notifications_member_id_id', 'notifications', ['member_id', 'id'])
    op.create_index('ix_notifications_created_at', 'notifications', ['created_at'])
    op.create_index('ix_notifications_event_key', 'notifications', ['event_key'])
    op.create_table(
        'notify_deliveries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('notification_id', sa.Integer(), nullable=True),
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(30), nullable=False),
        sa.Column('state', _enum(*STATES), nullable=False),
        sa.Column('subject', sa.String(300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column('claimed_by', sa.String(80), nullable=True),
        sa.Column('claimed_at', core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('sent_at', core.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column('digest_id', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.String(300), nullable=False),
        sa.Column('created_at', core.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ['notification_id'], ['notifications.id'],
            name=op.f('fk_notify_deliveries_notification_id_notifications'), ondelete='SET NULL',
        ),
        member_fk('notify_deliveries'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_notify_deliveries')),
        sa.UniqueConstraint('notification_id', name=op.f('uq_notify_deliveries_notification_id')),
    )
    op.create_index('ix_notify_deliveries_state_next', 'notify_deliveries', ['state', 'next_attempt_at'])
    op.create_index(op.f('ix_notify_deliveries_member_id'), 'notify_deliveries', ['member_id'])
    op.create_table(
        'notify_prefs',
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('kind', _enum(*KINDS), nullable=False),
        sa.Column('app', sa.Boolean(), nullable=False),
        sa.Column('mail', sa.Boolean(), nullable=False),
        member_fk('notify_prefs'),
        sa.PrimaryKeyConstraint('member_id', 'kind', name=op.f('pk_notify_prefs')),
    )
    op.create_table(
        'notify_settings',
        sa.Column('member_id', sa.Integer(), nullable=False),
        sa.Column('lead_minutes', sa.Integer(), nullable=False),
        sa.Column('digest', sa.Boolean(), nullable=False),
        sa.Column('quiet_start', sa.String(5), nullable=True),
        sa.Column('quiet_end', sa.String(5), nullable=True),
        sa.Column('digest_sent_on', sa.String(10), nullable=True),
        member_fk('notify_settings'),
        sa.PrimaryKeyConstraint('member_id', name=op.f('pk_notify_settings')),
    )


def downgrade() -> None:
    op.drop_table('notify_settings')
    op.drop_table('notify_prefs')
    op.drop_table('notify_deliveries')
    op.drop_table('notifications')
    op.drop_table('notify_follows')
