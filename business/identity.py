"""Users, passwords, lockout, API tokens and login sessions.

Functions here are synchronous and take a SQLAlchemy session (run them through
``Database.run`` from the reactor). The clock is injected: ``now`` is always
passed in, so lockout and expiry are testable with a fake clock.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from tagdb.auth import Principal

from .audit import record
from .errors import AccountLocked, Conflict, NotFound, ValidationError
from .models import ApiToken, RoleGrant, User, WebSession
from .permissions import ROLES, principal_for, valid_scope

TOKEN_PREFIX = "spms_t_"
SESSION_PREFIX = "spms_s_"
MIN_PASSWORD = 8


@dataclass(frozen=True)
class LockoutPolicy:
    """Lock an account for ``lock_seconds`` after ``max_failures`` consecutive failed logins."""

    max_failures: int = 5
    lock_seconds: float = 900.0


def make_hasher(fast: bool = False) -> PasswordHasher:
    """argon2id hasher; ``fast`` lowers the cost for tests only."""
    return PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1) if fast else PasswordHasher()


def digest(secret: str) -> str:
    """SHA-256 hex digest of a random token (tokens are stored only this way)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def check_password_rules(password: str, username: str) -> None:
    """Refuse passwords that are too short or equal to the user name."""
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise ValidationError("password too weak", {"password": f"must be at least {MIN_PASSWORD} characters"})
    if password.lower() == username.lower():
        raise ValidationError("password too weak", {"password": "must differ from the user name"})


