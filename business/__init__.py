"""spms business package."""
