"""REST resource ``/api/v1/commands``: operator commands and their audit trail.

* ``POST /commands`` ``{path, value, reason?, confirm?, source?}``: run a command
  through the one command path; the answer is its audit record.
* ``GET /commands?path=&user=&n=``: the newest audit records.
* ``POST /commands/loops/{name}`` ``{mode?, sp?, out?, reason?}``: loop commands.
* ``POST /commands/schedules/{name}/override`` ``{state: on|off|auto, duration?, reason?}``.
* ``GET /commands/loops``: every loop's state.

A command without a token is executed as ``anonymous`` so that the refusal is
audited like any other; an invalid token is 401. Reads follow the tag
server's anonymous-read rule.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from tagdb.api.auth import ANONYMOUS, anonymous_read_allowed, bearer_token, require
from tagdb.api.http import ApiError, JsonResource, json_value, query_arg, read_json_object
from tagdb.api.openapi import Operation, Param, Response, errors

from . import _async
from .commands import CONFIRM, DONE, FAILED, CommandRecord
from .engine import ControlEngine
from .state import PREFIX

_FAILED_HTTP = {"device_unreachable": 503, "timeout": 504, "device_exception": 502}


def record_json(r: CommandRecord) -> dict:
    """A command record as JSON."""
    d = r.to_dict()
    for key in ("old_value", "new_value", "readback"):
        d[key] = json_value(d[key])
    return d


class CommandsResource(JsonResource):
    """``/api/v1/commands`` (see the module docstring)."""

    def __init__(self, ctx: Any, engine: ControlEngine) -> None:
        super().__init__()
        self.ctx = ctx
        self.engine = engine

    def _principal(self, request):
        token = bearer_token(request)
        if token is None:
            return ANONYMOUS
        principal = self.ctx.auth.authenticate_token(token)
        if principal is None:
            error = ApiError(401, "unauthorized", "the bearer token is not valid")
            error.headers["WWW-Authenticate"] = 'Bearer realm="spms"'
            raise error
        return principal

    def _segments(self, request) -> list[str]:
        segs = [unquote(s.decode("utf-8", "replace")) for s in request.postpath]
        while segs and segs[-1] == "":
            segs.pop()
        return segs

    async def on_get(self, request):
        """``GET /commands`` (audit records) and ``GET /commands/loops`` (loop states)."""
        # Reads follow the tag server's rule for anonymous access (tagdb.api.auth).
        require(request, self.ctx, "tags.read", anonymous=anonymous_read_allowed(self.ctx))
        segs = self._segments(request)
        if segs == ["loops"]:
            return 200, {name: {"mode": l.state.mode, "status": l.state.status, "sp": json_value(l.state.sp),
                                "pv": json_value(l.state.pv), "out": json_value(l.state.out),
                                "alarm": l.state.alarm, "write": l.state.write, "interlock": l.state.interlock}
                         for name, l in self.engine.loops.items()}
        if segs:
            raise ApiError(404, "not_found", f"no resource /commands/{'/'.join(segs)}")
        try:
            n = int(query_arg(request, "n") or 100)
        except ValueError:
            raise ApiError(400, "bad_request", "n must be an integer", field="n") from None
        records = self.engine.commands.recent(n, query_arg(request, "path"), query_arg(request, "user"))
        return 200, [record_json(r) for r in records]

    async def on_post(self, request):
        """A command: a tag write, a loop command or a schedule override."""
        principal = self._principal(request)
        body = read_json_object(request)
        segs = self._segments(request)
        reason = body.get("reason", "")
        if not isinstance(reason, str):
            raise ApiError(400, "bad_request", "reason must be a string", field="reason")
        if not segs:
            return await self._write(principal, body, reason)
        if len(segs) == 2 and segs[0] == "loops":
            return await self._loop(principal, segs[1], body, reason)
        if len(segs) == 3 and segs[0] == "schedules" and segs[2] == "override":
            return await self._override(principal, segs[1], body, reason)
        raise ApiError(404, "not_found", f"no resource /commands/{'/'.join(segs)}")

    async def _write(self, principal, body: dict, reason: str):
        allowed = {"path", "value", "reason", "confirm", "source"}
        unknown = sorted(set(body) - allowed)
        if unknown:
            raise ApiError(400, "bad_request", f"unknown field {unknown[0]!r} (known: {', '.join(sorted(allowed))})")
        path, value = body.get("path"), body.get("value")
        if not isinstance(path, str) or not path:
            raise ApiError(400, "bad_request", "field 'path' (a tag path) is required", field="path")
        if value is None or isinstance(value, (list, dict)):
            raise ApiError(400, "bad_request", "field 'value' must be a number, boolean or string", field="value")
        source = body.get("source", "api")
        if source not in ("api", "hmi"):
            raise ApiError(400, "bad_request", "source is 'api' or 'hmi'", field="source")
        record = await _run(self.engine.commands.execute(principal, path, value, reason=reason,
                                                    confirm=body.get("confirm") is True, source=source))
        return _answer(record)

    async def _loop(self, principal, name: str, body: dict, reason: str):
        fields = [k for k in ("mode", "sp", "out") if k in body]
        if not fields or set(body) - {"mode", "sp", "out", "reason"}:
            raise ApiError(400, "bad_request", "send one or more of mode, sp, out (and reason)")
        records = []
        for key in fields:  # mode first, so {"mode": "manual", "out": 40} works in one request
            record = await _run(self.engine.commands.execute(principal, f"{PREFIX}/loops/{name}/{key}", body[key],
                                                        reason=reason, source="api"))
            records.append(record)
            if not record.ok:
                return _answer(record)
        return 200, [record_json(r) for r in records]

    async def _override(self, principal, name: str, body: dict, reason: str):
        state = body.get("state")
        if state not in ("on", "off", "auto"):
            raise ApiError(400, "bad_request", "state is on, off or auto", field="state")
        value = "auto" if state == "auto" else f"{state} {body.get('duration', '')}".strip()
        record = await _run(self.engine.commands.execute(principal, f"{PREFIX}/schedules/{name}/override", value,
                                                    reason=reason, source="api"))
        return _answer(record)


async def _run(coro) -> CommandRecord:
    """Run a command on the control trampoline (collectors' writes await asyncio futures)."""
    return await _async.wait(_async.start(coro))


def _answer(record: CommandRecord):
    if record.status == DONE:
        return 200, record_json(record)
    if record.status == CONFIRM:
        raise ApiError(409, "confirmation_required", record.message, record=record_json(record))
    if record.status == FAILED:
        raise ApiError(_FAILED_HTTP.get(record.write_status, 502), "command_failed", record.message,
                       record=record_json(record))
    code = 403 if record.write_status == "not_authorized" else 409
    if record.write_status == "no_such_tag":
        code = 404
    raise ApiError(code, "command_refused", record.message, record=record_json(record))


OPERATIONS = (
    Operation("POST", "/commands", "Run an operator command (audited, read-back verified)", "runCommand",
              tags=("control",), permission="tags.write",
              responses={200: Response("Confirmed by the device", {"type": "object"}),
                         **errors(400, 401, 403, 404, 409, 502, 503, 504)}),
    Operation("GET", "/commands", "Newest command audit records", "listCommands", tags=("control",),
              parameters=(Param("path", description="only this tag"), Param("user", description="only this user"),
                          Param("n", description="how many (default 100)")),
              permission="tags.read", responses={200: Response("Records, newest first", {"type": "array"}),
                                                 **errors(401, 403)}),
    Operation("GET", "/commands/loops", "State of every PID loop", "listLoops", tags=("control",),
              permission="tags.read", responses={200: Response("Loop states by name", {"type": "object"})}),
    Operation("POST", "/commands/loops/{name}", "Change a loop's mode, setpoint or manual output",
              "commandLoop", tags=("control",), parameters=(Param("name", "path"),), permission="tags.write",
              responses={200: Response("Applied", {"type": "array"}), **errors(400, 401, 403, 409)}),
    Operation("POST", "/commands/schedules/{name}/override", "Override a schedule on/off with expiry",
              "overrideSchedule", tags=("control",), parameters=(Param("name", "path"),),
              permission="tags.write",
              responses={200: Response("Applied", {"type": "object"}), **errors(400, 401, 403, 409)}),
)
