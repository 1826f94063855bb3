"""Roles, permissions and scopes.

A role is a named set of permissions. A user holds roles through grants, each
in one scope: ``*`` (everywhere), ``property:<code>``, ``building:<code>`` or
``unit:<id>``. A permission is granted for a record when some grant whose role
includes it has a scope on the record's scope chain (e.g. ``("property:demo",
"building:tower-a", "unit:42")``). Later modules add permissions to roles with
:func:`extend_role` (work orders, finance).

``viewer`` is the read-only role (an auditor, an owner's representative): it
reads whatever the staff roles read in its scope and writes nothing; a
``.read`` permission that a module adds to a staff role reaches it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Mapping

from tagdb.auth import Principal

SCADA = ("tags.read", "tags.write", "alarms.ack", "alarms.shelve", "hmi.view", "hmi.command")

# Collections of the REST API; each has "<name>.read" and "<name>.write".
REGISTRY = ("properties", "buildings", "units", "parking", "common_areas")
PEOPLE = ("people", "residencies", "leases", "vehicles")
STAFFING = ("departments", "positions", "staff", "shifts", "roster", "attendance", "reviews")
LEDGER = ("assets", "maintenance")


def _rw(names: Iterable[str], read: bool = True, write: bool = True) -> set[str]:
    out = set()
    for n in names:
        if read:
            out.add(f"{n}.read")
        if write:
            out.add(f"{n}.write")
    return out


RESIDENT = {"units.read", "people.read", "residencies.read", "leases.read", "vehicles.read", "vehicles.write",
            "workorders.create", "workorders.read", "bills.read", "bills.pay"}

ROLE_PERMISSIONS: dict[str, set[str]] = {
    "admin": {"*"},
    "manager": (_rw(REGISTRY + PEOPLE + STAFFING + LEDGER) - {"properties.write"})
    | {"audit.read", "import.run", "users.read", "users.manage", "tags.read", "alarms.ack", "hmi.view",
       "workorders.read", "workorders.write", "finance.read",
       # held so that a manager may give the technician and security roles (users.manage never escalates)
       "workorders.update", "attendance.clock"},
    "finance": _rw(REGISTRY + PEOPLE, write=False) | {"finance.read", "finance.write", "audit.read"},
    "engineer": _rw(LEDGER) | _rw(REGISTRY + ("staff",), write=False) | set(SCADA)
    | {"workorders.read", "workorders.write"},
    "operator": set(SCADA) | _rw(("buildings", "units", "assets"), write=False)
    | {"workorders.read", "workorders.create"},
    "technician": _rw(("assets", "buildings", "units"), write=False)
    | {"maintenance.read", "maintenance.write", "tags.read", "hmi.view", "attendance.clock",
       "workorders.read", "workorders.update"},
    "security": _rw(("people", "vehicles", "parking", "buildings", "units"), write=False)
    | {"tags.read", "alarms.ack", "hmi.view", "attendance.clock"},
    "owner": RESIDENT | {"parking.read"},
    "tenant": set(RESIDENT),
    # read-only; "users.read" stays out (accounts are not an auditor's business), "tags.read" also opens alarms
    "viewer": _rw(REGISTRY + PEOPLE + STAFFING + LEDGER, write=False)
    | {"tags.read", "hmi.view", "workorders.read", "finance.read", "audit.read"},
}
ROLES = tuple(ROLE_PERMISSIONS)
RESIDENT_ROLES = ("owner", "tenant")
READ_ONLY_ROLES = ("viewer",)
NOT_FOR_VIEWERS = frozenset({"users.read"})


def extend_role(role: str, *permissions: str) -> None:
    """Add permissions to a role (for modules that define new resources).

    A ``.read`` permission given to a staff role also goes to the read-only
    roles, so a viewer keeps seeing every resource the staff can see.
    """
    ROLE_PERMISSIONS.setdefault(role, set()).update(permissions)
    if role not in RESIDENT_ROLES and role not in READ_ONLY_ROLES:
        reads = {p for p in permissions if p.endswith(".read") and p not in NOT_FOR_VIEWERS}
        for viewer in READ_ONLY_ROLES:
            ROLE_PERMISSIONS[viewer].update(reads)


def role_has(role: str, permission: str) -> bool:
    """True when ``role`` includes ``permission`` (admin includes everything)."""
    perms = ROLE_PERMISSIONS.get(role, set())
    return "*" in perms or permission in perms


def valid_scope(scope: str) -> bool:
    """``*``, ``property:<code>``, ``building:<code>`` or ``unit:<int id>``."""
    if scope == "*":
        return True
    kind, _, value = scope.partition(":")
    if not value:
        return False
    if kind == "unit":
        return value.isdigit()
    return kind in ("property", "building")


@dataclass(frozen=True)
class Visibility:
    """Where a permission applies: everywhere, or these properties/buildings/units (codes, ids)."""

    everywhere: bool = False
    properties: frozenset[str] = frozenset()
    buildings: frozenset[str] = frozenset()
    units: frozenset[int] = frozenset()

    @property
    def nothing(self) -> bool:
        """True when the permission applies nowhere."""
        return not (self.everywhere or self.properties or self.buildings or self.units)


def grants_of(principal: Principal) -> tuple[tuple[str, str], ...]:
    """The (role, scope) grants of a principal; static-token principals count as global grants."""
    grants = principal.attributes.get("grants") if principal.attributes else None
    if grants is not None:
        return tuple(grants)
    return tuple((role, scope) for role in principal.roles for scope in principal.scopes)


def _has(principal: Principal, role: str, permission: str) -> bool:
    if principal.attributes and principal.attributes.get("grants") is not None:
        return role_has(role, permission)
    # principals from other authenticators carry flat permissions
    return permission in principal.permissions or "*" in principal.permissions


def visibility(principal: Principal, permission: str, residents: bool | None = None) -> Visibility:
    """Where ``principal`` holds ``permission``.

    ``residents`` narrows the grants counted: True only resident (owner/tenant)
    grants, False only staff grants, None (default) every grant.
    """
    props, blds, units = set(), set(), set()
    for role, scope in grants_of(principal):
        if residents is not None and (role in RESIDENT_ROLES) != residents:
            continue
        if not _has(principal, role, permission):
            continue
        if scope == "*":
            return Visibility(everywhere=True)
        kind, _, value = scope.partition(":")
        if kind == "property":
            props.add(value)
        elif kind == "building":
            blds.add(value)
        elif kind == "unit" and value.isdigit():
            units.add(int(value))
    return Visibility(False, frozenset(props), frozenset(blds), frozenset(units))


def allowed(principal: Principal, permission: str, chain: Iterable[str]) -> bool:
    """True when ``principal`` holds ``permission`` somewhere on the record's scope chain."""
    return covers(visibility(principal, permission), chain)


