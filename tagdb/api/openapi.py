"""OpenAPI 3.1 description of the REST API, assembled from declared operations.

Every package that mounts a resource declares its operations next to it and
passes them to ``ctx.mount_api(name, resource, operations=[...])``; the tag
server's own endpoints are declared in :mod:`tagdb.api.routes`.
``/api/v1/openapi.json`` is built from all of them, so the document lists
exactly what is served. Paths are relative to ``/api/v1`` (the document's
``servers`` entry) and use OpenAPI templates: ``/tags/{path}``.

Example (in a package's ``api.py``)::

    LIST_ALARMS = Operation(
        "GET", "/alarms/active", "Active alarms", "listActiveAlarms", tags=("alarms",),
        permission="alarms.read",
        responses={200: Response("Active alarms", {"type": "array", "items": ref("Alarm")})},
        schemas={"Alarm": {"type": "object", "properties": {...}}})
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

_TEMPLATE = re.compile(r"\{([^}/]+)\}")
METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS")


def ref(name: str) -> dict:
    """A JSON-schema reference to a component schema declared in some operation's ``schemas``."""
    return {"$ref": f"#/components/schemas/{name}"}


@dataclass(frozen=True)
class Param:
    """A path, query or header parameter."""

    name: str
    location: str = "query"            # path | query | header
    schema: Mapping[str, Any] = field(default_factory=lambda: {"type": "string"})
    required: bool = False
    description: str = ""

    def to_dict(self) -> dict:
        """The OpenAPI Parameter Object."""
        out = {"name": self.name, "in": self.location, "schema": dict(self.schema),
               "required": self.required or self.location == "path"}
        if self.description:
            out["description"] = self.description
        return out


@dataclass(frozen=True)
class Response:
    """One response: a description and an optional JSON body schema."""

    description: str
    schema: Mapping[str, Any] | None = None

    def to_dict(self) -> dict:
        """The OpenAPI Response Object."""
        out: dict = {"description": self.description}
        if self.schema is not None:
            out["content"] = {"application/json": {"schema": dict(self.schema)}}
        return out


#: The JSON error body every endpoint uses.
ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {
        "type": "object",
        "required": ["code", "message"],
        "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                       "field": {"type": "string"}},
    }},
}

_ERROR_TEXT = {400: "Bad request (the message names the field)", 401: "Missing or invalid bearer token",
               403: "The caller lacks the permission", 404: "Not found", 405: "Method not allowed",
               409: "Conflict with the target's state", 422: "Value not acceptable for the target",
               502: "The device refused the request", 503: "Unavailable", 504: "Timed out"}


def errors(*codes: int) -> dict[int, Response]:
    """Error responses with the shared error body, for ``responses={**errors(400, 404)}``."""
    return {code: Response(_ERROR_TEXT.get(code, "Error"), ref("Error")) for code in codes}


@dataclass(frozen=True)
class Operation:
    """One served method on one path, as documented in openapi.json.

    ``permission`` is the permission the caller's bearer token needs (None: no
    authentication). ``schemas`` are component schemas this operation refers
    to with :func:`ref`; two operations may declare the same name only with the
    same schema.
    """

    method: str
    path: str
    summary: str
    operation_id: str
    tags: tuple[str, ...] = ()
    parameters: tuple[Param, ...] = ()
    request_body: Mapping[str, Any] | None = None
    responses: Mapping[int, Response] = field(default_factory=dict)
    permission: str | None = None
    schemas: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    description: str = ""

    def to_dict(self) -> dict:
        """The OpenAPI Operation Object."""
        out: dict = {"operationId": self.operation_id, "summary": self.summary}
        if self.description:
            out["description"] = self.description
        if self.tags:
            out["tags"] = list(self.tags)
        if self.parameters:
            out["parameters"] = [p.to_dict() for p in self.parameters]
        if self.request_body is not None:
            out["requestBody"] = {"required": True,
                                  "content": {"application/json": {"schema": dict(self.request_body)}}}
        out["responses"] = {str(code): r.to_dict() for code, r in sorted(self.responses.items())}
        if self.permission is not None:
            out["security"] = [{"bearer": []}]
            out["x-permission"] = self.permission
        return out


class OpenApiError(ValueError):
    """The declared operations are inconsistent (duplicates, undeclared path parameters)."""


def build_document(operations: Iterable[Operation], *, title: str, version: str,
                   description: str = "", server_url: str = "/api/v1") -> dict:
    """The OpenAPI 3.1 document for ``operations`` (OpenApiError when they conflict)."""
    paths: dict[str, dict] = {}
    schemas: dict[str, dict] = {"Error": ERROR_SCHEMA}
    problems = []
    for op in operations:
        method = op.method.upper()
        if method not in METHODS:
            problems.append(f"{op.operation_id}: unknown method {op.method!r}")
            continue
        if not op.path.startswith("/"):
            problems.append(f"{op.operation_id}: path {op.path!r} must start with '/'")
        declared = {p.name for p in op.parameters if p.location == "path"}
        used = set(_TEMPLATE.findall(op.path))
        if declared != used:
            problems.append(f"{op.operation_id}: path parameters {sorted(used)} but declared {sorted(declared)}")
        item = paths.setdefault(op.path, {})
        if method.lower() in item:
            problems.append(f"{op.operation_id}: {method} {op.path} is declared twice")
        item[method.lower()] = op.to_dict()
        for name, schema in op.schemas.items():
            if name in schemas and schemas[name] != dict(schema):
                problems.append(f"{op.operation_id}: schema {name!r} conflicts with another declaration")
            schemas[name] = dict(schema)
    if problems:
        raise OpenApiError("; ".join(problems))
    info = {"title": title, "version": version}
    if description:
        info["description"] = description
    return {
        "openapi": "3.1.0",
        "info": info,
        "servers": [{"url": server_url}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "API token (server.api.tokens) or a user session token"}},
        },
    }
