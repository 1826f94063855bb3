"""The tag server's REST API (``/api/v1``): health, tags, writes, OpenAPI, and mounts of other packages."""
