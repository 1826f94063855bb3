"""finance: year-end closings (append-only) and the period lock as a database trigger

Revision ID: 0303_finance_year_closing
Revises: 0302_finance_statement_index
Create Date: 2026-11-28 10:45:00

``fin_year_closings`` records each closing and reopening of a property's
fiscal year (UPDATE/DELETE refused like the other ledger tables). A trigger on
``fin_entries`` refuses an entry dated in (or before) a closed year unless it
is a closing entry itself: the same rule as ``business.finance.periods``, for
writes that do not go through the ledger module.
"""
from alembic import op
import sqlalchemy as sa

revision = '0303_finance_year_closing'
down_revision = '0302_finance_statement_index'
branch_labels = None
depends_on = None

# a closing is active when no later row (a reopen) exists for its property and year
LOCKED = """EXISTS (SELECT 1 FROM fin_year_closings c
    WHERE c.action = 'close' AND c.year >= {year}
      AND (NEW.property_id IS NULL OR c.property_id = NEW.property_id)
      AND NOT EXISTS (SELECT 1 FROM fin_year_closings r
                      WHERE r.property_id = c.property_id AND r.year = c.year AND r.id > c.id))
    AND NEW.kind NOT IN ('year_close', 'year_reopen')"""
MESSAGE = "fin_entries: the entry date falls in a closed fiscal year"
PG_FUNCTION = f"""
CREATE OR REPLACE FUNCTION spms_fin_period_lock() RETURNS trigger AS $$
BEGIN
    IF {LOCKED.format(year="CAST(EXTRACT(YEAR FROM NEW.date) AS INTEGER)")} THEN
        RAISE EXCEPTION '{MESSAGE} (%)', NEW.date;
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql
"""


def upgrade() -> None:
    """Create fin_year_closings with its append-only triggers and the period-lock trigger."""
    op.create_table(
        'fin_year_closings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('property_id', sa.Integer(), nullable=False),
        sa.Column('year', sa.Integer(), nullable=False),
        sa.Column('action', sa.String(length=8), nullable=False),
        sa.Column('entry_id', sa.Integer(), nullable=True),
        sa.Column('net', sa.BigInteger(), nullable=False),
        sa.Column('at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor', sa.String(length=64), nullable=False),
        sa.Column('reason', sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(['entry_id'], ['fin_entries.id'],
                                name=op.f('fk_fin_year_closings_entry_id_fin_entries')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_fin_year_closings')))
    op.create_index('ix_fin_year_closings_property_year', 'fin_year_closings', ['property_id', 'year'])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE TRIGGER fin_year_closings_append_only BEFORE UPDATE OR DELETE ON fin_year_closings "
                   "FOR EACH ROW EXECUTE FUNCTION spms_fin_append_only()")
        op.execute(PG_FUNCTION)
        op.execute("CREATE TRIGGER fin_entries_period_lock BEFORE INSERT ON fin_entries "
                   "FOR EACH ROW EXECUTE FUNCTION spms_fin_period_lock()")
    else:
        for what in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER fin_year_closings_no_{what.lower()} BEFORE {what} ON fin_year_closings "
                       "BEGIN SELECT RAISE(ABORT, 'fin_year_closings is append-only: reopen or close again'); END")
        op.execute("CREATE TRIGGER fin_entries_period_lock BEFORE INSERT ON fin_entries WHEN "
                   + LOCKED.format(year="CAST(strftime('%Y', NEW.date) AS INTEGER)")
                   + f" BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END")


def downgrade() -> None:
    """Drop the triggers and fin_year_closings."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS fin_entries_period_lock ON fin_entries")
        op.execute("DROP FUNCTION IF EXISTS spms_fin_period_lock()")
        op.execute("DROP TRIGGER IF EXISTS fin_year_closings_append_only ON fin_year_closings")
    else:
        op.execute("DROP TRIGGER IF EXISTS fin_entries_period_lock")
        for what in ("update", "delete"):
            op.execute(f"DROP TRIGGER IF EXISTS fin_year_closings_no_{what}")
    op.drop_index('ix_fin_year_closings_property_year', table_name='fin_year_closings')
    op.drop_table('fin_year_closings')
