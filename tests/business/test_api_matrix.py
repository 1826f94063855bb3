"""Permission matrix over real HTTP: every collection endpoint × every role × in-scope and out-of-scope data.

Staff roles hold their role on building tower-a, residents on their own unit in tower-a.
The "A" record of each collection is in that scope, the "B" record (tower-b, another
unit, another property) is not. What each role may do comes from the declared role
table; the test checks the HTTP layer and the SQL scope filters enforce exactly that.
"""

from __future__ import annotations

import itertools

import pytest
import pytest_twisted

from business.permissions import ROLES, role_has

from .apiserver import start, world_for

PROPERTY_WIDE = {"properties", "departments", "positions", "shifts"}   # writable only with a property grant
CREATE_PROPERTY_WIDE = PROPERTY_WIDE | {"buildings"}                     # creating a building too
RECORDS = {  # collection: (in-scope record key, out-of-scope record key)
    "properties": ("prop", "other_prop"), "buildings": ("bA", "bB"), "units": ("uA", "uB"),
    "parking": ("parkA", "parkB"), "common_areas": ("caA", "caB"), "people": ("pA", "pB"),
    "residencies": ("rA", "rB"), "leases": ("lA", "lB"), "vehicles": ("vA", "vB"),
    "departments": ("dep", "other_dep"), "positions": ("pos", "other_pos"), "staff": ("sA", "sB"),
    "shifts": ("shift", "other_shift"), "roster": ("rosA", "rosB"), "attendance": ("clkA", "clkB"),
    "reviews": ("revA", "revB"), "assets": ("aA", "aB"), "maintenance": ("mA", "mB"),
}
PATCH = {"properties": {"address": "1 Harbour Rd"}, "buildings": {"name": "Tower"}, "units": {"status": "occupied"},
         "parking": {"kind": "rented"}, "common_areas": {"name": "Lobby"}, "people": {"note": "vip"},
         "residencies": {"relation": ""}, "leases": {"deposit": "100.00"}, "vehicles": {"description": "SUV"},
         "departments": {"name": "Eng"}, "positions": {"name": "Tech"}, "staff": {"phone": "13500000000"},
         "shifts": {"grace_minutes": 10}, "roster": {"day": "2026-11-03"}, "attendance": {"source": "app"},
         "reviews": {"comment": "ok"}, "assets": {"status": "standby"}, "maintenance": {"description": "done"}}
GRANTS = {role: ("*" if role == "admin" else "unit" if role in ("owner", "tenant") else "building:tower-a")
          for role in ROLES}
_n = itertools.count(1)


def create_body(coll: str, w: dict, side: str) -> dict:
    """A valid new record in scope A or B (unique values each call)."""
    n = next(_n)
    a = side == "A"
    b, u, st = (w["bA"], w["uA"], w["sA"]) if a else (w["bB"], w["uB"], w["sB"])
    p = w["prop"] if a else w["other_prop"]
    return {
        "properties": {"code": f"np{n}", "name": "New"},
        "buildings": {"property_id": p, "code": f"nb{n}", "name": "New"},
        "units": {"building_id": b, "code": f"N{n}", "floor": 3, "gross_area": "50.00", "inner_area": "40.00"},
        "parking": {"building_id": b, "code": f"P{n}"},
        "common_areas": {"building_id": b, "code": f"ca{n}", "name": "Garden", "area": "10"},
        "people": {"property_id": p, "name": f"Person {n}"},
        "residencies": {"unit_id": u, "person_id": w["pA"] if a else w["pB"], "role": "member", "moved_in": "2026-01-01"},
        "leases": {"unit_id": u, "person_id": w["pA"] if a else w["pB"], "start_date": "2027-01-01",
                   "end_date": "2027-12-31", "monthly_rent": "3000"},
        "vehicles": {"person_id": w["pA"] if a else w["pB"], "unit_id": u, "plate": f"沪C{n:05d}"},
        "departments": {"property_id": p, "code": f"d{n}", "name": "Dept"},
        "positions": {"department_id": w["dep"] if a else w["other_dep"], "code": f"p{n}", "name": "Pos"},
        "staff": {"building_id": b, "employee_no": f"N{n:05d}", "name": "New staff"},
        "shifts": {"property_id": p, "code": f"s{n}", "name": "Shift", "start": "09:00", "end": "18:00"},
        "roster": {"staff_id": st, "shift_id": w["shift"], "day": f"2027-01-{(n % 28) + 1:02d}"},
        "attendance": {"staff_id": st, "kind": "out", "at": "2026-11-02T17:01:00+08:00"},
        "reviews": {"staff_id": st, "period": f"{2000 + n % 900}", "score": "75"},
        "assets": {"building_id": b, "code": f"AS{n}", "name": "Pump", "category": "pump"},
        "maintenance": {"asset_id": w["aA"] if a else w["aB"], "kind": "inspection",
                        "performed_at": "2026-11-01T02:00:00Z"},
    }[coll]


