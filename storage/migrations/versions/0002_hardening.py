"""hardening: a per-user session version, so logging out or a role/team change revokes sessions

Revision ID: 0002_hardening
Revises: 0007_pinyin_keys
"""
from alembic import op
import sqlalchemy as sa


revision = '0002_hardening'
down_revision = '0007_pinyin_keys'  # re-chained onto main's head at the merge (brief: 0001)
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0',
                                      nullable=False))


def downgrade() -> None:
    with op.batch_alter_table('user_account', schema=None) as batch_op:
        batch_op.drop_column('session_version')
