"""The ``business`` component: REST resources, the user authenticator, demo seed, web views.

Built after the ``database`` component (which migrated the schema and published
``ctx.provides["database"]``). ``from_config`` installs the database-backed
authenticator as ``ctx.auth`` (the tag REST API and the HMI then authenticate
against business users; static ``server.api.tokens`` keep working as a
fallback) and mounts every collection under ``/api/v1/``.
"""

from __future__ import annotations

import logging
import sys
from datetime import datetime, timezone
from typing import Any

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall

from .api.base import Api
from .api.collections import CollectionResource
from .api.extras import AssetLiveResource, AttendanceSummaryResource, ClockResource, ImportResource
from .api.identity import AuditResource, AuthResource, UsersResource
from .api.openapi_ops import extra_operations, item_extra_operations, spec_operations
from .authn import DbAuthenticator
from .crud import Crud
from .identity import LockoutPolicy, make_hasher
from .seed import seed_assets, seed_demo, seed_users, sync_site
from .specs import SPECS

log = logging.getLogger(__name__)


def reactor_clock(reactor: Any):
    """Aware UTC ``now`` from the injected reactor (a Clock in tests)."""
    return lambda: datetime.fromtimestamp(reactor.seconds(), timezone.utc)


class BusinessService(MultiService):
    """Refreshes the token cache, mirrors the site's buildings and seeds the demo on start."""

    def __init__(self, ctx: Any, api: Api, section: dict, out=None) -> None:
        super().__init__()
        self.setName("business")
        self.ctx, self.api, self.section = ctx, api, section
        self.out = out or sys.stdout
        self.demo_logins: list[dict] = []
        self._refresh = LoopingCall(self._refresh_cache)
        self._refresh.clock = ctx.reactor

    def startService(self):
        """Sync the site, seed, load the token cache, start children; a Deferred."""
        super().startService()
        return Deferred.fromCoroutine(self._start())

    async def _start(self) -> None:
        db, site, now = self.api.db, self.ctx.site, self.api.clock()
        seed = self.section.get("seed") or {}
        prop_cfg = self.section.get("property") or {}

        def prepare(s):
            prop = sync_site(s, site, prop_cfg, now)
            counts = seed_demo(s, site, prop, seed, now) if seed.get("demo") else {}
            assets = seed_assets(s, site, prop, now) if seed.get("demo") else 0
            logins = seed_users(s, self.api.hasher, prop, seed.get("users") or [], now)
            return counts, assets, logins
        counts, assets, logins = await db.run(prepare)
        if counts:
            log.info("business demo seeded: %s", counts)
        if assets:
            log.info("business: %d assets created for site equipment", assets)
        self.demo_logins = logins
        self.ctx.provides["business_demo_logins"] = logins
        if logins:
            # demo only: the configured demo passwords are printed so a visitor can log in
            for entry in logins:
                print(f"spms: demo login  {entry['username']:<10} {entry['password']:<16} "
                      f"{', '.join(entry['grants'])}", file=self.out)
            self.out.flush()
        await self.api.auth.refresh()
        interval = (self.section.get("security") or {}).get("cache_refresh") or 10.0
        self._refresh.start(interval, now=False)

    def _refresh_cache(self):
        d = Deferred.fromCoroutine(self.api.auth.refresh_if_changed())
        d.addErrback(lambda f: log.debug("token cache refresh failed: %s", f.getErrorMessage()))
        return d

    def stopService(self):
        """Stop refreshing and stop the children."""
        if self._refresh.running:
            self._refresh.stop()
        return super().stopService()


def build_api(ctx: Any, db: Any, section: dict, fast_hash: bool = False) -> Api:
    """The shared API object: authenticator (installed as ``ctx.auth``), CRUD, clock, hasher."""
    sec = section.get("security") or {}
    clock = reactor_clock(ctx.reactor)
    hasher = make_hasher(fast=fast_hash)
    policy = LockoutPolicy(max_failures=sec.get("max_failed_logins") or 5, lock_seconds=sec.get("lockout") or 900.0)
    auth = DbAuthenticator(db, clock, hasher, policy, session_lifetime_s=sec.get("session_lifetime") or 28800.0,
                           fallback=ctx.auth)
    ctx.auth = auth
    return Api(db, auth, Crud(SPECS, clock), clock, ctx, hasher,
               token_lifetime_s=sec.get("token_lifetime", 90 * 86400.0))


def mount_all(ctx: Any, api: Api) -> None:
    """Mount every business resource under /api/v1 with its OpenAPI operations."""
    for name in SPECS:
        item_extras = {"live": AssetLiveResource} if name == "assets" else {}
        coll_extras = {"summary": AttendanceSummaryResource, "clock": ClockResource} if name == "attendance" else {}
        ops = spec_operations(SPECS[name]) + item_extra_operations(name)
        ctx.mount_api(name, CollectionResource(api, name, item_extras, coll_extras), operations=ops)
    extras = extra_operations()
    ctx.mount_api("auth", AuthResource(api), operations=extras["auth"])
    ctx.mount_api("users", UsersResource(api), operations=extras["users"])
    ctx.mount_api("audit", AuditResource(api), operations=extras["audit"])
    ctx.mount_api("import", ImportResource(api), operations=extras["import"])


def from_config(ctx: Any) -> BusinessService | None:
    """The business component, or None when disabled or without a database."""
    section = ctx.site.section("business") or {}
    if section.get("enabled") is False:
        return None
    db = ctx.provides.get("database")
    if db is None:
        log.warning("business: no database component; the business layer is off")
        return None
    api = build_api(ctx, db, section)
    mount_all(ctx, api)
    ctx.provides["business"] = api
    service = BusinessService(ctx, api, section)
    from .service_mgmt.service import attach as attach_service_mgmt  # work orders, PM, activities (issue 9)
    attach_service_mgmt(ctx, api, service)
    from .finance.service import install as install_finance  # fees, billing, payments, ledger (issue 10)
    install_finance(ctx, api, service)
    web = section.get("web") or {}
    if web.get("enabled"):
        from .web.app import WebService
        # The HMI component is built before this one: share its Panel server when it runs.
        WebService(api, web, shared_with=ctx.provides.get("hmi")).setServiceParent(service)
    return service
