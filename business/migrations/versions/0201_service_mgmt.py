"""work orders, ratings, preventive maintenance, community activities (service management)

Revision ID: 0201_service_mgmt
Revises: 0101_alarms
Create Date: 2026-11-28 08:09:25

A frozen copy of ``business/service_mgmt/models.py`` at the time it was written.
"""
from alembic import op
import sqlalchemy as sa


revision = '0201_service_mgmt'
down_revision = '0101_alarms'
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table('activities',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('property_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('place', sa.String(length=200), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('capacity', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_by', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_activities_building_id_buildings')),
    sa.ForeignKeyConstraint(['property_id'], ['properties.id'], name=op.f('fk_activities_property_id_properties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activities'))
    )
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activities_building_id'), ['building_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_activities_property_id'), ['property_id'], unique=False)

    op.create_table('activity_registrations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('activity_id', sa.Integer(), nullable=False),
    sa.Column('person_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('registered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('checked_in_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_activity_registrations_activity_id_activities')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_activity_registrations_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activity_registrations')),
    sa.UniqueConstraint('activity_id', 'person_id', name=op.f('uq_activity_registrations_activity_id_person_id'))
    )
    with op.batch_alter_table('activity_registrations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_activity_registrations_activity_id'), ['activity_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_activity_registrations_person_id'), ['person_id'], unique=False)

    op.create_table('pm_plans',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('property_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.String(length=64), nullable=False),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('every', sa.Integer(), nullable=True),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('dates', sa.JSON(), nullable=False),
    sa.Column('tag', sa.String(length=100), nullable=False),
    sa.Column('threshold', sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=True),
    sa.Column('lead', sa.Numeric(precision=14, scale=2, asdecimal=False), nullable=False),
    sa.Column('lead_days', sa.Integer(), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('state', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_pm_plans_asset_id_assets')),
    sa.ForeignKeyConstraint(['property_id'], ['properties.id'], name=op.f('fk_pm_plans_property_id_properties')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_pm_plans')),
    sa.UniqueConstraint('code', name=op.f('uq_pm_plans_code'))
    )
    with op.batch_alter_table('pm_plans', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_pm_plans_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_pm_plans_property_id'), ['property_id'], unique=False)

    op.create_table('work_orders',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=32), nullable=False),
    sa.Column('property_id', sa.Integer(), nullable=False),
    sa.Column('building_id', sa.Integer(), nullable=True),
    sa.Column('unit_id', sa.Integer(), nullable=True),
    sa.Column('asset_id', sa.Integer(), nullable=True),
    sa.Column('equipment_id', sa.String(length=200), nullable=True),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('priority', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('state', sa.String(length=16), nullable=False),
    sa.Column('skills', sa.JSON(), nullable=False),
    sa.Column('photos', sa.JSON(), nullable=False),
    sa.Column('preferred_visit', sa.String(length=100), nullable=False),
    sa.Column('reporter_person_id', sa.Integer(), nullable=True),
    sa.Column('reporter_user', sa.String(length=64), nullable=False),
    sa.Column('assignee_staff_id', sa.Integer(), nullable=True),
    sa.Column('parent_id', sa.Integer(), nullable=True),
    sa.Column('alarm_ids', sa.JSON(), nullable=False),
    sa.Column('plan_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('response_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completion_due', sa.DateTime(timezone=True), nullable=True),
    sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('accepted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('verified_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('fault_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('healthy_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('downtime_s', sa.Numeric(precision=14, scale=1, asdecimal=False), nullable=True),
    sa.Column('escalated', sa.Integer(), nullable=False),
    sa.Column('reopen_count', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['asset_id'], ['assets.id'], name=op.f('fk_work_orders_asset_id_assets')),
    sa.ForeignKeyConstraint(['assignee_staff_id'], ['staff.id'], name=op.f('fk_work_orders_assignee_staff_id_staff')),
    sa.ForeignKeyConstraint(['building_id'], ['buildings.id'], name=op.f('fk_work_orders_building_id_buildings')),
    sa.ForeignKeyConstraint(['parent_id'], ['work_orders.id'], name=op.f('fk_work_orders_parent_id_work_orders')),
    sa.ForeignKeyConstraint(['plan_id'], ['pm_plans.id'], name=op.f('fk_work_orders_plan_id_pm_plans')),
    sa.ForeignKeyConstraint(['property_id'], ['properties.id'], name=op.f('fk_work_orders_property_id_properties')),
    sa.ForeignKeyConstraint(['reporter_person_id'], ['people.id'], name=op.f('fk_work_orders_reporter_person_id_people')),
    sa.ForeignKeyConstraint(['unit_id'], ['units.id'], name=op.f('fk_work_orders_unit_id_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_orders')),
    sa.UniqueConstraint('number', name=op.f('uq_work_orders_number'))
    )
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_orders_asset_id'), ['asset_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_orders_assignee_staff_id'), ['assignee_staff_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_orders_building_id'), ['building_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_orders_equipment_id'), ['equipment_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_orders_parent_id'), ['parent_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_orders_plan_id'), ['plan_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_orders_property_id'), ['property_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_orders_reporter_person_id'), ['reporter_person_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_orders_state'), ['state'], unique=False)
        batch_op.create_index(batch_op.f('ix_work_orders_unit_id'), ['unit_id'], unique=False)

    op.create_table('work_order_costs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=8), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=12, scale=2), nullable=False),
    sa.Column('unit_price', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['work_orders.id'], name=op.f('fk_work_order_costs_order_id_work_orders')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_work_order_costs_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_order_costs'))
    )
    with op.batch_alter_table('work_order_costs', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_order_costs_order_id'), ['order_id'], unique=False)

    op.create_table('work_order_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=24), nullable=False),
    sa.Column('from_state', sa.String(length=16), nullable=True),
    sa.Column('to_state', sa.String(length=16), nullable=True),
    sa.Column('comment', sa.String(length=2000), nullable=False),
    sa.Column('data', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['work_orders.id'], name=op.f('fk_work_order_events_order_id_work_orders')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_order_events'))
    )
    with op.batch_alter_table('work_order_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_order_events_order_id'), ['order_id'], unique=False)

    op.create_table('work_order_ratings',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=True),
    sa.Column('score', sa.Integer(), nullable=False),
    sa.Column('comment', sa.String(length=1000), nullable=False),
    sa.Column('by', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['work_orders.id'], name=op.f('fk_work_order_ratings_order_id_work_orders')),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_work_order_ratings_staff_id_staff')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_work_order_ratings')),
    sa.UniqueConstraint('order_id', name=op.f('uq_work_order_ratings_order_id'))
    )
    with op.batch_alter_table('work_order_ratings', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_work_order_ratings_staff_id'), ['staff_id'], unique=False)



def downgrade() -> None:
    """Undo this revision."""
    with op.batch_alter_table('work_order_ratings', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_order_ratings_staff_id'))

    op.drop_table('work_order_ratings')
    with op.batch_alter_table('work_order_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_order_events_order_id'))

    op.drop_table('work_order_events')
    with op.batch_alter_table('work_order_costs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_order_costs_order_id'))

    op.drop_table('work_order_costs')
    with op.batch_alter_table('work_orders', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_work_orders_unit_id'))
        batch_op.drop_index(batch_op.f('ix_work_orders_state'))
        batch_op.drop_index(batch_op.f('ix_work_orders_reporter_person_id'))
        batch_op.drop_index(batch_op.f('ix_work_orders_property_id'))
        batch_op.drop_index(batch_op.f('ix_work_orders_plan_id'))
        batch_op.drop_index(batch_op.f('ix_work_orders_parent_id'))
        batch_op.drop_index(batch_op.f('ix_work_orders_equipment_id'))
        batch_op.drop_index(batch_op.f('ix_work_orders_building_id'))
        batch_op.drop_index(batch_op.f('ix_work_orders_assignee_staff_id'))
        batch_op.drop_index(batch_op.f('ix_work_orders_asset_id'))

    op.drop_table('work_orders')
    with op.batch_alter_table('pm_plans', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_pm_plans_property_id'))
        batch_op.drop_index(batch_op.f('ix_pm_plans_asset_id'))

    op.drop_table('pm_plans')
    with op.batch_alter_table('activity_registrations', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activity_registrations_person_id'))
        batch_op.drop_index(batch_op.f('ix_activity_registrations_activity_id'))

    op.drop_table('activity_registrations')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_activities_property_id'))
        batch_op.drop_index(batch_op.f('ix_activities_building_id'))

    op.drop_table('activities')
