"""spms collectors package."""
