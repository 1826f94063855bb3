"""alarm journal, alarm states and the notification outbox (owned by the alarms package)

Revision ID: 0101_alarms
Revises: 0002_audit_append_only
Create Date: 2026-11-28 07:50:00

The tables are declared in ``alarms/tables.py``; this revision is a frozen copy
of them at the time it was written. Timestamps are integer nanoseconds (UTC).
"""
from alembic import op
import sqlalchemy as sa

revision = '0101_alarms'
down_revision = '0002_audit_append_only'
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    """Create alarm_journal, alarm_state, notify_outbox and notify_attempt."""
    op.create_table(
        'alarm_journal',
        sa.Column('id', _ID, primary_key=True, autoincrement=True),
        sa.Column('ts_ns', sa.BigInteger(), nullable=False),
        sa.Column('alarm_id', sa.String(300), nullable=False),
        sa.Column('kind', sa.String(24), nullable=False),
        sa.Column('state_before', sa.String(24), nullable=False),
        sa.Column('state_after', sa.String(24), nullable=False),
        sa.Column('priority', sa.String(40), nullable=False),
        sa.Column('rule_type', sa.String(24), nullable=False),
        sa.Column('tag', sa.String(300)),
        sa.Column('area', sa.String(100)),
        sa.Column('equipment', sa.String(200)),
        sa.Column('building', sa.String(100)),
        sa.Column('value', sa.Text()),
        sa.Column('limit_value', sa.Text()),
        sa.Column('user_name', sa.String(200)),
        sa.Column('comment', sa.Text()),
        sa.Column('message', sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint('id', name='pk_alarm_journal'),
    )
    op.create_index('ix_alarm_journal_ts', 'alarm_journal', ['ts_ns'])
    op.create_index('ix_alarm_journal_alarm_ts', 'alarm_journal', ['alarm_id', 'ts_ns'])
    op.create_table(
        'alarm_state',
        sa.Column('alarm_id', sa.String(300), nullable=False),
        sa.Column('data', sa.Text(), nullable=False),
        sa.Column('updated_ns', sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint('alarm_id', name='pk_alarm_state'),
    )
    op.create_table(
        'notify_outbox',
        sa.Column('id', _ID, primary_key=True, autoincrement=True),
        sa.Column('created_ns', sa.BigInteger(), nullable=False),
        sa.Column('channel', sa.String(100), nullable=False),
        sa.Column('recipient', sa.String(300), nullable=False),
        sa.Column('subject', sa.Text(), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('payload', sa.Text()),
        sa.Column('source', sa.String(300)),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_ns', sa.BigInteger(), nullable=False),
        sa.Column('last_error', sa.Text()),
        sa.Column('sent_ns', sa.BigInteger()),
        sa.PrimaryKeyConstraint('id', name='pk_notify_outbox'),
    )
    op.create_index('ix_notify_outbox_due', 'notify_outbox', ['status', 'next_attempt_ns'])
    op.create_table(
        'notify_attempt',
        sa.Column('id', _ID, primary_key=True, autoincrement=True),
        sa.Column('message_id', sa.BigInteger(), nullable=False),
        sa.Column('ts_ns', sa.BigInteger(), nullable=False),
        sa.Column('ok', sa.Boolean(), nullable=False),
        sa.Column('error', sa.Text()),
        sa.PrimaryKeyConstraint('id', name='pk_notify_attempt'),
        sa.ForeignKeyConstraint(['message_id'], ['notify_outbox.id'], ondelete='CASCADE',
                                name='fk_notify_attempt_message_id_notify_outbox'),
    )
    op.create_index('ix_notify_attempt_message', 'notify_attempt', ['message_id'])


def downgrade() -> None:
    """Drop the alarm tables."""
    op.drop_index('ix_notify_attempt_message', table_name='notify_attempt')
    op.drop_table('notify_attempt')
    op.drop_index('ix_notify_outbox_due', table_name='notify_outbox')
    op.drop_table('notify_outbox')
    op.drop_table('alarm_state')
    op.drop_index('ix_alarm_journal_alarm_ts', table_name='alarm_journal')
    op.drop_index('ix_alarm_journal_ts', table_name='alarm_journal')
    op.drop_table('alarm_journal')
