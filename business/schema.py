"""The ``business:`` section of a site.

Example::

    business:
      database: {url: "postgresql+psycopg://spms@db.example/spms"}   # default: SQLite in the data folder
      property: {code: harbour-view, name: 港景花园}
      security: {max_failed_logins: 5, lockout: 15m, session_lifetime: 8h}
      web: {enabled: true, port: 5007, language: zh}
      seed: {demo: true, users: [{username: admin, password: ..., grants: [[admin, "*"]]}]}
"""

from __future__ import annotations

from tagdb.site.errors import ConfigError
from tagdb.site.schema import Bool, Duration, Field, Int, ListOf, Number, Obj, Str

from .permissions import ROLES, valid_scope


def _check_grant(value, field, loc):
    errors = []
    if not isinstance(value, list) or len(value) != 2 or not all(isinstance(x, str) for x in value):
        return None, [ConfigError(loc, field, f"expected [role, scope], got {value!r}")]
    role, scope = value
    if role not in ROLES:
        errors.append(ConfigError(loc, field, f"unknown role {role!r} (roles: {', '.join(ROLES)})"))
    if not valid_scope(scope) and scope != "unit":
        errors.append(ConfigError(loc, field, f"invalid scope {scope!r} (*, property:CODE, building:CODE, unit:ID)"))
    return (tuple(value) if not errors else None), errors


class _Grant(Str):
    """A [role, scope] pair."""

    def check(self, value, field, loc):
        return _check_grant(value, field, loc)


USER = Obj({
    "username": Field(Str(pattern=r"[A-Za-z0-9_.\-@]{1,64}"), required=True),
    "password": Field(Str(min_len=8), required=True, doc="printed by `spms demo` on start; demo only"),
    "display_name": Field(Str(), default=""),
    "grants": Field(ListOf(_Grant(), min_len=1), required=True,
                    doc='[role, scope] pairs; the scope "unit" means the user\'s own unit (see unit)'),
    "unit": Field(Str(pattern=r"[A-Za-z0-9_\-]+/[A-Za-z0-9_.\-]+"), doc="building/unit code: resident of this unit"),
})

SECTION = Obj({
    "enabled": Field(Bool(), default=True),
    "database": Field(Obj({
        "url": Field(Str(pattern=r"(sqlite|postgresql)(\+\w+)?://.*", hint="sqlite:///path or postgresql+psycopg://..."),
                     doc="SQLAlchemy URL; default sqlite:///<data_dir>/business.db"),
        "threads": Field(Int(min=1, max=32), doc="database worker threads (SQLite always 1)"),
    }), default={}),
    "property": Field(Obj({
        "code": Field(Str(pattern=r"[A-Za-z0-9][A-Za-z0-9_\-]*"), default="site"),
        "name": Field(Str(min_len=1)),
        "address": Field(Str(), default=""),
    }), default={"code": "site", "name": None, "address": ""}),
    "security": Field(Obj({
        "max_failed_logins": Field(Int(min=1, max=100), default=5),
        "lockout": Field(Duration(min=1), default=900.0),
        "session_lifetime": Field(Duration(min=60), default=8 * 3600.0),
        "token_lifetime": Field(Duration(min=60), default=90 * 86400.0,
                                doc="default lifetime of API tokens (a token may be issued without expiry explicitly)"),
        "cache_refresh": Field(Duration(min=1), default=10.0, doc="how often tokens made by other processes appear"),
    }), default={"max_failed_logins": 5, "lockout": 900.0, "session_lifetime": 28800.0,
                 "token_lifetime": 90 * 86400.0, "cache_refresh": 10.0}),
    "web": Field(Obj({
        "enabled": Field(Bool(), default=False),
        "address": Field(Str(), default="127.0.0.1"),
        "port": Field(Int(min=0, max=65535), default=5007),
        "language": Field(Str(choices=("zh", "en")), default="zh"),
    }), default={"enabled": False, "address": "127.0.0.1", "port": 5007, "language": "zh"}),
    "seed": Field(Obj({
        "demo": Field(Bool(), default=False, doc="fill the registry with demo data on first start"),
        "random_seed": Field(Int(), default=8),
        "apartments_per_floor": Field(Int(min=1, max=20), default=4),
        "shops_per_floor": Field(Int(min=1, max=50), default=8),
        "occupancy": Field(Number(min=0, max=1), default=0.8, doc="share of apartments with an owner"),
        "rented": Field(Number(min=0, max=1), default=0.25, doc="share of owned apartments let to a tenant"),
        "users": Field(ListOf(USER), default=[]),
    }), default={"demo": False, "random_seed": 8, "apartments_per_floor": 4, "shops_per_floor": 8,
                 "occupancy": 0.8, "rented": 0.25, "users": []}),
})


def _locate(site, needle: str):
    """File and line of the first site file line containing ``needle`` (the section lost its locations)."""
    from pathlib import Path

    from tagdb.site.errors import Loc

    for name in getattr(site, "files", ()) or ():
        try:
            lines = Path(name).read_text(encoding="utf-8").splitlines()
        except OSError:
            continue
        for i, line in enumerate(lines, 1):
            if needle in line:
                return Loc(name, i)
    return Loc("business")


def validate_site(site) -> list[ConfigError]:
    """Demo users' units and building grants must name buildings of the site."""
    section = site.section("business") or {}
    known = {b.id for b in site.buildings}
    errors = []
    for i, user in enumerate(((section.get("seed") or {}).get("users")) or []):
        unit = user.get("unit")
        if unit and unit.split("/", 1)[0] not in known:
            errors.append(ConfigError(_locate(site, unit), f"business.seed.users[{i}].unit",
                                      f"unknown building {unit.split('/', 1)[0]!r} (buildings: {', '.join(sorted(known))})"))
        for role, scope in user.get("grants") or ():
            if scope.startswith("building:") and scope[9:] not in known:
                errors.append(ConfigError(_locate(site, scope), f"business.seed.users[{i}].grants",
                                          f"unknown building {scope[9:]!r} (buildings: {', '.join(sorted(known))})"))
    return errors
