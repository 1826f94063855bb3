"""Delegated user administration: what a holder of ``users.manage`` may do, and only within their scope.

Administrators (``users.write`` everywhere) manage every account. A holder of
``users.manage`` in some scopes (the manager role) may create users, disable
them and set their grants, under three rules that stop privilege escalation:

- every grant they give lies inside their ``users.manage`` scopes (never ``*``);
- every permission of a role they give is one they hold themselves on that scope;
- they touch only users whose grants all lie inside their scopes, and never an admin.

Passwords of existing users and API tokens stay with administrators: resetting
someone's password or issuing a token for them lets the caller act as them.
Each function raises :class:`~business.errors.PermissionDenied` naming what was refused.
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from tagdb.auth import Principal

from .errors import PermissionDenied, ValidationError
from .models import Building, Person, Property, Unit, User
from .permissions import ROLE_PERMISSIONS, Visibility, covers, visibility
from .scopes import person_chain, staff_chain

MANAGE = "users.manage"
MANAGE_FIELDS = {"display_name", "active", "language", "grants"}


def is_global_admin(principal: Principal, permission: str = "users.write") -> bool:
    """True when ``principal`` holds ``permission`` everywhere (the unrestricted path)."""
    return visibility(principal, permission).everywhere


def manage_scope(principal: Principal) -> Visibility:
    """Where ``principal`` may manage users; refuses (403) when nowhere."""
    vis = visibility(principal, MANAGE)
    if vis.nothing:
        raise PermissionDenied(f"permission 'users.write' everywhere or {MANAGE!r} required")
    return vis


def scope_chain(s: Session, scope: str, cache: dict | None = None) -> list[str]:
    """The scopes containing ``scope`` (itself included), resolved against the registry.

    A building code used by several properties sits under each of them; an unknown
    building or unit has only itself as chain (so only a grant naming it exactly covers it).
    """
    if cache is not None:
        if scope not in cache:
            cache[scope] = scope_chain(s, scope)
        return cache[scope]
    kind, _, value = scope.partition(":")
    if kind == "building":
        props = s.scalars(select(Property.code).join(Building, Building.property_id == Property.id)
                          .where(Building.code == value))
        return sorted({f"property:{p}" for p in props}) + [scope]
    if kind == "unit" and value.isdigit():
        row = s.execute(select(Building.code, Property.code).join(Unit, Unit.building_id == Building.id)
                        .join(Property, Building.property_id == Property.id).where(Unit.id == int(value))).first()
        return ([f"property:{row[1]}", f"building:{row[0]}"] if row else []) + [scope]
    return [scope]


def _within(s: Session, vis: Visibility, scope: str, cache: dict | None = None) -> bool:
    """True when every record under ``scope`` is inside ``vis``."""
    if vis.everywhere:
        return True
    if scope == "*":
        return False
    kind, _, value = scope.partition(":")
    chain = scope_chain(s, scope, cache)
    if kind == "building":
        props = [c for c in chain if c.startswith("property:")]
        # a shared building code is inside only when every property holding it is
        return value in vis.buildings or (bool(props) and all(covers(vis, [p]) for p in props))
    return covers(vis, chain)


def check_grantable(s: Session, principal: Principal, grants: Iterable[tuple[str, str]]) -> None:
    """Refuse any grant outside the caller's scope or carrying permissions the caller lacks there."""
    vis = manage_scope(principal)
    for role, scope in grants:
        if role == "admin":
            raise PermissionDenied(f"refused grant {role}@{scope}: only administrators grant the admin role")
        if not _within(s, vis, scope):
            raise PermissionDenied(f"refused grant {role}@{scope}: scope {scope!r} is wider than or outside "
                                   f"your user-management scope")
        missing = sorted(p for p in ROLE_PERMISSIONS.get(role, set())
                         if not _within(s, visibility(principal, p), scope))
        if missing:
            raise PermissionDenied(f"refused grant {role}@{scope}: role {role!r} carries permissions you do not "
                                   f"hold on {scope}: {', '.join(missing)}")


def manageable(s: Session, vis: Visibility, grants: Iterable[tuple[str, str]], cache: dict | None = None) -> str | None:
    """Why a user with ``grants`` is beyond ``vis`` (None when it is not); ``cache`` memoizes scope chains."""
    grants = list(grants)
    if any(role == "admin" for role, _ in grants):
        return "holds the admin role"
    if not vis.everywhere and not grants:
        return "has no grants inside your scope"
    outside = [f"{r}@{sc}" for r, sc in grants if not _within(s, vis, sc, cache)]
    if outside:
        return f"has grants outside your scope ({', '.join(outside)})"
    return None


def check_manageable(s: Session, principal: Principal, user: User, grants: Iterable[tuple[str, str]]) -> None:
    """Refuse changes to an admin or to a user with any grant outside the caller's scope."""
    why = manageable(s, manage_scope(principal), grants)
    if why:
        raise PermissionDenied(f"refused change of user {user.username!r}: the user {why}")


def check_readable(s: Session, principal: Principal, user: User, grants: Iterable[tuple[str, str]]) -> None:
    """Scoped ``users.read``: only users whose grants all lie in the caller's reading scope."""
    vis = visibility(principal, "users.read")
    if vis.nothing:
        raise PermissionDenied("permission 'users.read' required")
    why = manageable(s, vis, grants) if not vis.everywhere else None
    if why:
        raise PermissionDenied(f"refused read of user {user.username!r}: the user {why}")


def check_links(s: Session, principal: Principal, person_id, staff_id) -> None:
    """A new account may be linked only to a person or staff record inside the caller's scope."""
    vis = manage_scope(principal)
    if person_id is not None:
        person = s.get(Person, person_id) if isinstance(person_id, int) else None
        if person is None or not covers(vis, person_chain(s, person)):
            raise PermissionDenied(f"refused link to person {person_id!r}: outside your user-management scope")
    if staff_id is not None:
        chain = staff_chain(s, staff_id) if isinstance(staff_id, int) else []
        if not chain or not covers(vis, chain):
            raise PermissionDenied(f"refused link to staff {staff_id!r}: outside your user-management scope")


def check_scoped_change(principal: Principal, user: User, body: dict, new_grants) -> None:
    """Field rules of a scoped change: no password resets, keep a grant, do not lock yourself out."""
    refused = sorted(set(body) - MANAGE_FIELDS)
    if refused:
        raise PermissionDenied(f"refused change of {', '.join(refused)} for user {user.username!r}: "
                               "only administrators (users.write everywhere) change passwords")
    if user.username == principal.user and ("grants" in body or body.get("active") is False):
        raise PermissionDenied("refused change of your own grants or account state: ask another manager "
                               "or an administrator")
    if new_grants is not None and not new_grants:
        raise ValidationError("invalid grants", {"grants": "a user you manage keeps at least one grant "
                                                           "in your scope (disable the account instead)"})
