"""spms tagdb package."""
