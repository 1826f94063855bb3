"""The read-only viewer role and delegated user administration (``users.manage``) over real HTTP,
on SQLite and PostgreSQL: managers create, disable and re-grant users inside their own scope only,
never escalate (roles with permissions they lack, wider scopes, admin), never touch admins or
users outside their scope; every refusal is a 403 naming what was refused, every change is audited."""

from __future__ import annotations

import pytest
import pytest_twisted

from business.permissions import ROLE_PERMISSIONS, principal_for, role_has

from .apiserver import start, world_for

PW = "Long-enough-2026"


@pytest_twisted.async_yield_fixture
async def env(tmp_path, db_url):
    server = await start(tmp_path, db_url)
    w = world_for(server)
    tokens = {
        "admin": server.add_user("boss", [("admin", "*")]),
        "mgr_a": server.add_user("mgr-a", [("manager", "building:tower-a")]),
        "mgr_p": server.add_user("mgr-p", [("manager", "property:demo")]),
        "viewer": server.add_user("auditor", [("viewer", "building:tower-a")]),
        "engineer": server.add_user("eng", [("engineer", "building:tower-a")]),
    }
    await server.api.auth.refresh()
    ids = {u["username"]: u["id"] for u in (await server.call("GET", "/users", tokens["admin"]))[1]["items"]}
    yield server, w, tokens, ids
    await server.root.stopService()


async def _audit(server, admin, actor):
    code, body = await server.call("GET", f"/audit?entity=users&actor={actor}", admin)
    assert code == 200
    return body["items"]


async def _refused(server, token, method, path, body, *words):
    code, got = await server.call(method, path, token, body)
    assert code == 403, (method, path, body, code, got)
    assert got["error"]["code"] == "forbidden"
    for word in words:
        assert word in got["error"]["message"], (word, got["error"]["message"])


def test_viewer_role_reads_and_writes_nothing():
    perms = ROLE_PERMISSIONS["viewer"]
    assert perms and all(p.endswith(".read") or p == "hmi.view" for p in perms), sorted(perms)
    for p in ("assets.read", "units.read", "workorders.read", "finance.read", "hmi.view", "tags.read"):
        assert role_has("viewer", p), p
    assert "users.read" not in perms
    viewer = principal_for("auditor", [("viewer", "property:demo")], {"demo": ["tower-a"]})
    assert viewer.can("hmi.view", "building:tower-a") and not viewer.can("hmi.command", "building:tower-a")
    assert not viewer.can("alarms.ack") and not viewer.can("tags.write")


@pytest.mark.timeout(300)
@pytest_twisted.ensureDeferred
async def test_viewer_reads_its_scope_and_every_write_is_refused(env):
    server, w, tokens, _ = env
    tok = tokens["viewer"]
    code, body = await server.call("GET", "/units", tok)
    assert code == 200 and {u["id"] for u in body["items"]} == {w["uA"], w["uA2"]}
    code, _ = await server.call("GET", f"/assets/{w['aA']}", tok)
    assert code == 200
    code, _ = await server.call("GET", f"/assets/{w['aB']}", tok)
    assert code == 404                                  # outside its scope, like any record
    code, _ = await server.call("GET", f"/assets/{w['aA']}/live", tok)
    assert code == 200
    assert (await server.call("PATCH", f"/units/{w['uA']}", tok, {"status": "occupied"}))[0] == 403
    assert (await server.call("POST", "/assets", tok, {"building_id": w["bA"], "code": "V1", "name": "Pump",
                                                        "category": "pump"}))[0] == 403
    assert (await server.call("DELETE", f"/maintenance/{w['mA']}", tok))[0] == 403
    assert (await server.call("POST", "/attendance/clock", tok, {"kind": "in"}))[0] == 403
    assert (await server.call("POST", "/users", tok, {"username": "x-v", "password": PW,
                                                      "grants": [["viewer", "building:tower-a"]]}))[0] == 403
    assert (await server.call("GET", "/users", tok))[0] == 403