def check_grants(grants: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Validate (role, scope) pairs; raises ValidationError naming each bad one."""
    out, fields = [], {}
    for i, g in enumerate(grants):
        try:
            role, scope = g
        except (TypeError, ValueError):
            fields[f"grants[{i}]"] = "expected [role, scope]"
            continue
        if role not in ROLES:
            fields[f"grants[{i}].role"] = f"unknown role {role!r} (roles: {', '.join(ROLES)})"
        elif not isinstance(scope, str) or not valid_scope(scope):
            fields[f"grants[{i}].scope"] = f"invalid scope {scope!r} (*, property:CODE, building:CODE, unit:ID)"
        else:
            out.append((role, scope))
    if fields:
        raise ValidationError("invalid grants", fields)
    return out


def user_json(user: User, grants: Iterable[tuple[str, str]] = ()) -> dict:
    """Public view of a user (never the hash)."""
    return {"id": user.id, "username": user.username, "display_name": user.display_name, "active": user.active,
            "language": user.language, "person_id": user.person_id, "staff_id": user.staff_id,
            "locked_until": user.locked_until.isoformat() if user.locked_until else None,
            "grants": [list(g) for g in sorted(grants)]}


def grants_for(session: Session, user_id: int) -> list[tuple[str, str]]:
    """The (role, scope) grants of a user."""
    rows = session.execute(select(RoleGrant.role, RoleGrant.scope).where(RoleGrant.user_id == user_id))
    return sorted((r, s) for r, s in rows)


def create_user(session: Session, hasher: PasswordHasher, *, username: str, password: str, actor: str, now: datetime,
                display_name: str = "", grants: Iterable[tuple[str, str]] = (), person_id: int | None = None,
                staff_id: int | None = None, language: str = "zh") -> User:
    """Create a user with a hashed password and grants (audited without the password)."""
    if not isinstance(username, str) or not username.strip() or len(username) > 64:
        raise ValidationError("invalid user", {"username": "required, at most 64 characters"})
    check_password_rules(password, username)
    grants = check_grants(grants)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists", {"username": "already taken"})
    user = User(username=username, display_name=display_name, password_hash=hasher.hash(password),
                person_id=person_id, staff_id=staff_id, language=language, active=True, failed_logins=0)
    session.add(user)
    session.flush()
    for role, scope in grants:
        session.add(RoleGrant(user_id=user.id, role=role, scope=scope))
    session.flush()
    record(session, actor, "create", "users", user.id, None, user_json(user, grants), now)
    return user


def set_grants(session: Session, user: User, grants: Iterable[tuple[str, str]], actor: str, now: datetime) -> None:
    """Replace a user's grants (audited)."""
    grants = check_grants(grants)
    before = user_json(user, grants_for(session, user.id))
    for g in session.scalars(select(RoleGrant).where(RoleGrant.user_id == user.id)):
        session.delete(g)
    session.flush()
    for role, scope in sorted(set(grants)):
        session.add(RoleGrant(user_id=user.id, role=role, scope=scope))
    session.flush()
    record(session, actor, "update", "users", user.id, before, user_json(user, grants), now)


def set_password(session: Session, hasher: PasswordHasher, user: User, password: str, actor: str,
                 now: datetime) -> None:
    """Change a password; existing sessions are revoked; the audit entry says only that it changed."""
    check_password_rules(password, user.username)
    user.password_hash = hasher.hash(password)
    user.failed_logins = 0
    user.locked_until = None
    for s in session.scalars(select(WebSession).where(WebSession.user_id == user.id, WebSession.revoked.is_(False))):
        s.revoked = True
    record(session, actor, "password", "users", user.id, None, {"password": "changed"}, now)


def verify_password(session: Session, hasher: PasswordHasher, policy: LockoutPolicy, username: str, password: str,
                    now: datetime) -> User | None:
    """The user when the password is right; counts failures and locks the account.

    Raises :class:`AccountLocked` while locked (even with the right password).
    Unknown users cost one hash too, so timing does not reveal which names exist.
    """
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active:
        try:
            hasher.verify(_DUMMY.get(hasher), password)
        except (VerificationError, InvalidHashError):
            pass
        return None
    if user.locked_until is not None and user.locked_until > now:
        raise AccountLocked(f"account locked until {user.locked_until.isoformat()}", until=user.locked_until)
    try:
        hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        user.failed_logins += 1
        if user.failed_logins >= policy.max_failures:
            user.locked_until = now + timedelta(seconds=policy.lock_seconds)
            user.failed_logins = 0
            record(session, "system", "lock", "users", user.id, None,
                   {"locked_until": user.locked_until.isoformat()}, now)
        return None
    user.failed_logins = 0
    user.locked_until = None
    user.last_login = now
    if hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hasher.hash(password)
    return user


class _Dummy:
    """One hash per hasher, for constant-cost failures on unknown users."""

    def __init__(self) -> None:
        self._hashes: dict[int, str] = {}

    def get(self, hasher: PasswordHasher) -> str:
        key = id(hasher)
        if key not in self._hashes:
            self._hashes[key] = hasher.hash(secrets.token_hex(16))
        return self._hashes[key]


_DUMMY = _Dummy()


def new_session(session: Session, user: User, now: datetime, lifetime_s: float) -> tuple[str, WebSession]:
    """Open a login session; returns the clear session token (shown once) and the row."""
    token = SESSION_PREFIX + secrets.token_urlsafe(32)
    row = WebSession(user_id=user.id, digest=digest(token), created_at=now,
                     expires_at=now + timedelta(seconds=lifetime_s), revoked=False)
    session.add(row)
    session.flush()
    return token, row


def new_api_token(session: Session, user_id: int, name: str, now: datetime, lifetime_s: float | None,
                  actor: str) -> tuple[str, ApiToken]:
    """Issue an API token for a machine client; returns the clear token (shown once) and the row."""
    if session.get(User, user_id) is None:
        raise NotFound(f"no user {user_id}")
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("invalid token", {"name": "required"})
    if lifetime_s is not None and (not isinstance(lifetime_s, (int, float)) or lifetime_s <= 0):
        raise ValidationError("invalid token", {"lifetime_s": "must be a positive number of seconds"})
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user_id, name=name, digest=digest(token), created_at=now, revoked=False,
                   expires_at=None if lifetime_s is None else now + timedelta(seconds=lifetime_s))
    session.add(row)
    session.flush()
    record(session, actor, "create", "api_tokens", row.id, None,
           {"user_id": user_id, "name": name, "expires_at": row.expires_at.isoformat() if row.expires_at else None},
           now)
    return token, row


def resolve_token(session: Session, token: str, now: datetime) -> Principal | None:
    """The principal for a session or API token, if it is valid now."""
    d = digest(token)
    row = session.scalar(select(WebSession).where(WebSession.digest == d)) or \
        session.scalar(select(ApiToken).where(ApiToken.digest == d))
    if row is None or row.revoked or (row.expires_at is not None and row.expires_at <= now):
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return principal_of(session, user)


def principal_of(session: Session, user: User) -> Principal:
    """The shared principal for a user (grants in ``attributes['grants']``)."""
    from .models import Building, Property

    grants = grants_for(session, user.id)
    props = [s[9:] for _r, s in grants if s.startswith("property:")]
    pb: dict[str, list[str]] = {}
    if props:
        rows = session.execute(select(Property.code, Building.code).join(Building, Building.property_id == Property.id)
                               .where(Property.code.in_(props)))
        for pcode, bcode in rows:
            pb.setdefault(pcode, []).append(bcode)
    return principal_for(user.username, grants, pb, user_id=user.id,
                         person_id=user.person_id, staff_id=user.staff_id, language=user.language)


def revoke_session(session: Session, token: str) -> bool:
    """Log out: revoke the session with this token."""
    row = session.scalar(select(WebSession).where(WebSession.digest == digest(token)))
    if row is None:
        return False
    row.revoked = True
    return True
