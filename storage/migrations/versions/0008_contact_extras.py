"""contact: second mobile, fax, English name and title (what real business cards print)

Revision ID: 0008_contact_extras
Revises: 0005_imports
Create Date: 2026-11-30 21:30:00

All four are nullable and new, so nothing is backfilled. `mobile2` is indexed like `mobile`: the
duplicate check looks a mobile up in both columns.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_contact_extras'
down_revision = '0005_imports'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table, PostgreSQL runs plain ALTER TABLE statements
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.add_column(sa.Column('mobile2', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('fax', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('english_name', sa.String(length=100), nullable=True))
        batch_op.add_column(sa.Column('english_title', sa.String(length=100), nullable=True))
        batch_op.create_index(batch_op.f('ix_contact_mobile2'), ['mobile2'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_mobile2'))
        batch_op.drop_column('english_title')
        batch_op.drop_column('english_name')
        batch_op.drop_column('fax')
        batch_op.drop_column('mobile2')
