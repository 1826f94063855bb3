"""OpenAPI operations for every business resource, derived from the collection specs."""

from __future__ import annotations

from tagdb.api.openapi import Operation, Param, Response, errors, ref

from ..crud import Spec

_KIND = {"integer": {"type": "integer"}, "decimal": {"type": "string", "format": "decimal"},
         "date": {"type": "string", "format": "date"}, "datetime": {"type": "string", "format": "date-time"},
         "time": {"type": "string", "format": "time"}, "boolean": {"type": "boolean"},
         "array": {"type": "array"}, "object": {"type": "object"}, "string": {"type": "string"}}

BUSINESS_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                   "fields": {"type": "object", "additionalProperties": {"type": "string"},
                              "description": "each bad field and what is wrong with it"}}}}}


def _schema_name(spec: Spec) -> str:
    return "".join(p.capitalize() for p in spec.name.split("_"))


def spec_operations(spec: Spec) -> list[Operation]:
    """List, create, get, update and delete for one collection."""
    name, schema = spec.name, _schema_name(spec)
    props = {k: {**_KIND.get(f.kind, {"type": "string"}), **({"description": f.doc} if f.doc else {})}
             for k, f in spec.fields.items()}
    write = {"type": "object", "properties": props, "additionalProperties": False}
    create = {**write, "required": sorted(k for k, f in spec.fields.items() if f.required)}
    record = {"type": "object", "properties": {"id": {"type": "integer"}, **props}}
    page = {"type": "object", "properties": {"items": {"type": "array", "items": ref(schema)},
                                             "page": {"type": "integer"}, "per_page": {"type": "integer"},
                                             "total": {"type": "integer"}}}
    ident = Param("id", "path", {"type": "integer"})
    filters = tuple(Param(k) for k in sorted(spec.filters)) + (
        Param("q", description="text search"), Param("page", schema={"type": "integer"}),
        Param("per_page", schema={"type": "integer", "maximum": 500}))
    tag = (name,)
    common = {"schemas": {schema: record, "BusinessError": BUSINESS_ERROR}}
    return [
        Operation("GET", f"/{name}", f"List {spec.title or name}", f"list_{name}", tag, filters,
                  responses={200: Response("One page", page), **errors(401, 403, 422)},
                  permission=spec.read_perm, **common),
        Operation("POST", f"/{name}", f"Create a {name} record", f"create_{name}", tag, request_body=create,
                  responses={201: Response("Created", ref(schema)), **errors(400, 401, 403, 409, 422)},
                  permission=spec.write_perm, **common),
        Operation("GET", f"/{name}/{{id}}", f"One {name} record", f"get_{name}", tag, (ident,),
                  responses={200: Response("The record", ref(schema)), **errors(401, 403, 404)},
                  permission=spec.read_perm, **common),
        Operation("PATCH", f"/{name}/{{id}}", f"Change a {name} record", f"update_{name}", tag, (ident,),
                  request_body=write,
                  responses={200: Response("Changed", ref(schema)), **errors(400, 401, 403, 404, 409, 422)},
                  permission=spec.write_perm, **common),
        Operation("DELETE", f"/{name}/{{id}}", f"Delete a {name} record", f"delete_{name}", tag, (ident,),
                  responses={204: Response("Deleted"), **errors(401, 403, 404, 409)},
                  permission=spec.write_perm, **common),
    ]


_SCOPED_READ = ("users.read everywhere sees every user; a scoped users.read sees the users whose grants all "
                "lie in its scopes (never admins); anyone else gets 403.")
_DELEGATED = ("users.write everywhere (administrators): any user. users.manage in some scopes (managers): only "
              "grants inside those scopes, only roles whose every permission the caller holds there, never the "
              "admin role, only users whose grants all lie inside those scopes. Each refusal is a 403 naming "
              "what was refused; each change is in the audit log.")


