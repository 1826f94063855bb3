"""``/api/v1/auth`` (login, logout, me) and ``/api/v1/users`` (accounts, grants, API tokens),
and the read-only ``/api/v1/audit`` log."""

from __future__ import annotations

from sqlalchemy import func, select

from ..audit import jsonable
from ..errors import NotFound, PermissionDenied, ValidationError
from ..identity import check_grants, create_user, grants_for, new_api_token, set_grants, set_password, user_json
from ..models import AuditEntry, RoleGrant, User
from ..permissions import visibility
from ..user_admin import (check_grantable, check_links, check_manageable, check_readable, check_scoped_change,
                          is_global_admin, manage_scope, manageable)
from .base import COOKIE, Api, JsonResource, bearer, query_params, read_json, read_json_object


def require_global(principal, perm: str) -> None:
    """Identity and audit data have no building scope: the permission must be held everywhere."""
    if not visibility(principal, perm).everywhere:
        raise PermissionDenied(f"permission {perm!r} required everywhere")


class LoginResource(JsonResource):
    """``POST {"username", "password"}`` → session token (also set as an HttpOnly cookie)."""

    public = True

    async def handle_POST(self, request, principal):
        body = read_json(request)
        fields = {k: "is required" for k in ("username", "password")
                  if not isinstance(body, dict) or not isinstance(body.get(k), str) or not body.get(k)}
        if fields:
            raise ValidationError("username and password are required", fields)
        result = await self.api.auth.login(body["username"], body["password"])
        request.addCookie(COOKIE, result["token"].encode(), path=b"/", httpOnly=True, sameSite="strict")
        return 200, result


class LogoutResource(JsonResource):
    """``POST`` revokes the caller's session."""

    async def handle_POST(self, request, principal):
        await self.api.auth.logout(bearer(request))
        request.addCookie(COOKIE, b"", path=b"/", httpOnly=True, sameSite="strict", max_age=b"0")
        return 204, None


class MeResource(JsonResource):
    """``GET`` the caller's identity, roles, grants and permissions."""

    async def handle_GET(self, request, principal):
        return 200, {"user": principal.user, "roles": sorted(principal.roles),
                     "permissions": sorted(principal.permissions), "scopes": sorted(principal.scopes),
                     "grants": [list(g) for g in (principal.attributes or {}).get("grants", ())]}


class AuthResource(JsonResource):
    """``/api/v1/auth/{login,logout,me}``."""

    def __init__(self, api: Api) -> None:
        super().__init__(api)
        self.putChild(b"login", LoginResource(api))
        self.putChild(b"logout", LogoutResource(api))
        self.putChild(b"me", MeResource(api))


def _manage_scoped(principal) -> bool:
    """True when the caller manages users only inside its scopes (PermissionDenied without any)."""
    scoped = not is_global_admin(principal)
    if scoped:
        manage_scope(principal)
    return scoped


def _scoped_list(s, principal, stmt) -> dict:
    """The users whose grants all lie in the caller's ``users.read`` scopes (never admins)."""
    vis = visibility(principal, "users.read")
    grants: dict[int, list] = {}
    for uid, role, scope in s.execute(select(RoleGrant.user_id, RoleGrant.role, RoleGrant.scope)):
        grants.setdefault(uid, []).append((role, scope))
    cache: dict = {}
    users = [u for u in s.scalars(stmt) if manageable(s, vis, grants.get(u.id, ()), cache) is None]
    return {"items": [user_json(u, grants.get(u.id, ())) for u in users[:500]],
            "page": 1, "per_page": 500, "total": len(users)}


