"""finance: chart of accounts, journal (append-only), fee items, bills, payments, budgets

A frozen copy of ``business/finance/models.py``; ledger tables get triggers
that refuse UPDATE and DELETE.

Revision ID: 0301_finance
Revises: 0201_service_mgmt
Create Date: 2026-11-28 08:16:23.431525
"""
from alembic import op
import sqlalchemy as sa

revision = '0301_finance'
down_revision = '0201_service_mgmt'
branch_labels = None
depends_on = None



APPEND_ONLY = ("fin_entries", "fin_postings", "fin_allocations", "fin_callbacks")
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION spms_fin_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: post a reversing entry instead', TG_TABLE_NAME;
END;
$$ LANGUAGE plpgsql
"""


def _append_only() -> None:
    """Triggers that abort UPDATE and DELETE on the ledger tables."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        for t in APPEND_ONLY:
            op.execute(f"CREATE TRIGGER {t}_append_only BEFORE UPDATE OR DELETE ON {t} "
                       "FOR EACH ROW EXECUTE FUNCTION spms_fin_append_only()")
    else:
        for t in APPEND_ONLY:
            for what in ("UPDATE", "DELETE"):
                op.execute(f"CREATE TRIGGER {t}_no_{what.lower()} BEFORE {what} ON {t} "
                           f"BEGIN SELECT RAISE(ABORT, '{t} is append-only: post a reversing entry instead'); END")


