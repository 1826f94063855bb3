"""REST behaviour over real HTTP: login/sessions, lockout, bad input on every write endpoint,
the tag API using business identities, OpenAPI coverage, no secrets in logs."""

from __future__ import annotations

import logging

import pytest
import pytest_twisted
import treq

from business.authn import DbAuthenticator
from business.identity import LockoutPolicy, create_user, make_hasher, new_api_token
from business.specs import SPECS

from .apiserver import start, world_for
from .test_api_matrix import PATCH

PASSWORD = "Sea-View-2026!"


@pytest_twisted.async_yield_fixture
async def env(tmp_path):
    server = await start(tmp_path, f"sqlite:///{tmp_path / 'b.db'}")
    w = world_for(server)
    admin = server.add_user("boss", [("admin", "*")], password=PASSWORD)
    await server.api.auth.refresh()
    yield server, w, admin
    await server.root.stopService()


@pytest_twisted.ensureDeferred
async def test_login_session_cookie_logout_and_no_secret_in_logs(env, caplog):
    server, w, _ = env
    caplog.set_level(logging.DEBUG)
    code, body = await server.call("POST", "/auth/login", None, {"username": "boss", "password": "Wrong-pass-1"})
    assert code == 401 and body["error"]["code"] == "unauthenticated"
    resp = await treq.post(server.base + "/auth/login", json={"username": "boss", "password": PASSWORD})
    body = await resp.json()
    assert resp.code == 200 and body["token"].startswith("spms_s_") and body["roles"] == ["admin"]
    cookie = {c.name: c.value for c in resp.cookies()}.get("spms_session")
    assert cookie == body["token"]
    set_cookie = resp.headers.getRawHeaders("set-cookie")[0].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie
    me = await treq.get(server.base + "/auth/me", cookies={"spms_session": cookie})
    assert me.code == 200 and (await me.json())["user"] == "boss"
    code, _ = await server.call("GET", "/units", body["token"])
    assert code == 200
    code, _ = await server.call("POST", "/auth/logout", body["token"])
    assert code == 204
    code, body2 = await server.call("GET", "/units", body["token"])
    assert code == 401 and body2["error"]["code"] == "unauthenticated"
    assert PASSWORD not in caplog.text and "Wrong-pass-1" not in caplog.text and body["token"] not in caplog.text


@pytest_twisted.ensureDeferred
async def test_lockout_over_http(env):
    server, _, _ = env
    for _ in range(5):
        code, _ = await server.call("POST", "/auth/login", None, {"username": "boss", "password": "nope-nope-1"})
        assert code == 401
    code, body = await server.call("POST", "/auth/login", None, {"username": "boss", "password": PASSWORD})
    assert code == 401 and body["error"]["code"] == "account_locked"
    code, body = await server.call("POST", "/auth/login", None, {"username": "boss"})
    assert code == 422 and body["error"]["fields"] == {"password": "is required"}


