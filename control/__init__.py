"""spms control package."""
