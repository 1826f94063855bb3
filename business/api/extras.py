"""Sub-resources beyond plain CRUD: an asset's live view, the attendance summary, CSV import."""

from __future__ import annotations

from datetime import date, timedelta

from .. import attendance
from ..errors import PermissionDenied, ValidationError
from ..importer import KINDS, run_import
from ..asset_live import live_view
from ..permissions import visibility
from .base import Api, JsonResource, query_params, read_json


class AssetLiveResource(JsonResource):
    """``GET /api/v1/assets/<id>/live``: live values, active alarms, run hours (needs assets.read and tags.read)."""

    isLeaf = True

    def __init__(self, api: Api, name: str, ident: str) -> None:
        super().__init__(api)
        self.ident = ident

    async def handle_GET(self, request, principal):
        asset = await self.api.db.run(self.api.crud.get, principal, "assets", self.ident)
        if visibility(principal, "tags.read").nothing:
            raise PermissionDenied("permission 'tags.read' required for live values")
        return 200, live_view(self.api.ctx, asset)


class AttendanceSummaryResource(JsonResource):
    """``GET /api/v1/attendance/summary?from=&to=&staff_id=``: status, lateness, early leave per shift."""

    isLeaf = True

    def __init__(self, api: Api, name: str) -> None:
        super().__init__(api)

    async def handle_GET(self, request, principal):
        params = query_params(request)
        errors, days = {}, {}
        today = self.api.clock().date()
        for key, default in (("from", today - timedelta(days=6)), ("to", today)):
            try:
                days[key] = date.fromisoformat(params[key]) if key in params else default
            except ValueError:
                errors[key] = "expected a date YYYY-MM-DD"
        staff_id = params.get("staff_id")
        if staff_id is not None and not staff_id.isdigit():
            errors["staff_id"] = "expected an integer"
        if not errors and days["to"] < days["from"]:
            errors["to"] = "must not be before from"
        if not errors and (days["to"] - days["from"]).days > 62:
            errors["to"] = "at most 62 days per request"
        if errors:
            raise ValidationError("invalid query parameters", errors)

        def work(s):
            # only staff the caller may see: reuse the collection's scope filter
            visible = [r["id"] for r in self.api.crud.list(s, principal, "staff", {"per_page": "500"})["items"]]
            ids = [int(staff_id)] if staff_id else visible
            ids = [i for i in ids if i in visible]
            return attendance.summary(s, self.api.clock(), days["from"], days["to"], ids)
        if visibility(principal, "attendance.read").nothing:
            raise PermissionDenied("permission 'attendance.read' required")
        return 200, {"items": await self.api.db.run(work)}


class ClockResource(JsonResource):
    """``POST /api/v1/attendance/clock {"kind": "in"|"out"}``: staff clock themselves in or out.

    Needs ``attendance.clock`` and a user linked to a staff record; the time is the server's clock,
    so nobody back-dates their own attendance.
    """

    isLeaf = True

    def __init__(self, api: Api, name: str) -> None:
        super().__init__(api)

    async def handle_POST(self, request, principal):
        if visibility(principal, "attendance.clock").nothing:
            raise PermissionDenied("permission 'attendance.clock' required")
        staff_id = (principal.attributes or {}).get("staff_id")
        if not staff_id:
            raise PermissionDenied("this user is not linked to a staff record")
        body = read_json(request)
        if not isinstance(body, dict) or body.get("kind") not in ("in", "out") or set(body) - {"kind"}:
            raise ValidationError("invalid clock event", {"kind": "must be in or out"})

        def work(s):
            from ..audit import record
            from ..crud import to_json
            from ..models import ClockRecord
            row = ClockRecord(staff_id=staff_id, kind=body["kind"], at=self.api.clock(), source="self")
            s.add(row)
            s.flush()
            after = to_json(row)
            record(s, principal.user, "create", "attendance", row.id, None, after, self.api.clock())
            return after
        return 201, await self.api.db.run(work)


class ImportResource(JsonResource):
    """``POST /api/v1/import/<kind>?dry_run=true&property=CODE`` with a CSV body (``import.run``)."""

    def getChild(self, path, request):
        return ImportKindResource(self.api, path.decode())


class ImportKindResource(JsonResource):
    """One import kind: units, owners or staff."""

    isLeaf = True

    def __init__(self, api: Api, kind: str) -> None:
        super().__init__(api)
        self.kind = kind

    async def handle_POST(self, request, principal):
        if visibility(principal, "import.run").nothing:
            raise PermissionDenied("permission 'import.run' required")
        if self.kind not in KINDS:
            raise ValidationError(f"unknown import kind {self.kind!r}", {"kind": f"one of {', '.join(KINDS)}"})
        params = query_params(request)
        raw = request.content.read() if request.content is not None else b""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ValidationError("the CSV must be UTF-8", {"body": "not UTF-8"}) from None
        dry = params.get("dry_run", "false").lower() in ("1", "true", "yes")
        report = await self.api.db.run_raw(run_import, self.api.db, self.api.crud, principal, self.kind, text, dry,
                                           params.get("property"))
        return (200 if not report["errors"] else 422), report
