"""The resource tree under ``/api/v1`` and the tag server's own OpenAPI operations.

``/api/v1/<name>`` is one of the built-in resources (health, tags,
openapi.json) or a resource another package mounted with ``ctx.mount_api``;
everything else is a JSON 404.
"""

from __future__ import annotations

from typing import Any

from twisted.web.resource import Resource

from .health import HealthResource
from .http import ApiError, ErrorResource, JsonResource
from .openapi import Operation, Param, Response, build_document, errors, ref
from .tags import TagsResource

API_VERSION = "1"

TAG_VALUE = {
    "type": "object",
    "required": ["path", "value", "quality", "quality_detail", "source_ts", "server_ts", "units"],
    "properties": {
        "path": {"type": "string", "examples": ["tower-a/elevator-1/current_floor"]},
        "value": {"type": ["number", "integer", "boolean", "string", "null"]},
        "quality": {"type": "string", "description": "OPC UA status code name, e.g. Good, BadNoCommunication"},
        "quality_detail": {"type": "string"},
        "source_ts": {"type": "string", "format": "date-time"},
        "server_ts": {"type": "string", "format": "date-time"},
        "units": {"type": "string"},
    },
}
WRITE_REQUEST = {
    "type": "object", "required": ["value"], "additionalProperties": False,
    "properties": {"value": {"type": ["number", "integer", "boolean", "string"]},
                   "reason": {"type": "string", "description": "Why (kept in the write audit)"}},
}
WRITE_RESULT = {
    "type": "object", "required": ["path", "value", "status"],
    "properties": {"path": {"type": "string"}, "value": {}, "status": {"type": "string", "const": "ok"},
                   "message": {"type": "string"}, "device_status": {"type": "string"}},
}
HEALTH = {
    "type": "object", "required": ["status", "uptime_s", "tag_count", "components"],
    "properties": {
        "status": {"type": "string", "enum": ["ok", "starting", "degraded", "stopping"]},
        "site": {"type": "string"}, "uptime_s": {"type": "number"}, "tag_count": {"type": "integer"},
        "components": {"type": "object", "additionalProperties": {
            "type": "object", "required": ["state"],
            "properties": {"state": {"type": "string",
                                     "enum": ["starting", "running", "stopping", "stopped", "failed"]}}}},
    },
}
TAG_PATH = Param("path", "path", description="Tag path; its '/' separators are sent as they are")

CORE_OPERATIONS: tuple[Operation, ...] = (
    Operation("GET", "/health", "Server health", "getHealth", tags=("server",),
              responses={200: Response("Every component is running", ref("Health")),
                         503: Response("Starting, stopping or a component failed", ref("Health"))},
              schemas={"Health": HEALTH}),
    Operation("GET", "/openapi.json", "This OpenAPI document", "getOpenApi", tags=("server",),
              responses={200: Response("OpenAPI 3.1 document", {"type": "object"})}),
    Operation("GET", "/tags", "Current values of the tags matching a glob", "listTags", tags=("tags",),
              parameters=(Param("match", description="Glob over paths ('*' one segment, '**' any, "
                                "trailing '/' a prefix); default every tag"),),
              permission="tags.read",
              responses={200: Response("Tag values in configuration order",
                                       {"type": "array", "items": ref("TagValue")}),
                         **errors(400, 401, 403)},
              schemas={"TagValue": TAG_VALUE}),
    Operation("GET", "/tags/{path}", "Current value of one tag", "getTag", tags=("tags",),
              parameters=(TAG_PATH,), permission="tags.read",
              responses={200: Response("The tag value", ref("TagValue")), **errors(401, 403, 404)},
              schemas={"TagValue": TAG_VALUE}),
    Operation("POST", "/tags/{path}/write", "Write a tag through the collector that owns it", "writeTag",
              tags=("tags",), parameters=(TAG_PATH,), permission="tags.write",
              request_body=ref("WriteRequest"),
              responses={200: Response("The device accepted the write", ref("WriteResult")),
                         **errors(400, 401, 403, 404, 409, 415, 422, 502, 503, 504)},
              schemas={"WriteRequest": WRITE_REQUEST, "WriteResult": WRITE_RESULT},
              description="Refusals use the error body; its code is the WriteStatus value "
                          "(read_only 409, out_of_range/bad_type 422, device_exception 502, "
                          "device_unreachable 503, timeout 504, no_such_tag 404)."),
)


class OpenApiResource(JsonResource):
    """``GET /openapi.json``, built at request time so late mounts appear too."""

    def __init__(self, ctx: Any, version: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.version = version

    async def on_get(self, request):
        """The document."""
        return 200, openapi_document(self.ctx, self.version)


def openapi_document(ctx: Any, version: str) -> dict:
    """The OpenAPI document of every operation served for ``ctx``."""
    return build_document(
        [*CORE_OPERATIONS, *ctx.api_operations],
        title=f"spms REST API ({ctx.site.name})", version=version,
        description="Tag server and business API of spms. Errors: {\"error\": {\"code\", \"message\"}}.")


class ApiV1(Resource):
    """``/api/v1``: dispatch to built-in and mounted resources."""

    def __init__(self, ctx: Any, version: str) -> None:
        super().__init__()
        self.ctx = ctx
        self.builtin = {"health": HealthResource(ctx), "tags": TagsResource(ctx),
                        "openapi.json": OpenApiResource(ctx, version)}

    def getChild(self, path: bytes, request):
        """The resource for the next path segment (JSON 404 when none)."""
        name = path.decode("utf-8", "replace")
        if name in self.builtin:
            return self.builtin[name]
        mounted = self.ctx.api_routes.get(name)
        if mounted is not None:
            return mounted
        return ErrorResource(ApiError(404, "not_found", f"no API endpoint /api/v1/{name}"))

    def render(self, request):
        """A JSON 404: nothing is served at this level itself."""
        return ErrorResource(ApiError(404, "not_found", "see /api/v1/openapi.json")).render(request)


class Root(Resource):
    """``/``: only ``/api/v1`` lives here; anything else is a JSON 404."""

    def __init__(self, ctx: Any, version: str) -> None:
        super().__init__()
        self.v1 = ApiV1(ctx, version)

    def getChild(self, path: bytes, request):
        """The resource for the next path segment (JSON 404 when none)."""
        if path == b"api" and request.postpath[:1] == [b"v" + API_VERSION.encode()]:
            request.prepath.append(request.postpath.pop(0))
            return self.v1
        where = "/" + "/".join(s.decode("utf-8", "replace") for s in [path, *request.postpath])
        return ErrorResource(ApiError(404, "not_found", f"nothing at {where}; the API is under /api/v1"))

    def render(self, request):
        """A JSON 404: nothing is served at this level itself."""
        return self.getChild(b"", request).render(request)
