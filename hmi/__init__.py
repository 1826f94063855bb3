"""spms hmi package."""
