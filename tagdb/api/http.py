"""JSON over twisted.web: async handlers, JSON bodies and uniform JSON errors.

Every error leaves the API as ``{"error": {"code": "...", "message": "..."}}``
with a matching HTTP status. Handlers are ``async def`` and run as Deferreds, so
a slow write to a device never blocks the reactor. Other packages may subclass
:class:`JsonResource` for the resources they mount with ``ctx.mount_api``.
"""

from __future__ import annotations

import json
import logging
import math
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any, Awaitable, Callable

from twisted.internet.defer import Deferred
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

log = logging.getLogger("spms.api")

MAX_BODY = 1 << 20  # a JSON request larger than 1 MiB is refused rather than parsed


class ApiError(Exception):
    """An error answer: HTTP status, a stable machine code and a human message."""

    def __init__(self, status: int, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.extra = extra
        self.headers: dict[str, str] = {}

    def body(self) -> dict:
        """The JSON error body."""
        return {"error": {"code": self.code, "message": self.message, **self.extra}}


def iso(ts: datetime | None) -> str | None:
    """ISO-8601 UTC with a 'Z' suffix and microseconds (None stays None)."""
    if ts is None:
        return None
    if ts.tzinfo is not timezone.utc:
        ts = ts.astimezone(timezone.utc)
    return ts.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def _default(obj: Any) -> Any:
    if isinstance(obj, datetime):
        return iso(obj)
    if isinstance(obj, Decimal):
        return str(obj)  # money stays exact: clients parse the string
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def json_value(value: Any) -> Any:
    """A tag value as JSON allows it: NaN and infinities become null."""
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def dumps(payload: Any) -> bytes:
    """Compact UTF-8 JSON."""
    return json.dumps(payload, default=_default, ensure_ascii=False, separators=(",", ":")).encode()


def read_json_object(request) -> dict:
    """The request body as a JSON object, or ApiError 400 saying what is wrong with it."""
    ctype = (request.getHeader("content-type") or "application/json").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise ApiError(415, "unsupported_media_type", f"send application/json, not {ctype}")
    raw = request.content.read(MAX_BODY + 1) if request.content is not None else b""
    if len(raw) > MAX_BODY:
        raise ApiError(413, "too_large", f"request body is larger than {MAX_BODY} bytes")
    if not raw.strip():
        raise ApiError(400, "bad_json", "request body is empty; expected a JSON object")
    try:
        body = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, "bad_json", f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "bad_json", f"request body must be a JSON object, got {type(body).__name__}")
    return body


def query_arg(request, name: str) -> str | None:
    """A query parameter (the last one when repeated), decoded as UTF-8."""
    values = (request.args or {}).get(name.encode())
    if not values:
        return None
    try:
        return values[-1].decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError(400, "bad_request", f"query parameter {name!r} is not UTF-8", field=name) from None


class EncodedJson(bytes):
    """A payload already encoded as JSON (e.g. built in a worker thread)."""


def write_json(request, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
    """Finish ``request`` with a JSON body (unless the client has gone)."""
    if getattr(request, "_disconnected", False) or request.finished:
        return
    body = payload if isinstance(payload, EncodedJson) else dumps(payload)
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    for key, value in (headers or {}).items():
        request.setHeader(key.encode(), value.encode())
    request.setHeader(b"content-length", str(len(body)).encode())
    request.write(body)
    request.finish()


Handler = Callable[[Any], Awaitable[tuple[int, Any]]]


class JsonResource(Resource):
    """A leaf resource whose ``async def on_<method>(request) -> (status, payload)`` answer in JSON.

    Methods without a handler get 405 with an ``Allow`` header; ApiError becomes
    its JSON error; any other exception is logged and answered 500.
    """

    isLeaf = True

    def allowed_methods(self) -> list[str]:
        """The HTTP methods this resource answers."""
        return sorted(m[3:].upper() for m in dir(self) if m.startswith("on_") and callable(getattr(self, m)))

    def render(self, request):
        """Dispatch to ``on_<method>`` (HEAD answers like GET)."""
        method = request.method.decode("ascii", "replace").upper()
        handler = getattr(self, f"on_{('get' if method == 'HEAD' else method).lower()}", None)
        return run_json(request, handler, self.allowed_methods())


def run_json(request, handler: Handler | None, allowed: list[str]):
    """Run ``handler`` for ``request`` as a Deferred and write its JSON answer."""
    if handler is None:
        error = ApiError(405, "method_not_allowed",
                         f"{request.method.decode('ascii', 'replace')} is not allowed here; "
                         f"allowed: {', '.join(allowed)}")
        write_json(request, 405, error.body(), {"Allow": ", ".join(allowed)})
        return NOT_DONE_YET

    async def answer() -> None:
        try:
            status, payload = await handler(request)
        except ApiError as exc:
            write_json(request, exc.status, exc.body(), exc.headers)
        except Exception:
            log.exception("%s %s failed", request.method.decode(), request.uri.decode("utf-8", "replace"))
            write_json(request, 500, ApiError(500, "internal", "internal server error; see the server log").body())
        else:
            write_json(request, status, payload)

    # A client that hangs up does not cancel its handler: a write already on its way
    # to a device must finish and be audited; its answer is simply dropped.
    request.notifyFinish().addErrback(lambda _: None)
    d = Deferred.fromCoroutine(answer())
    d.addErrback(lambda f: log.error("handler failed: %s", f.getTraceback()))
    return NOT_DONE_YET


class ErrorResource(Resource):
    """Answers every request with one JSON error (unknown paths)."""

    isLeaf = True

    def __init__(self, error: ApiError) -> None:
        super().__init__()
        self.error = error

    def render(self, request):
        """Answer with the error, whatever the method."""
        write_json(request, self.error.status, self.error.body(), self.error.headers)
        return NOT_DONE_YET
