"""REST API of the alarm system, mounted at ``/api/v1/alarms``.

``GET  /alarms``                active alarms (``?area= &priority= &state=a,b &equipment=``)
``GET  /alarms/kpi``            alarm-system KPIs
``GET  /alarms/journal``        journal (``?alarm= &since= &until= &area= &priority= &kind= &user= &limit=``)
``GET  /alarms/outbox``         notification outbox (``?status=``)
``POST /alarms/ack``            ``{"alarm": id, "comment": ...}``          permission ``alarms.ack``
``POST /alarms/shelve``         ``{"alarm": id, "comment": ..., "duration": "2h"}``  ``alarms.shelve``
``POST /alarms/unshelve``       ``{"alarm": id, "comment": ...}``          ``alarms.shelve``
``POST /alarms/out_of_service`` ``{"alarm": id, "comment": ..., "out": true}``  ``alarms.shelve``

Alarm ids contain ``/`` and ``:``, so actions name the alarm in the body. The
acting user is always the authenticated principal, never a body field.
Reads need ``alarms.read`` or ``tags.read`` (anonymous while the server has no
credentials configured, as for tags).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tagdb.api.auth import anonymous_read_allowed, bearer_token, require
from tagdb.api.http import ApiError, JsonResource, query_arg, read_json_object
from tagdb.api.openapi import Operation, Param, Response, errors
from tagdb.site.errors import Loc
from tagdb.site.schema import Duration

from .errors import InvalidOperationError, MissingIdentityError, UnknownAlarmError
from .events import AlarmState
from .model import AlarmRecord

_ACTIONS = {"ack": "alarms.ack", "shelve": "alarms.shelve", "unshelve": "alarms.shelve",
            "out_of_service": "alarms.shelve"}


def alarm_json(rec: AlarmRecord, current: Any = None) -> dict:
    """One alarm as the API shows it (``value``: at the last transition; ``current``: the tag now)."""
    d = rec.definition
    from .engine import render_message

    return {"id": d.id, "state": rec.state.value, "priority": d.priority, "type": d.rule_type, "name": d.name,
            "tag": d.tag, "area": d.area, "equipment": d.equipment, "building": d.building,
            "message": render_message(rec), "value": rec.value, "current": current, "limit": d.limit,
            "active": rec.active,
            "acknowledged": rec.acked, "latched": rec.latched, "since": rec.since,
            "activated_at": rec.activated_at,
            "shelved": {"by": rec.shelved_by, "until": rec.shelved_until, "reason": rec.shelve_reason}
            if rec.shelved else None}


class AlarmsResource(JsonResource):
    """The ``/api/v1/alarms`` resource."""

    def __init__(self, ctx: Any, engine, journal_store, kpi, outbox=None) -> None:
        super().__init__()
        self.ctx = ctx
        self.engine = engine
        self.store = journal_store
        self.kpi = kpi
        self.outbox = outbox

    def _segments(self, request) -> list[str]:
        return [s.decode("utf-8", "replace") for s in request.postpath if s]

    def _check_read(self, request) -> None:
        if bearer_token(request) is None and anonymous_read_allowed(self.ctx):
            return
        try:
            require(request, self.ctx, "alarms.read")
        except ApiError as exc:
            if exc.status != 403:
                raise
            require(request, self.ctx, "tags.read")

    async def on_get(self, request) -> tuple[int, Any]:
        """The alarm list, KPIs, journal or outbox."""
        self._check_read(request)
        seg = self._segments(request)
        if not seg:
            states = query_arg(request, "state")
            try:
                wanted = [AlarmState(s) for s in states.split(",")] if states else None
            except ValueError:
                raise ApiError(400, "bad_request", f"state: one of {', '.join(s.value for s in AlarmState)}",
                               field="state") from None
            recs = self.engine.select(wanted, area=query_arg(request, "area"),
                                      priority=query_arg(request, "priority"),
                                      equipment=query_arg(request, "equipment"))
            ranks = (self.ctx.site.section("alarms") or {}).get("priorities") or {}
            recs.sort(key=lambda r: (ranks.get(r.definition.priority, 99), -(r.since or 0)))
            return 200, [alarm_json(r, self._current(r)) for r in recs]
        if seg == ["kpi"]:
            return 200, self.kpi.snapshot()
        if seg == ["journal"]:
            return 200, self.store.query(
                alarm_id=query_arg(request, "alarm"), since=_time(request, "since"), until=_time(request, "until"),
                area=query_arg(request, "area"), priority=query_arg(request, "priority"),
                kind=query_arg(request, "kind"), user=query_arg(request, "user"),
                limit=_int(request, "limit", 500, 1, 10000), offset=_int(request, "offset", 0, 0, 10**9))
        if seg == ["outbox"] and self.outbox is not None:
            return 200, [{"id": e.id, "channel": e.message.channel, "recipient": e.message.recipient,
                          "subject": e.message.subject, "status": e.status, "attempts": e.attempts,
                          "last_error": e.last_error, "source": e.message.source}
                         for e in self.outbox.entries(status=query_arg(request, "status"))]
        raise ApiError(404, "not_found", f"no such alarms resource: {'/'.join(seg)}")

    async def on_post(self, request) -> tuple[int, Any]:
        """An operator action on one alarm, as the authenticated user."""
        seg = self._segments(request)
        if len(seg) != 1 or seg[0] not in _ACTIONS:
            raise ApiError(404, "not_found", f"POST to one of: {', '.join('/alarms/' + a for a in _ACTIONS)}")
        action = seg[0]
        principal = require(request, self.ctx, _ACTIONS[action])
        body = read_json_object(request)
        alarm = body.get("alarm")
        comment = body.get("comment")
        if not isinstance(alarm, str) or not alarm:
            raise ApiError(400, "bad_request", "alarm: the alarm id is required", field="alarm")
        if not isinstance(comment, str) or not comment.strip():
            raise ApiError(400, "bad_request", "comment: a comment is required", field="comment")
        try:
            if action == "ack":
                tr = self.engine.acknowledge(alarm, principal.user, comment)
            elif action == "shelve":
                seconds, errs = Duration(allow_zero=False).check(body.get("duration"), "duration", Loc("request"))
                if errs:
                    raise ApiError(400, "bad_request", errs[0].message, field="duration")
                tr = self.engine.shelve(alarm, principal.user, comment, seconds)
            elif action == "unshelve":
                tr = self.engine.unshelve(alarm, principal.user, comment)
            else:
                tr = self.engine.set_out_of_service(alarm, bool(body.get("out", True)), principal.user, comment)
        except UnknownAlarmError as exc:
            raise ApiError(404, "no_such_alarm", str(exc), alarm=alarm) from None
        except InvalidOperationError as exc:
            raise ApiError(409, "conflict", str(exc), alarm=alarm) from None
        except MissingIdentityError as exc:
            raise ApiError(400, "bad_request", str(exc)) from None
        rec = self.engine.get(alarm)
        return 200, {"transition": tr.to_dict(), "alarm": alarm_json(rec, self._current(rec))}

    def _current(self, rec: AlarmRecord) -> Any:
        tv = self.engine.eval.values.get(rec.definition.tag) if rec.definition.tag else None
        return None if tv is None else tv.value


def _time(request, name: str) -> datetime | None:
    raw = query_arg(request, name)
    if raw is None:
        return None
    try:
        ts = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ApiError(400, "bad_request", f"{name}: expected an ISO 8601 time", field=name) from None
    if ts.tzinfo is None:
        raise ApiError(400, "bad_request", f"{name}: the time needs a timezone (Z or +08:00)", field=name)
    return ts


def _int(request, name: str, default: int, lo: int, hi: int) -> int:
    raw = query_arg(request, name)
    if raw is None:
        return default
    try:
        v = int(raw)
    except ValueError:
        raise ApiError(400, "bad_request", f"{name}: expected an integer", field=name) from None
    if not lo <= v <= hi:
        raise ApiError(400, "bad_request", f"{name}: must be between {lo} and {hi}", field=name)
    return v


_OBJ = {"type": "object"}
_ACTION_BODY = {"type": "object", "required": ["alarm", "comment"],
                "properties": {"alarm": {"type": "string"}, "comment": {"type": "string"},
                               "duration": {"type": "string", "description": "shelve: e.g. 30m, 2h"},
                               "out": {"type": "boolean"}}}

OPERATIONS = [
    Operation("GET", "/alarms", "Active alarms", "listAlarms", ("alarms",),
              (Param("area"), Param("priority"), Param("state", description="comma-separated states"),
               Param("equipment")),
              responses={200: Response("Alarms", {"type": "array", "items": _OBJ}), **errors(400, 401, 403)},
              permission="alarms.read"),
    Operation("GET", "/alarms/kpi", "Alarm-system KPIs", "alarmKpis", ("alarms",),
              responses={200: Response("KPIs", _OBJ), **errors(401, 403)}, permission="alarms.read"),
    Operation("GET", "/alarms/journal", "Alarm journal", "alarmJournal", ("alarms",),
              tuple(Param(n) for n in ("alarm", "since", "until", "area", "priority", "kind", "user", "limit",
                                       "offset")),
              responses={200: Response("Journal rows", {"type": "array", "items": _OBJ}), **errors(400, 401, 403)},
              permission="alarms.read"),
    Operation("GET", "/alarms/outbox", "Notification outbox", "alarmOutbox", ("alarms",), (Param("status"),),
              responses={200: Response("Messages", {"type": "array", "items": _OBJ}), **errors(401, 403)},
              permission="alarms.read"),
    *[Operation("POST", f"/alarms/{a}", f"{a.replace('_', ' ').capitalize()} an alarm", f"alarm_{a}", ("alarms",),
                request_body=_ACTION_BODY,
                responses={200: Response("The transition and the alarm", _OBJ), **errors(400, 401, 403, 404, 409)},
                permission=p) for a, p in _ACTIONS.items()],
]