def extra_operations() -> dict[str, list[Operation]]:
    """Operations of the non-CRUD resources, keyed by mount name."""
    obj = {"type": "object"}
    ident = Param("id", "path", {"type": "integer"})
    return {
        "auth": [
            Operation("POST", "/auth/login", "Log in with a password; returns a session token", "login", ("auth",),
                      request_body={"type": "object", "required": ["username", "password"],
                                    "properties": {"username": {"type": "string"}, "password": {"type": "string"}}},
                      responses={200: Response("Session", obj), **errors(400, 401, 422)}),
            Operation("POST", "/auth/logout", "Revoke the current session", "logout", ("auth",),
                      responses={204: Response("Logged out"), **errors(401)}, permission="(any)"),
            Operation("GET", "/auth/me", "The caller's roles, grants and permissions", "me", ("auth",),
                      responses={200: Response("Identity", obj), **errors(401)}, permission="(any)"),
        ],
        "users": [
            Operation("GET", "/users", "List users", "list_users", ("users",),
                      responses={200: Response("Users", obj), **errors(401, 403)}, permission="users.read",
                      description=_SCOPED_READ),
            Operation("POST", "/users", "Create a user with grants", "create_user", ("users",), request_body=obj,
                      responses={201: Response("Created", obj), **errors(400, 401, 403, 409, 422)},
                      permission="users.manage", description=_DELEGATED),
            Operation("GET", "/users/{id}", "One user", "get_user", ("users",), (ident,),
                      responses={200: Response("User", obj), **errors(401, 403, 404)}, permission="users.read",
                      description=_SCOPED_READ),
            Operation("PATCH", "/users/{id}", "Change a user (grants, password, active)", "update_user", ("users",),
                      (ident,), request_body=obj,
                      responses={200: Response("User", obj), **errors(400, 401, 403, 404, 422)},
                      permission="users.manage", description=_DELEGATED + " Passwords: users.write everywhere only."),
            Operation("GET", "/users/{id}/tokens", "A user's API tokens (never the secret)", "list_tokens",
                      ("users",), (ident,), responses={200: Response("Tokens", obj), **errors(401, 403)},
                      permission="users.read"),
            Operation("DELETE", "/users/{id}/tokens/{token_id}", "Revoke an API token", "revoke_token", ("users",),
                      (ident, Param("token_id", "path", {"type": "integer"})),
                      responses={204: Response("Revoked"), **errors(401, 403, 404)}, permission="users.write"),
            Operation("POST", "/users/{id}/tokens", "Issue an API token (shown once)", "create_token", ("users",),
                      (ident,), request_body=obj,
                      responses={201: Response("Token", obj), **errors(400, 401, 403, 404, 422)},
                      permission="users.write"),
        ],
        "audit": [Operation("GET", "/audit", "The audit log, newest first", "list_audit", ("audit",),
                            (Param("entity"), Param("entity_id"), Param("actor"), Param("page"), Param("per_page")),
                            responses={200: Response("Entries", obj), **errors(401, 403, 422)},
                            permission="audit.read")],
        "import": [Operation("POST", "/import/{kind}", "Import units, owners or staff from CSV", "import_csv",
                             ("import",), (Param("kind", "path"), Param("dry_run"), Param("property")),
                             responses={200: Response("Report", obj), **errors(400, 401, 403, 422)},
                             permission="import.run",
                             description="Body: UTF-8 CSV with a header line. Any bad row: nothing is written "
                                         "and the report lists every error by line number.")],
    }


def item_extra_operations(name: str) -> list[Operation]:
    """Extra operations under a collection mount."""
    ident = Param("id", "path", {"type": "integer"})
    if name == "assets":
        return [Operation("GET", "/assets/{id}/live", "Live values, active alarms and run hours", "asset_live",
                          ("assets",), (ident,), responses={200: Response("Live view", {"type": "object"}),
                                                            **errors(401, 403, 404)}, permission="assets.read")]
    if name == "attendance":
        return [Operation("GET", "/attendance/summary", "Lateness and absence per rostered shift",
                          "attendance_summary", ("attendance",),
                          (Param("from"), Param("to"), Param("staff_id")),
                          responses={200: Response("Rows", {"type": "object"}), **errors(401, 403, 422)},
                          permission="attendance.read"),
                Operation("POST", "/attendance/clock", "Clock in or out (the caller's own staff record)",
                          "attendance_clock", ("attendance",),
                          request_body={"type": "object", "required": ["kind"],
                                        "properties": {"kind": {"enum": ["in", "out"]}}},
                          responses={201: Response("Clock record", {"type": "object"}), **errors(400, 401, 403, 422)},
                          permission="attendance.clock")]
    return []
