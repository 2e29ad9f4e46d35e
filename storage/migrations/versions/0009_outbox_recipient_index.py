"""outbox_message: index (recipient, created_at), the cards posted into one group chat

Revision ID: 0009_outbox_recipient_index
Revises: 0008_contact_extras
Create Date: 2026-12-02 10:00:00

A tap on a classic DingTalk ActionCard in a group arrives as the tapper's text; the card is looked
up among the newest cards posted into that group (bot/card_taps.py), by `recipient` (the group's
conversation id). `ix_outbox_message_recipient_created` (0001) is on recipient_user_id, the person
a message is about, and cannot serve it. Only an index: nothing to backfill.
"""
from alembic import op


revision = '0009_outbox_recipient_index'
down_revision = '0008_contact_extras'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # batch mode: SQLite rebuilds the table, PostgreSQL runs plain CREATE INDEX
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_message_chat_created', ['recipient', 'created_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox_message', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_message_chat_created')
