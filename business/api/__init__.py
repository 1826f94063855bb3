"""REST resources of the business layer, mounted under ``/api/v1/``."""