class UsersResource(JsonResource):
    """List and create users.

    ``users.read``/``users.write`` everywhere (administrators): every user. A scoped
    ``users.read`` lists the users whose grants all lie in its scopes; ``users.manage``
    creates users inside the caller's scopes with roles the caller could hold
    (:mod:`business.user_admin`).
    """

    def getChild(self, path, request):
        return UserResource(self.api, path.decode()) if path else self

    async def handle_GET(self, request, principal):
        everywhere = is_global_admin(principal, "users.read")
        if not everywhere and visibility(principal, "users.read").nothing:
            raise PermissionDenied("permission 'users.read' required")
        params = query_params(request)

        def work(s):
            stmt = select(User).order_by(User.id)
            if params.get("q"):
                stmt = stmt.where(User.username.ilike(f"%{params['q']}%"))
            if not everywhere:
                return _scoped_list(s, principal, stmt)
            total = s.scalar(select(func.count()).select_from(stmt.subquery()))
            return {"items": [user_json(u, grants_for(s, u.id)) for u in s.scalars(stmt.limit(500))],
                    "page": 1, "per_page": 500, "total": total}
        return 200, await self.api.db.run(work)

    async def handle_POST(self, request, principal):
        scoped = _manage_scoped(principal)
        body = read_json_object(request)
        unknown = set(body) - {"username", "password", "display_name", "grants", "person_id", "staff_id", "language"}
        if unknown:
            raise ValidationError("unknown fields", {k: "unknown field" for k in sorted(unknown)})

        def work(s):
            if scoped:
                grants = check_grants(body.get("grants") or [])
                if not grants:
                    raise ValidationError("invalid grants", {"grants": "give at least one grant in your scope"})
                check_grantable(s, principal, grants)
                check_links(s, principal, body.get("person_id"), body.get("staff_id"))
            u = create_user(s, self.api.hasher, actor=principal.user, now=self.api.clock(),
                            username=body.get("username"), password=body.get("password"),
                            display_name=str(body.get("display_name") or ""), grants=body.get("grants") or [],
                            person_id=body.get("person_id"), staff_id=body.get("staff_id"),
                            language=body.get("language") or "zh")
            return user_json(u, grants_for(s, u.id))
        result = await self.api.db.run(work)
        return 201, result


class UserResource(JsonResource):
    """``GET``/``PATCH`` one user (display_name, active, language, grants, password).

    Holders of ``users.manage`` change only users inside their scopes, never
    passwords, and grant only what they could hold themselves.
    """

    def __init__(self, api: Api, ident: str) -> None:
        super().__init__(api)
        self.ident = ident

    def getChild(self, path, request):
        if path == b"tokens":
            return TokensResource(self.api, self.ident)
        return super().getChild(path, request)

    def _user(self, s):
        user = s.get(User, int(self.ident)) if self.ident.isdigit() else None
        if user is None:
            raise NotFound(f"no user {self.ident!r}")
        return user

    async def handle_GET(self, request, principal):
        everywhere = is_global_admin(principal, "users.read")
        if not everywhere and visibility(principal, "users.read").nothing:
            raise PermissionDenied("permission 'users.read' required")

        def work(s):
            user = self._user(s)
            grants = grants_for(s, user.id)
            if not everywhere:
                check_readable(s, principal, user, grants)
            return user_json(user, grants)
        return 200, await self.api.db.run(work)

    async def handle_PATCH(self, request, principal):
        scoped = _manage_scoped(principal)
        body = read_json_object(request)
        unknown = set(body) - {"display_name", "active", "language", "grants", "password"}
        errors = {k: "unknown or read-only field" for k in sorted(unknown)}
        if "active" in body and not isinstance(body["active"], bool):
            errors["active"] = "expected true or false"
        if "language" in body and body["language"] not in ("zh", "en"):
            errors["language"] = "must be zh or en"
        if "display_name" in body and not isinstance(body["display_name"], str):
            errors["display_name"] = "expected a string"
        if errors:
            raise ValidationError("invalid user change", errors)

        def work(s):
            user, now = self._user(s), self.api.clock()
            if scoped:
                current = grants_for(s, user.id)
                new = check_grants(body["grants"] or []) if "grants" in body else None
                check_manageable(s, principal, user, current)
                check_scoped_change(principal, user, body, new)
                if new is not None:
                    # keeping a grant the caller could not give is no escalation; adding one is checked
                    check_grantable(s, principal, sorted(set(new) - set(current)))
            if "password" in body:
                set_password(s, self.api.hasher, user, body["password"], principal.user, now)
            if "grants" in body:
                set_grants(s, user, body["grants"] or [], principal.user, now)
            before = user_json(user)
            for key in ("display_name", "active", "language"):
                if key in body:
                    setattr(user, key, body[key])
            after = user_json(user)
            if after != before:
                from ..audit import record
                record(s, principal.user, "update", "users", user.id, before, after, now)
            return user_json(user, grants_for(s, user.id))
        result = await self.api.db.run(work)
        await self.api.auth.refresh()
        return 200, result