@pytest.mark.timeout(300)
@pytest_twisted.ensureDeferred
async def test_manager_creates_users_only_within_scope_without_escalation(env):
    server, w, tokens, _ = env
    admin, mgr = tokens["admin"], tokens["mgr_a"]

    async def create(username, grants, token=mgr, **extra):
        return await server.call("POST", "/users", token, {"username": username, "password": PW,
                                                           "grants": grants, **extra})

    code, body = await create("tech-a", [["technician", "building:tower-a"]])
    assert code == 201 and body["grants"] == [["technician", "building:tower-a"]]
    code, body = await create("view-a", [["viewer", "building:tower-a"]])
    assert code == 201
    code, body = await create("res-a", [["viewer", f"unit:{w['uA']}"]])        # a narrower scope is fine
    assert code == 201
    assert (await create("sec-a", [["security", "building:tower-a"]]))[0] == 201
    assert (await create("mgr-a2", [["manager", "building:tower-a"]]))[0] == 201

    refusals = [
        ("x1", [["technician", "building:tower-b"]], ("technician@building:tower-b", "outside")),
        ("x2", [["technician", "property:demo"]], ("property:demo", "wider")),        # wider than tower-a
        ("x3", [["viewer", "*"]], ("viewer@*",)),
        ("x4", [["viewer", f"unit:{w['uB']}"]], (f"unit:{w['uB']}",)),
        ("x5", [["admin", "building:tower-a"]], ("admin",)),
        ("x6", [["engineer", "building:tower-a"]], ("engineer", "hmi.command", "tags.write")),   # escalation
        ("x7", [["finance", "building:tower-a"]], ("finance", "finance.write")),
        ("x8", [["tenant", f"unit:{w['uA']}"]], ("tenant", "bills.pay")),
        ("x9", [["technician", "building:tower-a"], ["technician", "building:tower-b"]], ("building:tower-b",)),
    ]
    for username, grants, words in refusals:
        code, got = await create(username, grants)
        assert code == 403, (username, code, got)
        for word in words:
            assert word in got["error"]["message"], (username, word, got["error"]["message"])
    code, got = await create("x10", [["viewer", "building:tower-a"]], person_id=w["pB"])
    assert code == 403 and f"person {w['pB']}" in got["error"]["message"]
    code, got = await create("x11", [])
    assert code == 422 and "grants" in got["error"]["fields"]
    # holders without users.manage: refused whatever they ask
    for who in ("engineer", "viewer"):
        code, got = await create(f"x-{who}", [["viewer", "building:tower-a"]], token=tokens[who])
        assert code == 403 and "users.manage" in got["error"]["message"], (who, got)
    # a property manager reaches every building of the property, still not "*"
    assert (await create("tech-b", [["technician", "building:tower-b"]], token=tokens["mgr_p"]))[0] == 201
    assert (await create("view-p", [["viewer", "property:demo"]], token=tokens["mgr_p"]))[0] == 201
    code, got = await create("x12", [["viewer", "*"]], token=tokens["mgr_p"])
    assert code == 403 and "viewer@*" in got["error"]["message"]

    code, users = await server.call("GET", "/users", admin)
    names = {u["username"] for u in users["items"]}
    assert {"tech-a", "view-a", "res-a", "tech-b", "view-p"} <= names
    assert not {n for n in names if n.startswith("x")}                     # refusals wrote nothing
    created = await _audit(server, admin, "mgr-a")
    assert sorted(e["after"]["username"] for e in created if e["action"] == "create") == \
        ["mgr-a2", "res-a", "sec-a", "tech-a", "view-a"]
    assert all("password" not in str(e["after"]) for e in created)


