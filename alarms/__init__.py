"""spms alarms package."""
