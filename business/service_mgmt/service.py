"""The service-management component: wired into the ``business`` service by :func:`attach`.

It builds the work-order service, the alarm link (subscribed to
``AlarmTransition`` on ``ctx.events``), the telemetry checks (``ctx.tags``, the
alarm engine, ``ctx.provides["history"]``), notices through the alarms outbox
(``ctx.provides["notify_outbox"]``), mounts ``/api/v1/workorders``, ``/pm`` and
``/activities``, and runs one scheduler pass every ``service.tick`` on the
injected reactor: telemetry health of completed alarm orders, escalations,
assignment of waiting orders, auto-close, preventive plans. Staff reviews of
the previous period are computed at each period boundary (``service.reviews``,
:class:`.reviews.ReviewSchedule`) on the same reactor.
"""

from __future__ import annotations

import logging
from types import SimpleNamespace
from typing import Any

from sqlalchemy import select
from twisted.application.service import Service
from twisted.internet.defer import Deferred, succeed
from twisted.internet.task import LoopingCall

from ..models import Property
from ..permissions import extend_role
from . import pm
from .alarmlink import AlarmLink
from .api_orders import WorkOrdersResource
from .api_other import ActivitiesResource, PmResource
from .models import WorkOrder
from .notices import Notices
from .openapi_ops import activity_operations, pm_operations, workorder_operations
from .orders import Orders
from .reviews import ReviewSchedule
from .schema import defaults
from .telemetry import Telemetry

log = logging.getLogger(__name__)


def grant_permissions() -> None:
    """The permissions of this module on the business roles (idempotent)."""
    extend_role("manager", "activities.read", "activities.write", "pm.read", "pm.write")
    extend_role("engineer", "activities.read", "pm.read", "pm.write")
    extend_role("technician", "pm.read")
    extend_role("operator", "pm.read")
    for role in ("owner", "tenant"):
        extend_role(role, "activities.read", "activities.register")


