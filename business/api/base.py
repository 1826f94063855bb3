"""JSON request handling shared by every business REST resource.

Credentials: ``Authorization: Bearer <token>`` (API token or login session) or
the ``spms_session`` cookie set by ``POST /api/v1/auth/login``. Every error is
``{"error": {"code", "message", "fields"}}`` with the matching HTTP status.
Handlers are coroutines; database work inside them goes through
``Database.run`` so the reactor keeps serving while queries run.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Awaitable, Callable

from twisted.internet.defer import Deferred
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from tagdb.auth import Principal

from ..audit import jsonable
from ..errors import AuthenticationRequired, BadRequest, BusinessError, ValidationError

log = logging.getLogger(__name__)
MAX_BODY = 4 * 1024 * 1024
COOKIE = b"spms_session"


def bearer(request) -> str | None:
    """The token from the Authorization header or the session cookie."""
    header = request.getHeader(b"authorization")
    if header:
        scheme, _, token = header.decode("latin-1").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        return None
    cookie = request.getCookie(COOKIE)
    return cookie.decode("latin-1") if cookie else None


def write_json(request, status: int, payload: Any) -> None:
    """Finish the request with a JSON body."""
    body = json.dumps(jsonable(payload), ensure_ascii=False).encode()
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json; charset=utf-8")
    request.setHeader(b"cache-control", b"no-store")
    request.setHeader(b"content-length", str(len(body)).encode())
    request.write(body)
    request.finish()


def error_payload(exc: BusinessError) -> dict:
    """The shared error shape."""
    return {"error": {"code": exc.code, "message": exc.message, "fields": exc.fields}}


def read_json(request) -> Any:
    """The request body as JSON (ValidationError naming ``body`` when it is not)."""
    raw = request.content.read(MAX_BODY + 1) if request.content is not None else b""
    if len(raw) > MAX_BODY:
        raise BadRequest("request body too large", {"body": f"at most {MAX_BODY} bytes"})
    if not raw.strip():
        raise BadRequest("a JSON body is required", {"body": "is required"})
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the body is not valid JSON", {"body": f"invalid JSON: {exc}"}) from None


def read_json_object(request) -> dict:
    """The request body as a JSON object (ValidationError naming ``body`` for any other JSON)."""
    body = read_json(request)
    if not isinstance(body, dict):
        raise ValidationError("expected a JSON object", {"body": "expected a JSON object"})
    return body


def query_params(request) -> dict[str, str]:
    """Query string as name → last value (decoded)."""
    return {k.decode(): v[-1].decode() for k, v in (request.args or {}).items()}


class Api:
    """What every resource needs: database, authenticator, CRUD operations, clock, site."""

    def __init__(self, db, auth, crud, clock, ctx=None, hasher=None, token_lifetime_s: float | None = None) -> None:
        self.db = db
        self.token_lifetime_s = token_lifetime_s
        self.auth = auth
        self.crud = crud
        self.clock = clock
        self.ctx = ctx
        self.hasher = hasher


class JsonResource(Resource):
    """Base resource: authentication, dispatch of ``handle_<METHOD>`` coroutines, error mapping.

    Subclasses define ``async def handle_GET(self, request, principal)`` etc. and
    return ``(status, payload)``. ``public = True`` skips authentication.
    """

    public = False

    def __init__(self, api: Api) -> None:
        super().__init__()
        self.api = api

    def render(self, request):
        method = request.method.decode()
        handler: Callable[..., Awaitable[Any]] | None = getattr(self, f"handle_{method}", None)
        if handler is None:
            allowed = [m[7:] for m in dir(self) if m.startswith("handle_")]
            request.setHeader(b"allow", ", ".join(sorted(allowed)).encode())
            write_json(request, 405, {"error": {"code": "method_not_allowed",
                                                "message": f"{method} is not allowed here", "fields": {}}})
            return NOT_DONE_YET
        d = Deferred.fromCoroutine(self._run(handler, request))
        d.addErrback(lambda f: log.error("unhandled error for %s: %s", request.uri, f.getTraceback()))
        return NOT_DONE_YET

    def authenticate(self, request) -> Principal:
        """The caller, or AuthenticationRequired."""
        token = bearer(request)
        principal = self.api.auth.authenticate_token(token) if token else None
        if principal is None:
            raise AuthenticationRequired("authentication required (Bearer token or login session)")
        return principal

    async def _run(self, handler, request) -> None:
        try:
            principal = None if self.public else self.authenticate(request)
            status, payload = await handler(request, principal)
        except BusinessError as exc:
            if isinstance(exc, AuthenticationRequired):
                request.setHeader(b"www-authenticate", b'Bearer realm="spms"')
            status, payload = exc.http_status, error_payload(exc)
        except Exception:
            log.exception("internal error serving %s %s", request.method.decode(), request.uri.decode())
            status, payload = 500, {"error": {"code": "internal", "message": "internal server error", "fields": {}}}
        if request._disconnected:
            return
        if status == 204:
            request.setResponseCode(204)
            request.finish()
        else:
            write_json(request, status, payload)
