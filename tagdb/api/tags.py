"""``/api/v1/tags``: read tags by glob or path, write one tag through its collector.

Tag paths contain '/', so everything after ``/tags/`` is the path; a POST
whose path ends in ``/write`` writes the tag named by the part before it.
Segments are percent-decoded, so a client may also send ``%2F``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from twisted.internet.threads import deferToThreadPool

from ..values import TagValue, WriteResult, WriteStatus
from .auth import anonymous_read_allowed, require
from .http import ApiError, EncodedJson, JsonResource, dumps, iso, json_value, query_arg, read_json_object

#: Above this many tags a listing is encoded in a worker thread: turning 100k
#: tag values into JSON takes seconds of pure Python that the reactor must not wait for.
THREAD_ROWS = 2000

#: HTTP status for each refused write (OK is 200).
WRITE_STATUS_HTTP = {
    WriteStatus.NO_SUCH_TAG: 404,
    WriteStatus.READ_ONLY: 409,
    WriteStatus.OUT_OF_RANGE: 422,
    WriteStatus.BAD_TYPE: 422,
    WriteStatus.NOT_AUTHORIZED: 403,
    WriteStatus.DEVICE_EXCEPTION: 502,
    WriteStatus.DEVICE_UNREACHABLE: 503,
    WriteStatus.TIMEOUT: 504,
}

WRITE_FIELDS = ("value", "reason")


def tag_json(tv: TagValue, units: str) -> dict:
    """The JSON form of one tag value."""
    return {
        "path": tv.path,
        "value": json_value(tv.value),
        "quality": tv.quality.name,
        "quality_detail": tv.quality.detail,
        "source_ts": iso(tv.source_ts),
        "server_ts": iso(tv.server_ts),
        "units": units,
    }


def write_json(result: WriteResult) -> dict:
    """The JSON form of a write result."""
    return {"path": result.path, "value": json_value(result.value), "status": result.status.value,
            "message": result.message, "device_status": result.device_status}


def encode_tags(items: list[tuple[TagValue, str]]) -> EncodedJson:
    """JSON of many (tag value, units) pairs; safe in a worker thread (the values are frozen)."""
    return EncodedJson(dumps([tag_json(tv, units) for tv, units in items]))


class TagsResource(JsonResource):
    """``GET /tags?match=GLOB``, ``GET /tags/{path}``, ``POST /tags/{path}/write``."""

    def __init__(self, ctx: Any) -> None:
        super().__init__()
        self.ctx = ctx

    def _store(self):
        if self.ctx.tags is None:
            raise ApiError(503, "unavailable", "the tag database is not running")
        return self.ctx.tags

    def _units(self, path: str) -> str:
        spec_of = getattr(self.ctx.tags, "spec", None) or self.ctx.site.tag
        try:
            return spec_of(path).units
        except KeyError:
            return ""  # e.g. a system tag that has no configured spec

    def _path(self, request) -> list[str]:
        segments = [unquote(s.decode("utf-8", "replace")) for s in request.postpath]
        while segments and segments[-1] == "":
            segments.pop()  # tolerate a trailing slash
        return segments

    def _check_read(self, request) -> None:
        require(request, self.ctx, "tags.read", anonymous=anonymous_read_allowed(self.ctx))

    async def on_get(self, request) -> tuple[int, Any]:
        """A listing by glob, or one tag."""
        self._check_read(request)
        tags = self._store()
        segments = self._path(request)
        if not segments:
            pattern = query_arg(request, "match") or "**"
            try:
                paths = tags.match(pattern)
            except ValueError as exc:
                raise ApiError(400, "bad_request", f"match: {exc}", field="match") from None
            values = tags.snapshot(paths)  # one reactor turn: a consistent view
            items = [(values[p], self._units(p)) for p in paths]
            reactor = self.ctx.reactor
            if len(items) > THREAD_ROWS and hasattr(reactor, "getThreadPool"):
                return 200, await deferToThreadPool(reactor, reactor.getThreadPool(), encode_tags, items)
            return 200, [tag_json(tv, units) for tv, units in items]
        path = "/".join(segments)
        try:
            tv = tags.get(path)
        except KeyError:
            raise ApiError(404, "no_such_tag", f"no tag {path!r}", path=path) from None
        return 200, tag_json(tv, self._units(path))

    async def on_post(self, request) -> tuple[int, Any]:
        """Write one tag (``/tags/{path}/write``)."""
        segments = self._path(request)
        if len(segments) < 2 or segments[-1] != "write":
            raise ApiError(405, "method_not_allowed", "POST is only allowed on /tags/{path}/write")
        principal = require(request, self.ctx, "tags.write")
        path = "/".join(segments[:-1])
        body = read_json_object(request)
        unknown = sorted(set(body) - set(WRITE_FIELDS))
        if unknown:
            raise ApiError(400, "bad_request", f"unknown field {unknown[0]!r} (known: value, reason)",
                           field=unknown[0])
        if "value" not in body:
            raise ApiError(400, "bad_request", "field 'value' is required", field="value")
        value = body["value"]
        if value is None or isinstance(value, (list, dict)):
            raise ApiError(400, "bad_request", "field 'value' must be a number, boolean or string",
                           field="value")
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            raise ApiError(400, "bad_request", "field 'reason' must be a string", field="reason")
        result = await self._store().write(path, value, user=principal.user, reason=reason)
        if result.ok:
            return 200, write_json(result)
        status = WRITE_STATUS_HTTP.get(result.status, 500)
        raise ApiError(status, result.status.value, result.message or result.status.value.replace("_", " "),
                       path=path, device_status=result.device_status)