@pytest_twisted.ensureDeferred
async def test_bad_input_on_every_write_endpoint_writes_nothing(env):
    server, w, admin = env
    from .test_api_matrix import RECORDS
    for name, spec in SPECS.items():
        code, before = await server.call("GET", f"/{name}?per_page=500", admin)
        code, body = await server.call("POST", f"/{name}", admin, {"no_such_field": 1})
        assert code == 422, (name, body)
        err = body["error"]
        assert err["code"] == "validation_error" and "no_such_field" in err["fields"]
        required = {k for k, f in spec.fields.items() if f.required}
        assert required <= set(err["fields"]), (name, err)
        code, body = await server.call("POST", f"/{name}", admin, raw=b"{not json")
        assert code == 400 and body["error"]["code"] == "bad_request", name
        code, body = await server.call("POST", f"/{name}", admin, [1, 2])
        assert code == 422, name
        rec = w[RECORDS[name][0]]
        field = next(iter(PATCH[name]))
        code, body = await server.call("PATCH", f"/{name}/{rec}", admin, {field: {"nested": True}, "id": 5})
        assert code == 422 and set(body["error"]["fields"]) == {field, "id"}, (name, body)
        code, after = await server.call("GET", f"/{name}?per_page=500", admin)
        assert after == before, name
    code, body = await server.call("PATCH", f"/units/{w['uA']}", admin, {"inner_area": "500.00"})
    assert code == 422 and body["error"]["fields"] == {"inner_area": "must not exceed gross_area"}
    code, body = await server.call("POST", "/units", admin, {"building_id": w["bA"], "code": "1201", "floor": 12,
                                                             "gross_area": "80", "inner_area": "60"})
    assert code == 409 and body["error"]["fields"] == {"code": "already exists"}
    code, body = await server.call("DELETE", f"/buildings/{w['bA']}", admin)
    assert code == 409
    code, body = await server.call("GET", "/units?per_page=0&color=red", admin)
    assert code == 422 and set(body["error"]["fields"]) == {"per_page", "color"}
    code, body = await server.call("PUT", "/units", admin, {})
    assert code == 405
    code, body = await server.call("POST", "/users", admin, {"username": "x", "password": "short", "grants": [["king", "*"]]})
    assert code == 422 and "password" in body["error"]["fields"]
    code, body = await server.call("POST", "/import/units?property=demo", admin,
                                   raw=b"building,code,floor,gross_area,inner_area\ntower-a,3001,30,abc,60\n",
                                   ctype="text/csv")
    assert code == 422 and body["errors"] == [{"row": 2, "field": "gross_area", "message": "'abc' is not a number"}]


@pytest_twisted.ensureDeferred
async def test_tag_api_and_audit_use_business_identities(env):
    server, w, admin = env
    operator = server.add_user("op", [("operator", "building:tower-a")])
    resident = server.add_user("res", [("owner", f"unit:{w['uA']}")])
    await server.api.auth.refresh()
    resp = await treq.get(server.base + "/tags", headers={"Authorization": [f"Bearer {operator}"]})
    assert resp.code == 200
    resp = await treq.get(server.base + "/tags", headers={"Authorization": [f"Bearer {resident}"]})
    assert resp.code == 403
    resp = await treq.get(server.base + "/tags")
    assert resp.code == 401
    code, body = await server.call("PATCH", f"/units/{w['uA']}", admin, {"status": "rented"})
    assert code == 200
    code, body = await server.call("GET", f"/audit?entity=units&entity_id={w['uA']}", admin)
    top = body["items"][0]
    assert (top["actor"], top["action"], top["before"]["status"], top["after"]["status"]) == \
        ("boss", "update", "vacant", "rented")
    code, doc = await server.call("GET", "/openapi.json")
    for path in ("/units", "/units/{id}", "/assets/{id}/live", "/auth/login", "/import/{kind}", "/attendance/summary"):
        assert path in doc["paths"], path
    assert doc["paths"]["/units"]["get"]["x-permission"] == "units.read"


@pytest_twisted.ensureDeferred
async def test_asset_live_view(tmp_path):
    from tagdb.site.model import Equipment
    from tagdb.values import GOOD, TagValue
    from datetime import datetime, timezone
    eq = Equipment(id="tower-a/elevator-1", template="elevator", equipment_class="elevator", name="Elevator 1",
                   building="tower-a", area=None, device=None, parameters={},
                   tags=("tower-a/elevator-1/current_floor", "tower-a/elevator-1/run_hours"))
    server = await start(tmp_path, f"sqlite:///{tmp_path / 'b.db'}", equipment=[eq])
    try:
        w = world_for(server)
        token = server.add_user("eng", [("engineer", "building:tower-a")])
        await server.api.auth.refresh()
        now = datetime.now(timezone.utc)
        server.ctx.tags.update([TagValue("tower-a/elevator-1/current_floor", 7, GOOD, now, now),
                                TagValue("tower-a/elevator-1/run_hours", 1234.5, GOOD, now, now)])
        code, body = await server.call("GET", f"/assets/{w['aA']}/live", token)
        assert code == 200 and body["linked"] and body["run_hours"] == 1234.5
        assert {v["path"]: v["value"] for v in body["values"]}["tower-a/elevator-1/current_floor"] == 7
        code, body = await server.call("GET", f"/assets/{w['aB']}/live", token)
        assert code == 404
    finally:
        await server.root.stopService()


