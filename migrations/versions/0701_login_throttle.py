"""login throttle: failures and the next allowed attempt per key (device, address+IP, address, IP)

Revision ID: 0701
Revises: 0001
Create Date: 2026-12-01 20:50:00
"""

from alembic import op
import sqlalchemy as sa
import core.db


revision = '0701'
down_revision = '0001'
branch_labels = ('login_throttle',)
depends_on = None


def upgrade() -> None:
    op.create_table('login_throttle',
    sa.Column('key', sa.String(length=320), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('next_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_at', core.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttle'))
    )


def downgrade() -> None:
    op.drop_table('login_throttle')
