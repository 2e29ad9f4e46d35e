"""deals: closing fields on opportunity, approval requests

Revision ID: 0004_deals
Revises: 0001
Create Date: 2026-11-30 19:10:00
"""
from alembic import op
import sqlalchemy as sa


revision = '0004_deals'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('opportunity', schema=None) as batch_op:
        batch_op.add_column(sa.Column('discount_percent', sa.Numeric(precision=5, scale=2), nullable=True))
        batch_op.add_column(sa.Column('won_amount', sa.Numeric(precision=14, scale=2), nullable=True))
        batch_op.add_column(sa.Column('signed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('lost_competitor', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('lost_note', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True))

    op.create_table('approval',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('org_id', sa.Integer(), nullable=False),
    sa.Column('opportunity_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('requested_by_id', sa.Integer(), nullable=False),
    sa.Column('approver_id', sa.Integer(), nullable=False),
    sa.Column('copy_to_id', sa.Integer(), nullable=True),
    sa.Column('level', sa.String(length=16), nullable=False),
    sa.Column('discount_percent', sa.Numeric(precision=5, scale=2), nullable=True),
    sa.Column('amount', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('from_stage', sa.String(length=32), nullable=True),
    sa.Column('to_stage', sa.String(length=32), nullable=True),
    sa.Column('note', sa.String(length=200), nullable=True),
    sa.Column('reason', sa.String(length=200), nullable=True),
    sa.Column('decided_by_id', sa.Integer(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('escalate_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('escalations', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['approver_id'], ['user_account.id'], name=op.f('fk_approval_approver_id_user_account')),
    sa.ForeignKeyConstraint(['copy_to_id'], ['user_account.id'], name=op.f('fk_approval_copy_to_id_user_account')),
    sa.ForeignKeyConstraint(['decided_by_id'], ['user_account.id'], name=op.f('fk_approval_decided_by_id_user_account')),
    sa.ForeignKeyConstraint(['opportunity_id'], ['opportunity.id'], name=op.f('fk_approval_opportunity_id_opportunity')),
    sa.ForeignKeyConstraint(['org_id'], ['org.id'], name=op.f('fk_approval_org_id_org')),
    sa.ForeignKeyConstraint(['requested_by_id'], ['user_account.id'], name=op.f('fk_approval_requested_by_id_user_account')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_approval'))
    )
    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.create_index('ix_approval_opportunity_status', ['opportunity_id', 'status'], unique=False)
        batch_op.create_index('ix_approval_status_escalate', ['status', 'escalate_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('approval', schema=None) as batch_op:
        batch_op.drop_index('ix_approval_status_escalate')
        batch_op.drop_index('ix_approval_opportunity_status')
    op.drop_table('approval')
    with op.batch_alter_table('opportunity', schema=None) as batch_op:
        for column in ('closed_at', 'lost_note', 'lost_competitor', 'signed_on', 'won_amount', 'discount_percent'):
            batch_op.drop_column(column)
