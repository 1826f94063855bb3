"""Passwords, lockout, sessions and API tokens (SQLite and PostgreSQL); secrets never in clear."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from business.errors import AccountLocked, ValidationError
from business.identity import (LockoutPolicy, create_user, make_hasher, new_api_token, new_session, resolve_token,
                               verify_password)
from business.models import Base

PASSWORD = "Correct-Horse-42"
HASHER = make_hasher(fast=True)
POLICY = LockoutPolicy(max_failures=3, lock_seconds=600)


@pytest.fixture
def user_id(db, clock):
    return db.call(lambda s: create_user(s, HASHER, username="alice", password=PASSWORD, actor="root",
                                         now=clock(), grants=[("manager", "building:tower-a")]).id)


def login(db, clock, password):
    return db.call(lambda s: verify_password(s, HASHER, POLICY, "alice", password, clock()))


def test_lockout_after_repeated_failures_with_injected_clock(db, clock, user_id):
    assert login(db, clock, PASSWORD) is not None
    for _ in range(POLICY.max_failures):
        assert login(db, clock, "wrong-password") is None
    with pytest.raises(AccountLocked):
        login(db, clock, PASSWORD)           # even the right password is refused while locked
    clock.advance(seconds=599)
    with pytest.raises(AccountLocked):
        login(db, clock, PASSWORD)
    clock.advance(seconds=2)
    assert login(db, clock, PASSWORD).username == "alice"
    # a success resets the counter: two more failures do not lock
    for _ in range(POLICY.max_failures - 1):
        assert login(db, clock, "wrong-password") is None
    assert login(db, clock, PASSWORD) is not None


def test_unknown_user_and_weak_password(db, clock, user_id):
    assert db.call(lambda s: verify_password(s, HASHER, POLICY, "nobody", PASSWORD, clock())) is None
    with pytest.raises(ValidationError) as exc:
        db.call(lambda s: create_user(s, HASHER, username="bob", password="short", actor="root", now=clock()))
    assert "password" in exc.value.fields
    with pytest.raises(ValidationError) as exc:
        db.call(lambda s: create_user(s, HASHER, username="bob", password=PASSWORD, actor="root", now=clock(),
                                      grants=[("wizard", "*"), ("manager", "planet:mars")]))
    assert set(exc.value.fields) == {"grants[0].role", "grants[1].scope"}


def test_session_and_api_token_expiry(db, clock, user_id):
    def issue(s):
        from business.models import User
        user = s.get(User, user_id)
        session_token, _ = new_session(s, user, clock(), 3600)
        api_token, _ = new_api_token(s, user_id, "bms-bridge", clock(), 86400, "root")
        forever, _ = new_api_token(s, user_id, "grafana", clock(), None, "root")
        return session_token, api_token, forever
    session_token, api_token, forever = db.call(issue)
    resolve = lambda tok: db.call(lambda s: resolve_token(s, tok, clock()))  # noqa: E731
    p = resolve(session_token)
    assert p.user == "alice" and p.attributes["grants"] == (("manager", "building:tower-a"),)
    assert p.can("units.read", "building:tower-a") and not p.can("units.read", "building:tower-b")
    assert resolve(api_token).user == "alice"
    clock.advance(seconds=3601)
    assert resolve(session_token) is None and resolve(api_token) is not None
    clock.advance(days=1)
    assert resolve(api_token) is None and resolve(forever) is not None
    assert resolve("spms_t_not-a-token") is None


def test_password_and_tokens_never_stored_or_logged_in_clear(db, clock, user_id, caplog):
    caplog.set_level(logging.DEBUG)
    for _ in range(2):
        login(db, clock, "Wrong-Secret-99")
    login(db, clock, PASSWORD)

    def issue(s):
        return new_api_token(s, user_id, "x", clock(), None, "root")[0]
    token = db.call(issue)
    secrets = (PASSWORD, "Wrong-Secret-99", token)

    def dump(s):
        out = []
        for table in Base.metadata.sorted_tables:
            for row in s.execute(text(f"SELECT * FROM {table.name}")):
                out.append(" ".join(str(v) for v in row))
        return "\n".join(out)
    everything = db.call(dump)
    assert "alice" in everything and "$argon2id$" in everything
    for secret in secrets:
        assert secret not in everything
        assert secret not in caplog.text
    if db.dialect == "sqlite":
        from pathlib import Path
        main, wal = Path(db.engine.url.database), Path(db.engine.url.database + "-wal")
        raw = main.read_bytes() + (wal.read_bytes() if wal.exists() else b"")
        for secret in secrets:
            assert secret.encode() not in raw


def test_principal_can_checks_each_grant_and_the_building_hierarchy(db, clock, crud, world):
    from business.identity import principal_of
    from business.models import User

    def make(s):
        u = create_user(s, HASHER, username="mixed", password=PASSWORD, actor="root", now=clock(),
                        grants=[("engineer", "building:tower-b"), ("owner", f"unit:{world['uA']}")])
        v = create_user(s, HASHER, username="plant", password=PASSWORD, actor="root", now=clock(),
                        grants=[("engineer", "property:demo")])
        return principal_of(s, s.get(User, u.id)), principal_of(s, s.get(User, v.id))
    mixed, plant = db.call(make)
    assert mixed.can("hmi.command", "building:tower-b")
    assert not mixed.can("hmi.command", "building:tower-a")       # only a resident there
    assert not mixed.can("hmi.command", f"unit:{world['uA']}")
    assert mixed.can("units.read", f"unit:{world['uA']}") and mixed.can("tags.write")
    assert plant.can("hmi.command", "building:tower-a") and plant.can("tags.write", "building:tower-b")
    assert not plant.can("hmi.command", "building:mall-of-elsewhere") and not plant.can("users.write")
