"""Bearer-token authentication and permission checks for the REST API.

Rules (documented in the README):

* A request that sends ``Authorization`` is always checked: a malformed header
  or an unknown token is 401 even on endpoints that allow anonymous access.
* Writes need a token whose principal holds ``tags.write`` (403 otherwise).
* Reads (``tags.read``) are open to anonymous callers only while the server
  has no way to authenticate anyone: no ``server.api.tokens`` configured and no
  other authenticator installed (the business layer installs its user
  database). As soon as tokens or users exist, reads need a token too.
  ``server.api.anonymous_read`` overrides this when the site sets it.
* ``/health`` and ``/openapi.json`` are always open.
"""

from __future__ import annotations

from typing import Any

from ..auth import Principal, TokenAuthenticator
from .http import ApiError

ANONYMOUS = Principal(user="anonymous", roles=frozenset({"anonymous"}),
                      permissions=frozenset({"tags.read"}))


def bearer_token(request) -> str | None:
    """The bearer token of the request, None without an Authorization header (401 when malformed)."""
    header = request.getHeader("authorization")
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise _unauthorized("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def anonymous_read_allowed(ctx: Any) -> bool:
    """True when anonymous callers may read tags (see the module docstring)."""
    server = ctx.site.section("server") or {}
    explicit = (server.get("api") or {}).get("anonymous_read")
    if explicit is not None:
        return bool(explicit)
    auth = ctx.auth
    if not isinstance(auth, TokenAuthenticator):
        return False  # a real user database is installed
    return not ((server.get("api") or {}).get("tokens"))


def require(request, ctx: Any, permission: str, *, anonymous: bool = False) -> Principal:
    """The authenticated principal holding ``permission``; ApiError 401/403 otherwise.

    ``anonymous=True`` lets a request without credentials through as
    :data:`ANONYMOUS` (whose permissions are still checked).
    """
    token = bearer_token(request)
    if token is None:
        if not anonymous:
            raise _unauthorized(f"this endpoint needs a bearer token with permission {permission!r}")
        principal = ANONYMOUS
    else:
        principal = ctx.auth.authenticate_token(token)
        if principal is None:
            raise _unauthorized("the bearer token is not valid")
    if not principal.can(permission):
        raise ApiError(403, "forbidden", f"user {principal.user!r} lacks permission {permission!r}")
    return principal


def _unauthorized(message: str) -> ApiError:
    error = ApiError(401, "unauthorized", message)
    error.headers["WWW-Authenticate"] = 'Bearer realm="spms"'
    return error