@pytest.mark.timeout(300)
@pytest_twisted.ensureDeferred
async def test_manager_changes_only_users_within_scope(env):
    server, w, tokens, ids = env
    admin, mgr = tokens["admin"], tokens["mgr_a"]
    for name, grants in (("tech-a", [("technician", "building:tower-a")]),
                         ("tech-b", [("technician", "building:tower-b")]),
                         ("both", [("technician", "building:tower-a"), ("technician", "building:tower-b")]),
                         ("fin-a", [("finance", "building:tower-a")])):
        server.add_user(name, grants)
    await server.api.auth.refresh()
    code, body = await server.call("GET", "/users", admin)
    ids = {u["username"]: u["id"] for u in body["items"]}

    # disable and rename an in-scope user; re-grant within what the manager holds
    code, body = await server.call("PATCH", f"/users/{ids['tech-a']}", mgr, {"active": False, "display_name": "T"})
    assert code == 200 and body["active"] is False
    code, body = await server.call("PATCH", f"/users/{ids['tech-a']}", mgr,
                                   {"grants": [["viewer", "building:tower-a"], ["technician", f"unit:{w['uA']}"]]})
    assert code == 200 and body["grants"] == [["technician", f"unit:{w['uA']}"], ["viewer", "building:tower-a"]]
    # an in-scope user holding a role the manager could not give: disabling is allowed, keeping it is no escalation
    code, body = await server.call("PATCH", f"/users/{ids['fin-a']}", mgr,
                                   {"grants": [["finance", "building:tower-a"], ["viewer", "building:tower-a"]]})
    assert code == 200

    await _refused(server, mgr, "PATCH", f"/users/{ids['boss']}", {"active": False}, "boss", "admin")
    await _refused(server, mgr, "PATCH", f"/users/{ids['tech-b']}", {"active": False}, "tech-b",
                   "technician@building:tower-b")
    await _refused(server, mgr, "PATCH", f"/users/{ids['both']}", {"display_name": "x"}, "both", "outside")
    await _refused(server, mgr, "PATCH", f"/users/{ids['tech-a']}", {"grants": [["engineer", "building:tower-a"]]},
                   "engineer@building:tower-a", "hmi.command")
    await _refused(server, mgr, "PATCH", f"/users/{ids['tech-a']}", {"grants": [["viewer", "property:demo"]]},
                   "viewer@property:demo", "wider")
    await _refused(server, mgr, "PATCH", f"/users/{ids['tech-a']}", {"grants": [["manager", "*"]]}, "manager@*")
    await _refused(server, mgr, "PATCH", f"/users/{ids['tech-a']}", {"grants": [["admin", "building:tower-a"]]},
                   "admin")
    await _refused(server, mgr, "PATCH", f"/users/{ids['tech-a']}", {"password": "New-pass-2026"}, "password")
    await _refused(server, mgr, "PATCH", f"/users/{ids['mgr-a']}", {"grants": [["manager", "property:demo"]]},
                   "your own")
    await _refused(server, mgr, "POST", f"/users/{ids['tech-a']}/tokens", {"name": "x"}, "users.write")
    await _refused(server, tokens["engineer"], "PATCH", f"/users/{ids['tech-a']}", {"active": True}, "users.manage")
    code, got = await server.call("PATCH", f"/users/{ids['tech-a']}", mgr, {"grants": []})
    assert code == 422 and "grants" in got["error"]["fields"]

    code, body = await server.call("GET", f"/users/{ids['tech-a']}", admin)     # refusals changed nothing
    assert body["grants"] == [["technician", f"unit:{w['uA']}"], ["viewer", "building:tower-a"]]
    assert body["active"] is False and body["display_name"] == "T"
    code, body = await server.call("GET", f"/users/{ids['boss']}", admin)
    assert body["active"] is True and body["grants"] == [["admin", "*"]]
    entries = await _audit(server, admin, "mgr-a")
    changes = [(e["entity_id"], e["before"], e["after"]) for e in entries if e["action"] == "update"]
    assert {str(ids["tech-a"]), str(ids["fin-a"])} == {i for i, _, _ in changes}
    assert any(b["active"] is True and a["active"] is False for i, b, a in changes if i == str(ids["tech-a"]))
    assert any(b["grants"] == [["technician", "building:tower-a"]] for i, b, a in changes if i == str(ids["tech-a"]))


@pytest.mark.timeout(300)
@pytest_twisted.ensureDeferred
async def test_manager_reads_only_users_within_scope(env):
    server, w, tokens, ids = env
    server.add_user("tech-b", [("technician", "building:tower-b")])
    await server.api.auth.refresh()
    code, body = await server.call("GET", "/users", tokens["mgr_a"])
    assert code == 200
    assert {u["username"] for u in body["items"]} == {"mgr-a", "auditor", "eng"} and body["total"] == 3
    code, body = await server.call("GET", "/users", tokens["mgr_p"])
    assert {u["username"] for u in body["items"]} == {"mgr-a", "mgr-p", "auditor", "eng", "tech-b"}
    assert (await server.call("GET", f"/users/{ids['eng']}", tokens["mgr_a"]))[0] == 200
    await _refused(server, tokens["mgr_a"], "GET", f"/users/{ids['boss']}", None, "boss", "admin")
    await _refused(server, tokens["mgr_a"], "GET", f"/users/{ids['mgr-p']}", None, "mgr-p", "property:demo")
    code, doc = await server.call("GET", "/openapi.json")
    assert doc["paths"]["/users"]["post"]["x-permission"] == "users.manage"
    assert "users.manage" in doc["paths"]["/users/{id}"]["patch"]["description"]
