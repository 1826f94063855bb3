"""REST resources of work orders under ``/api/v1/workorders``.

``GET|POST /workorders``, ``GET /workorders/{id}`` (timeline, costs, rating,
grouped reports), ``POST /workorders/{id}/transitions`` ``{"action", "comment",
"staff_id", "version"}``, ``POST /workorders/{id}/costs``, ``POST
/workorders/{id}/rating``, ``GET /workorders/board``, ``GET /workorders/figures``,
``POST /workorders/reviews``, ``GET /workorders/reliability/{asset_id}``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from types import SimpleNamespace

from ..api.base import Api, JsonResource, query_params, read_json
from ..errors import PermissionDenied, ValidationError
from ..permissions import visibility
from . import ratings, telemetry as tele
from .orders import Orders

VERIFY = "verify"


def _range(params: dict, now: datetime, days: int = 30) -> tuple[datetime, datetime]:
    out, errors = {}, {}
    for key, default in (("from", now - timedelta(days=days)), ("to", now + timedelta(seconds=1))):
        raw = params.get(key)
        try:
            t = datetime.fromisoformat(raw.replace("Z", "+00:00")) if raw else default
            if t.tzinfo is None:
                raise ValueError
            out[key] = t
        except ValueError:
            errors[key] = "an ISO 8601 time with an offset (or a date)" if "T" in (raw or "T") else "ISO date"
    if errors:
        raise ValidationError("invalid query parameters", errors)
    return out["from"], out["to"]


class _Base(JsonResource):
    def __init__(self, api: Api, orders: Orders) -> None:
        super().__init__(api)
        self.orders = orders


class WorkOrdersResource(_Base):
    """The collection: list (scoped; overdue first) and create (residents for their unit)."""

    def getChild(self, path, request):
        key = path.decode()
        if key == "":
            return self
        extras = {"board": BoardResource, "figures": FiguresResource, "reviews": ReviewsResource,
                  "reliability": ReliabilityResource}
        if key in extras:
            return extras[key](self.api, self.orders)
        return OrderResource(self.api, self.orders, key)

    async def handle_GET(self, request, principal):
        return 200, await self.orders.run(self.orders.list_tx, principal, query_params(request))

    async def handle_POST(self, request, principal):
        return 201, await self.orders.run(self.orders.create_tx, principal, read_json(request))


class OrderResource(_Base):
    """One order and its sub-resources."""

    def __init__(self, api: Api, orders: Orders, ident: str) -> None:
        super().__init__(api, orders)
        self.ident = ident

    def getChild(self, path, request):
        key = path.decode()
        if key == "":
            return self
        sub = {"transitions": TransitionsResource, "costs": CostsResource, "rating": RatingResource}.get(key)
        if sub is None:
            return super().getChild(path, request)
        return sub(self.api, self.orders, self.ident)

    async def handle_GET(self, request, principal):
        return 200, await self.orders.run(self.orders.get_tx, principal, self.ident)


class TransitionsResource(OrderResource):
    """``POST {"action", "comment", "staff_id", "version"}``: move the order through the state machine."""

    isLeaf = True

    async def handle_POST(self, request, principal):
        body = read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("action"), str):
            raise ValidationError("invalid transition", {"action": "is required"})
        errors = {}
        for key in ("staff_id", "version"):
            v = body.get(key)
            if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                errors[key] = "expected an integer"
        comment = body.get("comment", "")
        if not isinstance(comment, str):
            errors["comment"] = "expected a string"
        if errors:
            raise ValidationError("invalid transition", errors)
        telemetry, data = None, None
        if body["action"] == VERIFY and self.orders.telemetry is not None:
            current = await self.orders.run(self.orders.get_tx, principal, self.ident)
            o = SimpleNamespace(**{k: current.get(k) for k in ("source", "alarm_ids", "equipment_id", "number")},
                                fault_at=_dt(current.get("fault_at")))
            if o.source == "alarm":
                telemetry = self.orders.telemetry.live(o)
                down = await self.orders.telemetry.downtime_s(o, self.api.clock())
                data = {"downtime_s": down} if down is not None else None
        return 200, await self.orders.run(self.orders.act_tx, principal, self.ident, body["action"], comment,
                                          body.get("staff_id"), body.get("version"), telemetry, data)


def _dt(value):
    return datetime.fromisoformat(value) if isinstance(value, str) else value


class CostsResource(OrderResource):
    """``POST {"kind": "part"|"labour", "description", "quantity", "unit_price"}`` (decimal strings)."""

    isLeaf = True

    async def handle_POST(self, request, principal):
        return 201, await self.orders.run(self.orders.cost_tx, principal, self.ident, read_json(request))


class RatingResource(OrderResource):
    """``POST {"score": 1..5, "comment"}``: the reporting resident rates the service."""

    isLeaf = True

    async def handle_POST(self, request, principal):
        return 201, await self.orders.run(self.orders.rate_tx, principal, self.ident, read_json(request))


class BoardResource(_Base):
    """``GET``: counts by state and by building, and the open orders overdue first."""

    isLeaf = True

    async def handle_GET(self, request, principal):
        params = query_params(request)
        listing = await self.orders.run(self.orders.list_tx, principal, params)
        by_state, by_building = {}, {}
        for o in listing["items"]:
            by_state[o["state"]] = by_state.get(o["state"], 0) + 1
            b = str(o["building_id"])
            by_building.setdefault(b, {"open": 0, "overdue": 0})
            if o["state"] in ("new", "assigned", "accepted", "in_progress", "on_hold"):
                by_building[b]["open"] += 1
            by_building[b]["overdue"] += 1 if o["overdue"] else 0
        open_items = [o for o in listing["items"] if o["state"] in ("new", "assigned", "accepted", "in_progress",
                                                                     "on_hold", "completed")]
        return 200, {"by_state": by_state, "by_building": by_building, "open": open_items[:200],
                     "overdue": sum(1 for o in open_items if o["overdue"])}


def _need(principal, perm: str) -> None:
    if visibility(principal, perm).nothing:
        raise PermissionDenied(f"permission '{perm}' required")


class FiguresResource(_Base):
    """``GET ?from=&to=&staff_id=``: per staff: completed, average rating, SLA compliance, reopens."""

    isLeaf = True

    async def handle_GET(self, request, principal):
        _need(principal, "workorders.write")
        params = query_params(request)
        start, end = _range(params, self.api.clock())
        ids = [int(params["staff_id"])] if params.get("staff_id", "").isdigit() else None

        def work(s):
            return ratings.staff_figures(s, start, end, ids), []
        return 200, {"from": start.isoformat(), "to": end.isoformat(), "items": await self.orders.run(work)}


class ReviewsResource(_Base):
    """``POST {"period": "2026-11", "from", "to"}``: write the figures into the staff reviews."""

    isLeaf = True

    async def handle_POST(self, request, principal):
        _need(principal, "reviews.write")
        body = read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("period"), str) or not body["period"].strip():
            raise ValidationError("invalid request", {"period": "is required (e.g. 2026-11)"})
        start, end = _range({k: body.get(k) for k in ("from", "to") if body.get(k)}, self.api.clock())

        def work(s):
            return ratings.feed_reviews(s, body["period"].strip()[:16], start, end, principal.user), []
        return 200, {"items": await self.orders.run(work)}


class ReliabilityResource(_Base):
    """``GET /workorders/reliability/{asset_id}?days=365``: failures, downtime, MTTR, MTBF."""

    def getChild(self, path, request):
        res = ReliabilityResource(self.api, self.orders)
        res.asset = path.decode()
        res.isLeaf = True
        return res

    async def handle_GET(self, request, principal):
        asset = getattr(self, "asset", "")
        if not asset.isdigit():
            raise ValidationError("invalid asset", {"asset_id": "expected an integer"})
        await self.api.db.run(self.api.crud.get, principal, "assets", asset)   # scope check
        days = query_params(request).get("days", "365")
        if not days.isdigit() or not 1 <= int(days) <= 3650:
            raise ValidationError("invalid query parameters", {"days": "1..3650"})

        def work(s):
            return tele.reliability(s, int(asset), self.api.clock(), int(days)), []
        return 200, await self.orders.run(work)