def test_authenticator_cache_expires_tokens_with_the_clock(db, clock):
    hasher = make_hasher(fast=True)
    auth = DbAuthenticator(db, clock, hasher, LockoutPolicy())

    def issue(s):
        u = create_user(s, hasher, username="bot", password="Machine-Pass-1", actor="t", now=clock(),
                        grants=[("operator", "*")])
        return new_api_token(s, u.id, "scada", clock(), 60, "t")[0]
    token = db.call(issue)
    assert auth.authenticate_token(token) is None           # not loaded yet: never a blocking lookup
    auth._cache = db.call(auth.load_cache)
    p = auth.authenticate_token(token)
    assert p.user == "bot" and p.can("tags.write") and p.can("hmi.command")
    clock.advance(seconds=61)
    assert auth.authenticate_token(token) is None
    assert auth.authenticate_password("bot", "Machine-Pass-1").user == "bot"
    assert auth.authenticate_password("bot", "wrong-pass-123") is None


@pytest_twisted.ensureDeferred
async def test_staff_clock_themselves_in_at_server_time(env):
    server, w, admin = env
    from business.identity import create_user, new_api_token
    from business.models import ClockRecord
    from sqlalchemy import select

    def make(s):
        u = create_user(s, make_hasher(fast=True), username="tech", password="Tech-pass-123", actor="t",
                        now=server.api.clock(), grants=[("technician", "building:tower-a")], staff_id=w["sA"])
        return new_api_token(s, u.id, "phone", server.api.clock(), None, "t")[0]
    tech = server.db.call(make)
    other = server.add_user("tech2", [("technician", "building:tower-a")])
    await server.api.auth.refresh()
    code, body = await server.call("POST", "/attendance/clock", tech, {"kind": "in"})
    assert code == 201 and body["staff_id"] == w["sA"] and body["source"] == "self"
    code, body = await server.call("POST", "/attendance/clock", tech, {"kind": "in", "at": "2020-01-01T00:00:00Z"})
    assert code == 422
    code, _ = await server.call("POST", "/attendance/clock", other, {"kind": "in"})
    assert code == 403                                     # not linked to a staff record
    code, _ = await server.call("POST", "/attendance/clock", admin, {"kind": "in"})
    assert code == 403
    n = server.db.call(lambda s: len(list(s.scalars(select(ClockRecord).where(ClockRecord.source == "self")))))
    assert n == 1


@pytest.mark.postgres
@pytest_twisted.ensureDeferred
async def test_service_on_postgresql_with_concurrent_requests(tmp_path, pg_url):
    from twisted.internet.defer import gatherResults, ensureDeferred
    from .conftest import fresh_pg_database
    url, drop = fresh_pg_database(pg_url)
    server = await start(tmp_path, url)
    try:
        assert server.db.dialect == "postgresql"
        w = world_for(server)
        admin = server.add_user("boss", [("admin", "*")], password=PASSWORD)
        await server.api.auth.refresh()
        code, body = await server.call("POST", "/auth/login", None, {"username": "boss", "password": PASSWORD})
        assert code == 200
        token = body["token"]
        calls = [ensureDeferred(server.call("POST", "/units", token, {
            "building_id": w["bA"], "code": f"C{i:02d}", "floor": 5, "gross_area": "60.25", "inner_area": "50.00"}))
            for i in range(20)]
        calls += [ensureDeferred(server.call("GET", f"/units/{w['uA']}", admin)) for _ in range(20)]
        results = await gatherResults(calls)
        assert [c for c, _ in results[:20]] == [201] * 20 and [c for c, _ in results[20:]] == [200] * 20
        code, body = await server.call("GET", "/units?floor=5&per_page=100", admin)
        assert body["total"] == 20 and {u["gross_area"] for u in body["items"]} == {"60.25"}
    finally:
        await server.root.stopService()
        drop()