@pytest_twisted.async_yield_fixture
async def env(tmp_path):
    server = await start(tmp_path, f"sqlite:///{tmp_path / 'b.db'}")
    w = world_for(server)
    crud = server.api.crud
    from .conftest import ADMIN

    def other(s):
        w["other_dep"] = crud.create(s, ADMIN, "departments", {"property_id": w["other_prop"], "code": "x",
                                                               "name": "X"})["id"]
        w["other_pos"] = crud.create(s, ADMIN, "positions", {"department_id": w["other_dep"], "code": "x",
                                                             "name": "X"})["id"]
        w["other_shift"] = crud.create(s, ADMIN, "shifts", {"property_id": w["other_prop"], "code": "x", "name": "X",
                                                            "start": "08:00", "end": "17:00"})["id"]
    server.db.call(other)
    tokens = {}
    for role in ROLES:
        scope = f"unit:{w['uA']}" if GRANTS[role] == "unit" else GRANTS[role]
        tokens[role] = server.add_user(f"user-{role}", [(role, scope)])
    await server.api.auth.refresh()
    yield server, w, tokens
    await server.root.stopService()


def _expect_read(role, coll, in_scope):
    if not role_has(role, f"{coll}.read"):
        return 403
    return 200 if (in_scope or role == "admin") else 404


def _expect_write(role, coll, in_scope, existing=True):
    can_read, can_write = role_has(role, f"{coll}.read"), role_has(role, f"{coll}.write")
    if role == "admin":
        return 201 if not existing else 200
    if existing and not can_read:
        return 403
    if existing and not in_scope:
        return 404
    if not can_write or not in_scope or coll in (PROPERTY_WIDE if existing else CREATE_PROPERTY_WIDE):
        return 403
    return 200 if existing else 201


@pytest.mark.timeout(600)
@pytest_twisted.ensureDeferred
async def test_permission_matrix(env):
    server, w, tokens = env
    failures = []

    def check(what, got, want):
        if got != want:
            failures.append(f"{what}: got {got}, want {want}")

    for coll, (ka, kb) in RECORDS.items():
        for role in ROLES:
            tok = tokens[role]
            code, body = await server.call("GET", f"/{coll}?per_page=500", tok)
            want = 403 if not role_has(role, f"{coll}.read") else 200
            check(f"{role} GET /{coll}", code, want)
            if code == 200:
                ids = {item["id"] for item in body["items"]}
                if w[ka] not in ids:
                    failures.append(f"{role} GET /{coll}: in-scope record missing")
                if role != "admin" and w[kb] in ids:
                    failures.append(f"{role} GET /{coll}: out-of-scope record {w[kb]} listed")
            for key, in_scope in ((ka, True), (kb, False)):
                code, _ = await server.call("GET", f"/{coll}/{w[key]}", tok)
                check(f"{role} GET /{coll}/{key}", code, _expect_read(role, coll, in_scope))
                code, body = await server.call("PATCH", f"/{coll}/{w[key]}", tok, PATCH[coll])
                check(f"{role} PATCH /{coll}/{key}", code, _expect_write(role, coll, in_scope))
            for side, in_scope in (("A", True), ("B", False)):
                code, body = await server.call("POST", f"/{coll}", tok, create_body(coll, w, side))
                check(f"{role} POST /{coll} scope {side}", code, _expect_write(role, coll, in_scope, existing=False))
                if code == 201:    # a writer may delete what it created in its scope
                    code, _ = await server.call("DELETE", f"/{coll}/{body['id']}", tok)
                    check(f"{role} DELETE /{coll} (own new record)", code, 204)
            if role != "admin":
                code, _ = await server.call("DELETE", f"/{coll}/{w[kb]}", tok)
                check(f"{role} DELETE /{coll}/{kb}", code, 404 if role_has(role, f"{coll}.read") else 403)
                if not role_has(role, f"{coll}.write"):
                    code, _ = await server.call("DELETE", f"/{coll}/{w[ka]}", tok)
                    check(f"{role} DELETE /{coll}/{ka}", code, 403)
    assert not failures, "\n".join(failures)


