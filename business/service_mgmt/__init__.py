"""Service management: work orders (residents, staff, alarms), assignment and SLAs,
telemetry-verified closure, ratings, preventive maintenance and community activities.

Built on the business core (``business/``) and the alarms package; see
``docs/service-management.md``.
"""