def _drop_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for t in APPEND_ONLY:
            op.execute(f"DROP TRIGGER IF EXISTS {t}_append_only ON {t}")
        op.execute("DROP FUNCTION IF EXISTS spms_fin_append_only()")
    else:
        for t in APPEND_ONLY:
            for what in ("update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {t}_no_{what}")


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('fin_accounts',
    sa.Column('code', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=120), nullable=False),
    sa.Column('name_zh', sa.String(length=120), nullable=False),
    sa.Column('type', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=32), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('code', name=op.f('pk_fin_accounts'))
    )
    op.create_table('fin_billing_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('property_id', sa.Integer(), nullable=False),
    sa.Column('period', sa.String(length=7), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('summary', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fin_billing_runs'))
    )
    with op.batch_alter_table('fin_billing_runs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fin_billing_runs_period'), ['period'], unique=False)
        batch_op.create_index(batch_op.f('ix_fin_billing_runs_property_id'), ['property_id'], unique=False)

    op.create_table('fin_callbacks',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('order_no', sa.String(length=40), nullable=False),
    sa.Column('external_ref', sa.String(length=120), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reason', sa.String(length=400), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fin_callbacks'))
    )
    op.create_table('fin_entries',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ref', sa.String(length=120), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('property_id', sa.Integer(), nullable=True),
    sa.Column('memo', sa.String(length=400), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('reverses_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['reverses_id'], ['fin_entries.id'], name=op.f('fk_fin_entries_reverses_id_fin_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fin_entries')),
    sa.UniqueConstraint('ref', name=op.f('uq_fin_entries_ref')),
    sa.UniqueConstraint('reverses_id', name=op.f('uq_fin_entries_reverses_id'))
    )
    with op.batch_alter_table('fin_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fin_entries_date'), ['date'], unique=False)
        batch_op.create_index(batch_op.f('ix_fin_entries_property_id'), ['property_id'], unique=False)

    op.create_table('fin_bills',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bill_no', sa.String(length=32), nullable=False),
    sa.Column('run_id', sa.Integer(), nullable=True),
    sa.Column('property_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('space_id', sa.Integer(), nullable=True),
    sa.Column('subject', sa.String(length=40), nullable=False),
    sa.Column('period', sa.String(length=16), nullable=False),
    sa.Column('issued_on', sa.Date(), nullable=False),
    sa.Column('due_on', sa.Date(), nullable=False),
    sa.Column('grace_until', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['entry_id'], ['fin_entries.id'], name=op.f('fk_fin_bills_entry_id_fin_entries')),
    sa.ForeignKeyConstraint(['run_id'], ['fin_billing_runs.id'], name=op.f('fk_fin_bills_run_id_fin_billing_runs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fin_bills')),
    sa.UniqueConstraint('bill_no', name=op.f('uq_fin_bills_bill_no')),
    sa.UniqueConstraint('period', 'subject', name=op.f('uq_fin_bills_period_subject'))
    )
    with op.batch_alter_table('fin_bills', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fin_bills_building_id'), ['building_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fin_bills_due_on'), ['due_on'], unique=False)
        batch_op.create_index(batch_op.f('ix_fin_bills_property_id'), ['property_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fin_bills_run_id'), ['run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fin_bills_unit_id'), ['unit_id'], unique=False)

    op.create_table('fin_budgets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('property_id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('month', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=16), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['account'], ['fin_accounts.code'], name=op.f('fk_fin_budgets_account_fin_accounts')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fin_budgets')),
    sa.UniqueConstraint('property_id', 'year', 'month', 'account', 'building_id', name=op.f('uq_fin_budgets_property_id_year_month_account_building_id'))
    )
    op.create_table('fin_expenses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('property_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('supplier', sa.String(length=200), nullable=False),
    sa.Column('invoice_no', sa.String(length=64), nullable=False),
    sa.Column('account', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('invoice_date', sa.Date(), nullable=False),
    sa.Column('source', sa.String(length=120), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['account'], ['fin_accounts.code'], name=op.f('fk_fin_expenses_account_fin_accounts')),
    sa.ForeignKeyConstraint(['entry_id'], ['fin_entries.id'], name=op.f('fk_fin_expenses_entry_id_fin_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fin_expenses')),
    sa.UniqueConstraint('supplier', 'invoice_no', name=op.f('uq_fin_expenses_supplier_invoice_no'))
    )
    with op.batch_alter_table('fin_expenses', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fin_expenses_property_id'), ['property_id'], unique=False)

    op.create_table('fin_fee_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('property_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('params', sa.JSON(), nullable=False),
    sa.Column('cycle_months', sa.Integer(), nullable=False),
    sa.Column('prepaid', sa.Boolean(), nullable=False),
    sa.Column('due_days', sa.Integer(), nullable=False),
    sa.Column('grace_days', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=16), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.ForeignKeyConstraint(['account'], ['fin_accounts.code'], name=op.f('fk_fin_fee_items_account_fin_accounts')),
    sa.ForeignKeyConstraint(['property_id'], ['properties.id'], name=op.f('fk_fin_fee_items_property_id_properties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fin_fee_items')),
    sa.UniqueConstraint('code', name=op.f('uq_fin_fee_items_code'))
    )
    with op.batch_alter_table('fin_fee_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fin_fee_items_property_id'), ['property_id'], unique=False)

    op.create_table('fin_payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('receipt_no', sa.String(length=32), nullable=False),
    sa.Column('kind', sa.String(length=12), nullable=False),
    sa.Column('method', sa.String(length=24), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('external_ref', sa.String(length=120), nullable=True),
    sa.Column('property_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('memo', sa.String(length=400), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['fin_entries.id'], name=op.f('fk_fin_payments_entry_id_fin_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fin_payments')),
    sa.UniqueConstraint('external_ref', name=op.f('uq_fin_payments_external_ref')),
    sa.UniqueConstraint('receipt_no', name=op.f('uq_fin_payments_receipt_no'))
    )
    with op.batch_alter_table('fin_payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fin_payments_property_id'), ['property_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fin_payments_unit_id'), ['unit_id'], unique=False)

    op.create_table('fin_postings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('account', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('property_id', sa.Integer(), nullable=True),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['account'], ['fin_accounts.code'], name=op.f('fk_fin_postings_account_fin_accounts')),
    sa.ForeignKeyConstraint(['entry_id'], ['fin_entries.id'], name=op.f('fk_fin_postings_entry_id_fin_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fin_postings'))
    )
    with op.batch_alter_table('fin_postings', schema=None) as batch_op:
        batch_op.create_index('ix_fin_postings_account_date', ['account', 'date'], unique=False)
        batch_op.create_index(batch_op.f('ix_fin_postings_building_id'), ['building_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fin_postings_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fin_postings_unit_id'), ['unit_id'], unique=False)

    op.create_table('fin_bill_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bill_id', sa.Integer(), nullable=False),
    sa.Column('fee_code', sa.String(length=64), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('description', sa.String(length=400), nullable=False),
    sa.Column('quantity', sa.String(length=40), nullable=False),
    sa.Column('unit_price', sa.String(length=40), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('account', sa.String(length=16), nullable=False),
    sa.Column('held', sa.Boolean(), nullable=False),
    sa.Column('hold_reason', sa.String(length=200), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['bill_id'], ['fin_bills.id'], name=op.f('fk_fin_bill_lines_bill_id_fin_bills')),
    sa.ForeignKeyConstraint(['entry_id'], ['fin_entries.id'], name=op.f('fk_fin_bill_lines_entry_id_fin_entries')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fin_bill_lines'))
    )
    with op.batch_alter_table('fin_bill_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fin_bill_lines_bill_id'), ['bill_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fin_bill_lines_entry_id'), ['entry_id'], unique=False)

    op.create_table('fin_payment_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_no', sa.String(length=40), nullable=False),
    sa.Column('provider', sa.String(length=32), nullable=False),
    sa.Column('property_id', sa.Integer(), nullable=False),
    sa.Column('unit_id', sa.Integer(), nullable=False),
    sa.Column('bill_ids', sa.JSON(), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['payment_id'], ['fin_payments.id'], name=op.f('fk_fin_payment_orders_payment_id_fin_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fin_payment_orders')),
    sa.UniqueConstraint('order_no', name=op.f('uq_fin_payment_orders_order_no'))
    )
    with op.batch_alter_table('fin_payment_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fin_payment_orders_unit_id'), ['unit_id'], unique=False)

    op.create_table('fin_reminders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('bill_id', sa.Integer(), nullable=False),
    sa.Column('step', sa.String(length=24), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('recipient', sa.String(length=200), nullable=False),
    sa.Column('outbox_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['bill_id'], ['fin_bills.id'], name=op.f('fk_fin_reminders_bill_id_fin_bills')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fin_reminders')),
    sa.UniqueConstraint('bill_id', 'step', name=op.f('uq_fin_reminders_bill_id_step'))
    )
    op.create_table('fin_allocations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('line_id', sa.Integer(), nullable=False),
    sa.Column('entry_id', sa.Integer(), nullable=False),
    sa.Column('payment_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['entry_id'], ['fin_entries.id'], name=op.f('fk_fin_allocations_entry_id_fin_entries')),
    sa.ForeignKeyConstraint(['line_id'], ['fin_bill_lines.id'], name=op.f('fk_fin_allocations_line_id_fin_bill_lines')),
    sa.ForeignKeyConstraint(['payment_id'], ['fin_payments.id'], name=op.f('fk_fin_allocations_payment_id_fin_payments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fin_allocations'))
    )
    with op.batch_alter_table('fin_allocations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_fin_allocations_entry_id'), ['entry_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fin_allocations_line_id'), ['line_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_fin_allocations_payment_id'), ['payment_id'], unique=False)
    _append_only()


def downgrade() -> None:
    """Drop the finance tables."""
    _drop_append_only()
    with op.batch_alter_table('fin_allocations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fin_allocations_payment_id'))
        batch_op.drop_index(batch_op.f('ix_fin_allocations_line_id'))
        batch_op.drop_index(batch_op.f('ix_fin_allocations_entry_id'))

    op.drop_table('fin_allocations')
    op.drop_table('fin_reminders')
    with op.batch_alter_table('fin_payment_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fin_payment_orders_unit_id'))

    op.drop_table('fin_payment_orders')
    with op.batch_alter_table('fin_bill_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fin_bill_lines_entry_id'))
        batch_op.drop_index(batch_op.f('ix_fin_bill_lines_bill_id'))

    op.drop_table('fin_bill_lines')
    with op.batch_alter_table('fin_postings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fin_postings_unit_id'))
        batch_op.drop_index(batch_op.f('ix_fin_postings_entry_id'))
        batch_op.drop_index(batch_op.f('ix_fin_postings_building_id'))
        batch_op.drop_index('ix_fin_postings_account_date')

    op.drop_table('fin_postings')
    with op.batch_alter_table('fin_payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fin_payments_unit_id'))
        batch_op.drop_index(batch_op.f('ix_fin_payments_property_id'))

    op.drop_table('fin_payments')
    with op.batch_alter_table('fin_fee_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fin_fee_items_property_id'))

    op.drop_table('fin_fee_items')
    with op.batch_alter_table('fin_expenses', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fin_expenses_property_id'))

    op.drop_table('fin_expenses')
    op.drop_table('fin_budgets')
    with op.batch_alter_table('fin_bills', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fin_bills_unit_id'))
        batch_op.drop_index(batch_op.f('ix_fin_bills_run_id'))
        batch_op.drop_index(batch_op.f('ix_fin_bills_property_id'))
        batch_op.drop_index(batch_op.f('ix_fin_bills_due_on'))
        batch_op.drop_index(batch_op.f('ix_fin_bills_building_id'))

    op.drop_table('fin_bills')
    with op.batch_alter_table('fin_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fin_entries_property_id'))
        batch_op.drop_index(batch_op.f('ix_fin_entries_date'))

    op.drop_table('fin_entries')
    op.drop_table('fin_callbacks')
    with op.batch_alter_table('fin_billing_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_fin_billing_runs_property_id'))
        batch_op.drop_index(batch_op.f('ix_fin_billing_runs_period'))

    op.drop_table('fin_billing_runs')
    op.drop_table('fin_accounts')
