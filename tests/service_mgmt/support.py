"""Helpers shared by the service-management tests: the business suite's helpers
(world, PostgreSQL databases, fake clock) and principals of each kind."""

from __future__ import annotations

from business.permissions import principal_for

from tests.business import helpers as bc

ADMIN = bc.ADMIN
FakeClock = bc.FakeClock


def technician(world, key="sA"):
    """A technician principal linked to a staff record."""
    return principal_for("tech", [("technician", "property:demo")], staff_id=world[key])


def resident(world, key="pA", unit="uA"):
    """A resident principal (owner of a unit)."""
    return principal_for("res", [("owner", f"unit:{world[unit]}")], person_id=world[key])


def manager(scope="property:demo"):
    """A property manager."""
    return principal_for("mgr", [("manager", scope)])


async def start_api(tmp_path, url: str, **extra):
    """A real service tree (tagdb, database, business with service management, api) on a free port.

    Returns (root, base URL, world, token(username, grants, **links)).
    """

    from twisted.internet import reactor

    from business.identity import create_user, make_hasher, new_api_token
    from business.schema import SECTION
    from tagdb.server.root import Component, build_root, make_context
    from tagdb.site.errors import Loc
    from tagdb.site.model import SiteModel

    section, errors = SECTION.check({"database": {"url": url}, "property": {"code": "hq", "name": "HQ"}, **extra},
                                    "business", Loc("test"))
    assert not errors, errors
    site = SiteModel(name="service-test", timezone="Asia/Shanghai", files=(), buildings=(), devices={}, tags=(),
                     equipment=(), sections={"business": section,
                                             "server": {"api": {"address": "127.0.0.1", "port": 8080}}})
    components = (Component("tagdb", "tagdb.service", lambda s: True),
                  Component("database", "business.database", lambda s: True),
                  Component("business", "business.service", lambda s: True),
                  Component("api", "tagdb.api.service", lambda s: True))
    ctx = make_context(site, reactor, tmp_path)
    ctx.provides["api_port"] = 0
    root = build_root(site, reactor, tmp_path, components=components, context=ctx)
    await root.startService()
    db, api = ctx.provides["database"], ctx.provides["business"]
    world = bc.build_world(db, api.crud)
    hasher = make_hasher(fast=True)

    def token(username, grants, **links):
        now = api.clock()

        def work(s):
            u = create_user(s, hasher, username=username, password="Passw0rd-Demo", actor="test", now=now,
                            grants=grants, **links)
            return new_api_token(s, u.id, "test", now, None, "test")[0]
        return db.call(work)
    return root, ctx.provides["api_url"], world, token