@pytest_twisted.ensureDeferred
async def test_api_tokens_get_the_configured_lifetime(env):
    server, w, admin = env
    now = server.api.clock()
    code, body = await server.call("POST", "/users/1/tokens", admin, {"name": "default"})
    assert code == 201
    from datetime import datetime
    lifetime = datetime.fromisoformat(body["expires_at"]) - now
    assert 89.9 < lifetime.total_seconds() / 86400 <= 90.01
    code, body = await server.call("POST", "/users/1/tokens", admin, {"name": "forever", "lifetime_s": None})
    assert code == 201 and body["expires_at"] is None
    code, body = await server.call("POST", "/users/1/tokens", admin, {"name": "", "lifetime_s": -5})
    assert code == 422 and "name" in body["error"]["fields"]
    code, body = await server.call("GET", "/units", body and body.get("token") or "spms_t_bogus")
    assert code == 401


@pytest_twisted.ensureDeferred
async def test_login_and_logout_during_a_cache_refresh_are_not_lost(env):
    from twisted.internet.defer import Deferred, ensureDeferred
    server, _, _ = env
    auth, real = server.api.auth, server.api.auth.db
    code, first = await server.call("POST", "/auth/login", None, {"username": "boss", "password": PASSWORD})
    stale = real.call(auth.load_cache)         # what a slow refresh read before the next two requests
    gate = Deferred()

    class SlowLoad:
        """The real database, except that the cache load finishes only when the test says so."""

        def run(self, fn, *args):
            return gate if fn == auth.load_cache else real.run(fn, *args)
    auth.db = SlowLoad()
    try:
        refresh = ensureDeferred(auth.refresh())
        code, second = await server.call("POST", "/auth/login", None, {"username": "boss", "password": PASSWORD})
        assert code == 200
        code, _ = await server.call("POST", "/auth/logout", first["token"])
        assert code == 204
        gate.callback(stale)                   # the refresh lands after the login and the logout
        await refresh
    finally:
        auth.db = real
    assert auth.authenticate_token(second["token"]) is not None
    assert auth.authenticate_token(first["token"]) is None


@pytest_twisted.ensureDeferred
async def test_revoked_api_token_stops_working_at_once(env):
    server, w, admin = env
    code, issued = await server.call("POST", "/users/1/tokens", admin, {"name": "bms"})
    assert code == 201
    code, _ = await server.call("GET", "/units", issued["token"])
    assert code == 200
    code, listed = await server.call("GET", "/users/1/tokens", admin)
    assert issued["id"] in [t["id"] for t in listed["items"]] and issued["token"] not in str(listed)
    code, _ = await server.call("DELETE", f"/users/1/tokens/{issued['id']}", admin)
    assert code == 204
    code, body = await server.call("GET", "/units", issued["token"])
    assert code == 401
    code, _ = await server.call("DELETE", "/users/2/tokens/999999", admin)
    assert code == 404


@pytest_twisted.ensureDeferred
async def test_periodic_refresh_picks_up_tokens_made_elsewhere_and_skips_when_unchanged(env):
    server, w, admin = env
    auth = server.api.auth
    assert await auth.refresh_if_changed() is False
    token = server.add_user("cli-made", [("operator", "*")])     # as `spms users add/token` in another process
    assert auth.authenticate_token(token) is None
    assert await auth.refresh_if_changed() is True
    assert auth.authenticate_token(token).user == "cli-made"
    assert await auth.refresh_if_changed() is False