class TokensResource(JsonResource):
    """``POST {"name", "lifetime_s"}`` issues an API token for the user (shown once).

    Without ``lifetime_s`` the token lives ``business.security.token_lifetime``;
    ``"lifetime_s": null`` issues one that never expires.
    """

    def __init__(self, api: Api, ident: str) -> None:
        super().__init__(api)
        self.ident = ident

    def getChild(self, path, request):
        return TokenResource(self.api, self.ident, path.decode()) if path else self

    async def handle_GET(self, request, principal):
        """The user's tokens: name, dates, revoked (never the token itself)."""
        require_global(principal, "users.read")

        def work(s):
            from ..models import ApiToken
            rows = s.scalars(select(ApiToken).where(ApiToken.user_id == int(self.ident)).order_by(ApiToken.id)) \
                if self.ident.isdigit() else []
            return {"items": [jsonable({"id": r.id, "name": r.name, "created_at": r.created_at,
                                        "expires_at": r.expires_at, "revoked": r.revoked}) for r in rows]}
        return 200, await self.api.db.run(work)

    async def handle_POST(self, request, principal):
        require_global(principal, "users.write")
        body = read_json_object(request)
        if not self.ident.isdigit():
            raise NotFound(f"no user {self.ident!r}")

        def work(s):
            lifetime = body["lifetime_s"] if "lifetime_s" in body else self.api.token_lifetime_s
            token, row = new_api_token(s, int(self.ident), body.get("name"), self.api.clock(), lifetime,
                                       principal.user)
            return {"id": row.id, "token": token, "name": row.name,
                    "expires_at": row.expires_at.isoformat() if row.expires_at else None}
        result = await self.api.db.run(work)
        await self.api.auth.refresh()
        return 201, result


class TokenResource(JsonResource):
    """``DELETE /api/v1/users/<id>/tokens/<token id>`` revokes an API token at once."""

    isLeaf = True

    def __init__(self, api: Api, user_ident: str, ident: str) -> None:
        super().__init__(api)
        self.user_ident, self.ident = user_ident, ident

    async def handle_DELETE(self, request, principal):
        require_global(principal, "users.write")

        def work(s):
            from ..audit import record
            from ..models import ApiToken
            row = s.get(ApiToken, int(self.ident)) if self.ident.isdigit() else None
            if row is None or str(row.user_id) != self.user_ident:
                raise NotFound(f"no token {self.ident!r} for user {self.user_ident!r}")
            if not row.revoked:
                row.revoked = True
                record(s, principal.user, "revoke", "api_tokens", row.id, {"revoked": False}, {"revoked": True},
                       self.api.clock())
        await self.api.db.run(work)
        await self.api.auth.refresh()
        return 204, None


class AuditResource(JsonResource):
    """``GET`` the audit log (``audit.read`` everywhere), newest first; filters entity, entity_id, actor."""

    async def handle_GET(self, request, principal):
        require_global(principal, "audit.read")
        params = query_params(request)
        bad = set(params) - {"entity", "entity_id", "actor", "page", "per_page"}
        if bad:
            raise ValidationError("invalid query parameters", {k: "unknown filter" for k in sorted(bad)})
        try:
            page, per_page = int(params.get("page", 1)), min(int(params.get("per_page", 100)), 500)
        except ValueError:
            raise ValidationError("invalid query parameters", {"page": "expected an integer"}) from None

        def work(s):
            stmt = select(AuditEntry)
            for key in ("entity", "entity_id", "actor"):
                if key in params:
                    stmt = stmt.where(getattr(AuditEntry, key) == params[key])
            total = s.scalar(select(func.count()).select_from(stmt.subquery()))
            rows = s.scalars(stmt.order_by(AuditEntry.id.desc()).limit(per_page).offset((max(page, 1) - 1) * per_page))
            return {"items": [jsonable({"id": r.id, "at": r.at, "actor": r.actor, "action": r.action,
                                        "entity": r.entity, "entity_id": r.entity_id, "before": r.before,
                                        "after": r.after}) for r in rows],
                    "page": page, "per_page": per_page, "total": total}
        return 200, await self.api.db.run(work)
