"""REST resources of preventive maintenance (``/api/v1/pm``) and community activities
(``/api/v1/activities``).

``GET /pm/plans``, ``GET /pm/calendar?from=&to=``, ``GET /pm/compliance?from=&to=``,
``POST /pm/run`` (one planning pass now). ``GET|POST /activities``,
``GET|PATCH /activities/{id}``, ``POST /activities/{id}/cancel``,
``POST|DELETE /activities/{id}/registration`` (residents for themselves, staff
with ``person_id``), ``POST /activities/{id}/checkin {"person_id"}``,
``GET /activities/{id}/registrations``.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from ..api.base import Api, JsonResource, query_params, read_json
from ..errors import BadRequest, PermissionDenied, ValidationError
from ..models import Residency, Unit
from ..permissions import visibility
from ..scopes import located_chain
from . import activities as acts
from . import pm
from .access import person_id, resident_vis, staff_vis, _in
from .api_orders import _range
from .models import Activity, ActivityRegistration, PmPlan


def _need(principal, perm: str) -> None:
    if visibility(principal, perm).nothing:
        raise PermissionDenied(f"permission '{perm}' required")


class PmResource(JsonResource):
    """``/pm/...``: plans, calendar, compliance, run."""

    def __init__(self, api: Api, service) -> None:
        super().__init__(api)
        self.service = service

    def getChild(self, path, request):
        key = path.decode()
        res = PmResource(self.api, self.service)
        res.key, res.isLeaf = key, True
        return res

    async def handle_GET(self, request, principal):
        _need(principal, "pm.read")
        key = getattr(self, "key", "plans")
        now = self.api.clock()
        params = query_params(request)
        if key == "plans":
            def work(s):
                return [{"id": p.id, "code": p.code, "name": p.name, "trigger": p.trigger, "asset_id": p.asset_id,
                         "category": p.category, "every": p.every, "unit": p.unit, "dates": p.dates, "tag": p.tag,
                         "threshold": p.threshold, "lead": p.lead, "lead_days": p.lead_days, "state": p.state}
                        for p in s.scalars(select(PmPlan).order_by(PmPlan.id))], []
            return 200, {"items": await self.service.orders.run(work)}
        if key == "calendar":
            start, end = _range(params, now, days=7)
            if "to" not in params:
                end = now.replace() + (now - start) * 4
            return 200, await self.service.orders.run(lambda s: (pm.calendar_view(s, start, end, now), []))
        if key == "compliance":
            start, end = _range(params, now, days=90)
            return 200, {"items": await self.service.orders.run(lambda s: (pm.compliance(s, start, end, now), []))}
        return 404, {"error": {"code": "not_found", "message": f"/pm/{key} does not exist", "fields": {}}}

    async def handle_POST(self, request, principal):
        if getattr(self, "key", "") != "run":
            return 404, {"error": {"code": "not_found", "message": "POST /pm/run only", "fields": {}}}
        _need(principal, "pm.write")
        return 200, await self.service.run_plans()


def _activity_chain(s, a: Activity) -> list[str]:
    return located_chain(s, a.property_id, a.building_id)


def _visible(s, principal, a: Activity) -> bool:
    if _in(staff_vis(principal, "activities.read"), _activity_chain(s, a)):
        return True
    pid = person_id(principal)
    return pid is not None and not resident_vis(principal, "activities.read").nothing and acts.audience_ok(s, a, pid)


def _writable(s, principal, a: Activity) -> None:
    if not _in(staff_vis(principal, "activities.write"), _activity_chain(s, a)):
        raise PermissionDenied("permission 'activities.write' required for this activity")


class ActivitiesResource(JsonResource):
    """The activities a caller may see; managers publish."""

    def __init__(self, api: Api, service) -> None:
        super().__init__(api)
        self.service = service

    @property
    def channels(self) -> dict:
        return (self.service.section.get("notify") or {}).get("channels") or {}

    def getChild(self, path, request):
        key = path.decode()
        if key == "":
            return self
        return ActivityResource(self.api, self.service, key)

    async def handle_GET(self, request, principal):
        def work(s):
            pid = person_id(principal)
            stmt = select(Activity).order_by(Activity.starts_at)
            if pid is not None and staff_vis(principal, "activities.read").nothing:
                buildings = select(Unit.building_id).join(Residency, Residency.unit_id == Unit.id).where(
                    Residency.person_id == pid, Residency.moved_out.is_(None))
                stmt = stmt.where(or_(Activity.building_id.is_(None), Activity.building_id.in_(buildings)))
            return [acts.activity_json(s, a) for a in s.scalars(stmt.limit(1000)) if _visible(s, principal, a)], []
        return 200, {"items": await self.service.orders.run(work)}

    async def handle_POST(self, request, principal):
        body = read_json(request)
        now = self.api.clock()

        def work(s):
            a = acts.create(s, now, principal.user, body)
            _writable(s, principal, a)
            return acts.activity_json(s, a), []
        return 201, await self.service.orders.run(work)


class ActivityResource(ActivitiesResource):
    """One activity and its registration sub-resources."""

    def __init__(self, api: Api, service, ident: str, sub: str = "") -> None:
        super().__init__(api, service)
        self.ident, self.sub = ident, sub

    def getChild(self, path, request):
        res = ActivityResource(self.api, self.service, self.ident, path.decode())
        res.isLeaf = True
        return res

    def _subject(self, s, principal, body) -> int:
        """Whose registration: a resident's own, or ``person_id`` for staff with activities.write."""
        pid = body.get("person_id") if isinstance(body, dict) else None
        if pid is not None:
            if isinstance(pid, bool) or not isinstance(pid, int):
                raise ValidationError("invalid request", {"person_id": "expected an integer"})
            if pid != person_id(principal):
                _writable(s, principal, acts.load(s, self.ident))
            return pid
        if person_id(principal) is None:
            raise ValidationError("invalid request", {"person_id": "is required (you are not a resident)"})
        return person_id(principal)

    async def handle_GET(self, request, principal):
        def work(s):
            a = acts.load(s, self.ident)
            if not _visible(s, principal, a):
                raise acts.NotFound(f"activity {self.ident} not found")
            if self.sub == "registrations":
                _writable(s, principal, a)
                regs = s.scalars(select(ActivityRegistration).where(ActivityRegistration.activity_id == a.id)
                                 .order_by(ActivityRegistration.registered_at, ActivityRegistration.id))
                return [acts.registration_json(s, r) for r in regs], []
            if self.sub:
                raise acts.NotFound(f"/activities/{self.ident}/{self.sub} does not exist")
            return acts.activity_json(s, a), []
        return 200, await self.service.orders.run(work)

    async def handle_PATCH(self, request, principal):
        body = read_json(request)
        now = self.api.clock()

        def work(s):
            a = acts.load(s, self.ident, lock=True)
            _writable(s, principal, a)
            a, notices = acts.update(s, now, a, body, self.channels)
            return acts.activity_json(s, a), notices
        return 200, await self.service.orders.run(work)

    async def handle_POST(self, request, principal):
        try:
            body = read_json(request)
        except BadRequest as exc:
            if exc.fields.get("body") != "is required":
                raise
            body = {}           # cancel and registration need no body
        now = self.api.clock()

        def work(s):
            a = acts.load(s, self.ident, lock=True)
            if not _visible(s, principal, a):
                raise acts.NotFound(f"activity {self.ident} not found")
            if self.sub == "cancel":
                _writable(s, principal, a)
                reason = body.get("reason", "") if isinstance(body, dict) else ""
                notices = acts.cancel(s, now, a, self.channels, reason if isinstance(reason, str) else "")
                return acts.activity_json(s, a), notices
            if self.sub == "registration":
                if visibility(principal, "activities.register").nothing and \
                        visibility(principal, "activities.write").nothing:
                    raise PermissionDenied("permission 'activities.register' required")
                return acts.register(s, now, a, self._subject(s, principal, body)), []
            if self.sub == "checkin":
                _writable(s, principal, a)
                return acts.check_in(s, now, a, self._subject(s, principal, body)), []
            raise acts.NotFound(f"POST /activities/{self.ident}/{self.sub} does not exist")
        return (201 if self.sub == "registration" else 200), await self.service.orders.run(work)

    async def handle_DELETE(self, request, principal):
        if self.sub != "registration":
            raise acts.NotFound("DELETE /activities/{id}/registration only")
        now = self.api.clock()
        body = {k: int(v) for k, v in query_params(request).items() if k == "person_id" and v.isdigit()}

        def work(s):
            a = acts.load(s, self.ident, lock=True)
            if not _visible(s, principal, a):
                raise acts.NotFound(f"activity {self.ident} not found")
            return acts.unregister(s, now, a, self._subject(s, principal, body), self.channels)
        return 200, await self.service.orders.run(work)