def covers(vis: Visibility, chain: Iterable[str]) -> bool:
    """True when ``vis`` reaches any scope of a record's scope chain."""
    if vis.everywhere:
        return True
    for scope in chain:
        kind, _, value = scope.partition(":")
        if (kind == "property" and value in vis.properties) or (kind == "building" and value in vis.buildings) \
                or (kind == "unit" and value.isdigit() and int(value) in vis.units):
            return True
    return False


@dataclass(frozen=True, slots=True)
class ScopedPrincipal(Principal):
    """A :class:`Principal` whose ``can`` checks each grant on its own and understands the hierarchy.

    ``can("hmi.command", "building:tower-a")`` is true for an engineer granted on
    the whole property that contains tower-a, and false for someone who is an
    engineer in tower-b and merely a resident in tower-a (the flat union of
    permissions and scopes would say yes).
    """

    def can(self, permission: str, scope: str | None = None) -> bool:
        """True when one grant holds ``permission`` on ``scope`` or on a scope containing it."""
        grants = (self.attributes or {}).get("grants", ())
        buildings: Mapping[str, Iterable[str]] = (self.attributes or {}).get("property_buildings", {})
        for role, gscope in grants:
            if not role_has(role, permission):
                continue
            if scope is None or gscope == "*" or gscope == scope:
                return True
            kind, _, value = gscope.partition(":")
            if kind == "property" and scope.startswith("building:") and scope[9:] in buildings.get(value, ()):
                return True
        return False


def principal_for(username: str, grants: Iterable[tuple[str, str]],
                  property_buildings: Mapping[str, Iterable[str]] | None = None, **attributes) -> ScopedPrincipal:
    """Build the shared principal for a user's grants.

    ``permissions`` and ``scopes`` are the unions (for code that only reads
    those); the exact grants travel in ``attributes["grants"]`` and
    ``property_buildings`` (property code → its building codes) lets ``can``
    resolve building scopes under a property grant.
    """
    grants = tuple(sorted(set(grants)))
    perms: set[str] = set()
    for role, _scope in grants:
        perms |= ROLE_PERMISSIONS.get(role, set())
    scopes = frozenset(scope for _role, scope in grants)
    pb = {k: tuple(v) for k, v in (property_buildings or {}).items()}
    return ScopedPrincipal(user=username, roles=frozenset(r for r, _ in grants), permissions=frozenset(perms),
                           scopes=scopes, attributes={"grants": grants, "property_buildings": pb, **attributes})