@pytest_twisted.ensureDeferred
async def test_resident_cannot_read_another_units_data(env):
    server, w, tokens = env
    for role in ("owner", "tenant"):
        tok = tokens[role]
        for coll, key in (("units", "uA2"), ("people", "pA2"), ("residencies", "rA2"), ("units", "uB"),
                          ("leases", "lB"), ("vehicles", "vB"), ("people", "pB")):
            code, body = await server.call("GET", f"/{coll}/{w[key]}", tok)
            assert code == 404 and body["error"]["code"] == "not_found", (role, coll, key)
        code, body = await server.call("GET", "/units", tok)
        assert [u["id"] for u in body["items"]] == [w["uA"]]
        code, body = await server.call("GET", f"/leases?unit_id={w['uB']}", tok)
        assert code == 200 and body["items"] == []
        code, body = await server.call("GET", "/people", tok)
        assert {p["id"] for p in body["items"]} == {w["pA"]}


@pytest_twisted.ensureDeferred
async def test_identity_audit_and_import_endpoints_by_role(env):
    server, w, tokens = env
    for role in ROLES:
        tok = tokens[role]
        code, body = await server.call("GET", "/users", tok)
        assert code == (200 if role_has(role, "users.read") else 403), role
        if code == 200 and role != "admin":     # a scoped reader sees only the users inside its scope
            assert "user-admin" not in {u["username"] for u in body["items"]}, role
        code, _ = await server.call("POST", "/users", tok, {"username": f"new-{role}", "password": "Long-enough-1",
                                                            "grants": [["tenant", f"unit:{w['uB']}"]]})
        assert code == (201 if role == "admin" else 403), role     # unit uB: outside every tower-a grant
        code, _ = await server.call("PATCH", "/users/1", tok, {"display_name": f"renamed by {role}"})
        assert code == (200 if role == "admin" else 403), role
        code, _ = await server.call("GET", "/users/1", tok)
        assert code == (200 if role == "admin" else 403), role
        code, body = await server.call("POST", "/users/1/tokens", tok, {"name": "x", "lifetime_s": 60})
        assert code == (201 if role == "admin" else 403), role
        code, _ = await server.call("GET", "/audit", tok)
        assert code == (200 if role == "admin" else 403), role     # building managers: not everywhere
        code, body = await server.call("POST", "/import/units?dry_run=true&property=demo", tok,
                                       raw="building,code,floor,gross_area,inner_area\ntower-a,2001,20,80,60\n".encode(),
                                       ctype="text/csv")
        assert code == (200 if role_has(role, "import.run") else 403), (role, body)
        code, body = await server.call("GET", "/auth/me", tok)
        assert code == 200 and body["user"] == f"user-{role}"
        code, body = await server.call("GET", f"/assets/{w['aA']}/live", tok)
        want = 200 if role_has(role, "assets.read") and role_has(role, "tags.read") else \
            (403 if not role_has(role, "assets.read") or not role_has(role, "tags.read") else 404)
        assert code == want, (role, code, body)
        code, body = await server.call("GET", "/attendance/summary?from=2026-11-02&to=2026-11-02", tok)
        assert code == (200 if role_has(role, "attendance.read") else 403), role
        if code == 200:
            ids = {r["staff_id"] for r in body["items"]}
            assert ids == ({w["sA"], w["sB"]} if role == "admin" else {w["sA"]}), role
