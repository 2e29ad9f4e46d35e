"""customer.pinyin_keys: pinyin of every part of a customer's and its contacts' names, for search

Revision ID: 0007_pinyin_keys
Revises: 0004_deals
Create Date: 2026-11-30 19:10:00
"""
from alembic import op
import sqlalchemy as sa

from storage.name_search import pinyin_keys

revision = '0007_pinyin_keys'
down_revision = '0004_deals'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.add_column(sa.Column('pinyin_keys', sa.String(length=1000), nullable=False, server_default='|'))
    # Existing customers get their keys now, so search finds them without a re-save.
    conn = op.get_bind()
    contacts: dict[int, list[str]] = {}
    for customer_id, name in conn.execute(sa.text("select customer_id, name from contact order by id")):
        contacts.setdefault(customer_id, []).append(name)
    for customer_id, name in conn.execute(sa.text("select id, name from customer")).all():
        conn.execute(sa.text("update customer set pinyin_keys = :keys where id = :id"),
                     {"keys": pinyin_keys(name, contacts.get(customer_id, [])), "id": customer_id})


def downgrade() -> None:
    with op.batch_alter_table('customer', schema=None) as batch_op:
        batch_op.drop_column('pinyin_keys')
