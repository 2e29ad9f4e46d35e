"""master data: duplicate-check keys with pg_trgm indexes, merge tombstones

Revision ID: 0003_master_data
Revises: 0002_hardening
"""
from alembic import op
import sqlalchemy as sa


revision = '0003_master_data'
down_revision = '0002_hardening'
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    postgres = bind.dialect.name == "postgresql"
    if postgres:
        # trigram similarity for the duplicate check's name pre-filter (storage/dedupe.py)
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_key', sa.String(length=200), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('name_city', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('name_pinyin', sa.String(length=400), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('merged_into_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('merged_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_customer_merged_into_id_customer'), 'customer',
                                    ['merged_into_id'], ['id'])
        batch_op.create_index(batch_op.f('ix_customer_merged_into_id'), ['merged_into_id'], unique=False)

    # existing customers get their keys from the same code the services use
    from storage.dedupe import name_keys
    customer = sa.table('customer', sa.column('id', sa.Integer), sa.column('kind', sa.String),
                        sa.column('name', sa.String), sa.column('name_key', sa.String),
                        sa.column('name_city', sa.String), sa.column('name_pinyin', sa.String))
    for row in bind.execute(sa.select(customer.c.id, customer.c.kind, customer.c.name)).all():
        key, city, pinyin = name_keys(row.kind, row.name)
        bind.execute(customer.update().where(customer.c.id == row.id)
                     .values(name_key=key, name_city=city, name_pinyin=pinyin))

    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.alter_column('name_key', server_default=None)
        batch_op.alter_column('name_pinyin', server_default=None)
        batch_op.create_index('ix_customer_name_key_trgm', ['name_key'], unique=False,
                              postgresql_using='gin', postgresql_ops={'name_key': 'gin_trgm_ops'})
        batch_op.create_index('ix_customer_org_name_pinyin', ['org_id', 'name_pinyin'], unique=False)
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_contact_email'), ['email'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('contact', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_contact_email'))
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_index('ix_customer_org_name_pinyin')
        batch_op.drop_index('ix_customer_name_key_trgm')
        batch_op.drop_index(batch_op.f('ix_customer_merged_into_id'))
        batch_op.drop_constraint(batch_op.f('fk_customer_merged_into_id_customer'), type_='foreignkey')
        batch_op.drop_column('merged_at')
        batch_op.drop_column('merged_into_id')
        batch_op.drop_column('name_pinyin')
        batch_op.drop_column('name_city')
        batch_op.drop_column('name_key')
