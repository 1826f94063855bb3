"""The SQL scope filter (lists) and the scope chain (single-record checks) agree, for any grants."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from business.crud import Crud
from business.database import Database
from business.permissions import ROLES, allowed, principal_for
from business.specs import SPECS

from .conftest import FakeClock, build_world

PROPERTY_WIDE_READS = {"properties", "departments", "positions", "shifts"}   # readable more widely by design

_state: dict = {}


def world():
    if not _state:
        db = Database("sqlite://")
        db.migrate()
        crud = Crud(SPECS, FakeClock())
        w = build_world(db, crud)
        rows = db.call(lambda s: {name: [(obj.id, spec.chain(s, obj)) for obj in s.query(spec.model)]
                                  for name, spec in SPECS.items() if name not in PROPERTY_WIDE_READS})
        _state.update(db=db, crud=crud, w=w, rows=rows)
    return _state


def scopes(w):
    return st.sampled_from(["*", "property:demo", "property:other", "building:tower-a", "building:tower-b",
                            f"unit:{w['uA']}", f"unit:{w['uA2']}", f"unit:{w['uB']}"])


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_list_filter_matches_scope_chain(data):
    state = world()
    db, crud, rows = state["db"], state["crud"], state["rows"]
    grants = data.draw(st.lists(st.tuples(st.sampled_from(ROLES), scopes(state["w"])), min_size=1, max_size=3))
    principal = principal_for("p", grants)
    for name, records in rows.items():
        perm = SPECS[name].read_perm
        expected = {rid for rid, chain in records if allowed(principal, perm, chain)}
        try:
            listed = {r["id"] for r in db.call(lambda s: crud.list(s, principal, name, {"per_page": "500"}))["items"]}
        except Exception as exc:          # PermissionDenied: the permission is held nowhere
            assert expected == set(), (name, grants, exc)
            continue
        assert listed == expected, (name, grants)