class ServiceMgmt(Service):
    """Scheduler and event subscription of service management (a child of ``business``)."""

    def __init__(self, ctx: Any, api: Any, section: dict) -> None:
        self.setName("service_mgmt")
        self.ctx, self.api, self.section = ctx, api, section
        provides = getattr(ctx, "provides", {}) or {}
        self.telemetry = Telemetry(section.get("alarm_rules") or [], getattr(ctx, "tags", None),
                                   provides.get("alarms"), provides.get("history"))
        self.notices = Notices(provides.get("notify_outbox"))
        self.orders = Orders(api.db, api.clock, section, self.notices, self.telemetry)
        self.link = AlarmLink(self.orders, self.telemetry)
        self._unsubscribe = None
        self._loop = LoopingCall(self.tick)
        self._loop.clock = ctx.reactor
        self.passes = 0
        self._failing = False
        self._plans_synced = False
        rcfg = section.get("reviews") or {}
        self.reviews = ReviewSchedule(api.db, api.clock, ctx.reactor, rcfg) if rcfg.get("enabled") else None

    def startService(self):
        """Sync the configured plans, subscribe to alarm transitions, start the scheduler."""
        super().startService()
        return Deferred.fromCoroutine(self._start())

    async def sync_plans(self) -> bool:
        """Write the configured plans once the property exists (the demo seeds it after we start)."""
        plans = self.section.get("plans") or []
        if self._plans_synced or not plans:
            self._plans_synced = True
            return True

        def sync(s):
            prop = s.scalar(select(Property.id).order_by(Property.id).limit(1))
            return (pm.sync_plans(s, plans, prop) if prop else None), []
        n = await self.orders.run(sync)
        if n is not None:
            log.info("service management: %d preventive plans configured", n)
            self._plans_synced = True
        return self._plans_synced

    async def _start(self) -> None:
        await self.sync_plans()
        events = getattr(self.ctx, "events", None)
        if events is not None:
            from alarms.events import AlarmTransition
            self._unsubscribe = events.subscribe(AlarmTransition, self.link)
        self._loop.start(self.section.get("tick") or 30.0, now=False).addErrback(
            lambda f: log.error("service scheduler stopped: %s", f.getTraceback()))
        if self.reviews is not None:
            self.reviews.start()        # catches up a boundary missed while the server was down

    def stopService(self):
        """Stop the scheduler and the subscription; a Deferred that waits for a review pass in flight."""
        super().stopService()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._loop.running:
            self._loop.stop()
        return self.reviews.stop() if self.reviews is not None else succeed(None)

    def tick(self):
        """One scheduler pass (a Deferred; a failing pass is logged and the next one runs)."""
        d = Deferred.fromCoroutine(self.run_once())
        d.addCallbacks(self._ok, self._failed)
        return d

    def _ok(self, result):
        if self._failing:
            log.info("service scheduler works again")
            self._failing = False
        return result

    def _failed(self, failure):
        if not self._failing:
            log.error("service scheduler pass failed: %s", failure.getTraceback())
        else:
            log.debug("service scheduler pass failed again: %s", failure.getErrorMessage())
        self._failing = True

    async def run_once(self) -> dict:
        """Health sweep, housekeeping, plans; returns what happened."""
        out = {"health": await self.sweep_health()}
        out["housekeeping"] = await self.orders.run(self.orders.housekeeping_tx)
        out["plans"] = await self.run_plans() if await self.sync_plans() else {}
        self.passes += 1
        return out

    async def sweep_health(self) -> dict:
        """Record when completed alarm orders' equipment became healthy (or is not any more)."""
        def pending(s):
            rows = s.scalars(select(WorkOrder).where(WorkOrder.source == "alarm", WorkOrder.state == "completed"))
            return [SimpleNamespace(id=o.id, source=o.source, alarm_ids=list(o.alarm_ids or []),
                                    equipment_id=o.equipment_id) for o in rows], []
        todo = await self.orders.run(pending)
        if not todo:
            return {}
        verdicts = {o.id: self.telemetry.live(o) for o in todo}
        now = self.api.clock()
        return await self.orders.run(lambda s: (self.telemetry.sweep_tx(s, now, verdicts), []))

    async def run_plans(self) -> dict:
        """One preventive-maintenance pass: read the usage counters live, generate what is due."""
        targets = await self.orders.run(lambda s: (pm.usage_targets(s), []))
        readings = self.readings(targets)
        now = self.api.clock()
        return await self.orders.run(lambda s: pm.run_plans(self.orders, s, now, readings))

    async def orders_for_alarm(self, alarm_id: str) -> list[dict]:
        """The work orders holding an alarm (newest first): for the operators' alarm summary."""
        def work(s):
            rows = s.scalars(select(WorkOrder).where(WorkOrder.source == "alarm").order_by(WorkOrder.id.desc())
                             .limit(500))
            return [{"id": o.id, "number": o.number, "state": o.state, "assignee_staff_id": o.assignee_staff_id}
                    for o in rows if alarm_id in (o.alarm_ids or [])], []
        return await self.orders.run(work)

    def readings(self, targets: list[tuple[int, int, str]]) -> dict[tuple[int, int], float]:
        """Live usage counters (Good numeric values only) for (plan id, asset id, tag path) targets."""
        readings = {}
        tags = getattr(self.ctx, "tags", None)
        for plan_id, asset_id, path in targets:
            try:
                tv = tags.get(path) if tags is not None else None
            except KeyError:
                tv = None
            if tv is not None and tv.quality.is_good and isinstance(tv.value, (int, float)) \
                    and not isinstance(tv.value, bool):
                readings[(plan_id, asset_id)] = float(tv.value)
        return readings


def attach(ctx: Any, api: Any, parent: Any) -> ServiceMgmt | None:
    """Build service management under the business service (None when ``service: {enabled: false}``)."""
    raw = ctx.site.section("service") if getattr(ctx, "site", None) is not None else None
    section = raw if raw is not None else defaults({})
    if section.get("enabled") is False:
        return None
    grant_permissions()
    svc = ServiceMgmt(ctx, api, section)
    ctx.mount_api("workorders", WorkOrdersResource(api, svc.orders), operations=workorder_operations())
    ctx.mount_api("pm", PmResource(api, svc), operations=pm_operations())
    ctx.mount_api("activities", ActivitiesResource(api, svc), operations=activity_operations())
    ctx.provides["service_mgmt"] = svc
    svc.setServiceParent(parent)
    return svc
