"""Faceplates: operator commands through the one command path (``control.commands``).

Setpoint entry for numeric writable points, start/stop (on/off, open/release)
for discrete ones, manual/auto and output for the PID loops acting on the
equipment. Critical points ask for a confirmation first. The command result
as the command path reports it (confirmed by the device read-back, refused,
failed) is shown next to the faceplate. Users without ``hmi.command`` see the
faceplates disabled.
"""

from __future__ import annotations

import logging
from html import escape
from typing import Any

import panel as pn

from . import render as r
from .aio import run
from .auth import can_command
from .live import Block, Values

log = logging.getLogger(__name__)

LOOP_PREFIX = "_system/control/loops"
STATUS_TEXT = {"done": "confirmed", "refused": "refused", "failed": "failed",
               "confirmation_required": "needs confirmation"}
BOOL_LABELS = {"in_service": ("Return to service", "Take out of service"), "open_cmd": ("Open", "Release"),
               "command": ("On", "Off")}


def _bool_labels(name: str) -> tuple[str, str]:
    return BOOL_LABELS.get(name, ("Start", "Stop"))


def result_html(record: Any) -> str:
    """The outcome of one command as the operator sees it."""
    status = STATUS_TEXT.get(record.status, record.status)
    cls = "" if record.status == "done" else ' class="abn"'
    return (f'<div data-command="{escape(record.status)}"><b{cls}>{escape(status)}</b>: '
            f"{escape(record.path)} = {escape(repr(record.new_value))} · {escape(record.message)}</div>")


class Faceplates:
    """The command widgets of one equipment (see the module docstring)."""

    def __init__(self, commands: Any, principal: Any, tags: Any, loops: dict[str, dict]) -> None:
        self.commands = commands
        self.principal = principal
        self.tags = tags
        self.loops = loops
        self.allowed = can_command(principal) and commands is not None

    def for_equipment(self, eq: Any) -> tuple[list[Any], list[Block]]:
        """Widgets and live blocks (loop state) of the faceplates of ``eq``."""
        items: list[Any] = []
        blocks: list[Block] = []
        for path in eq.tags:
            spec = self.tags.spec(path)
            if spec.writable:
                items.append(self._point(path, spec))
        for name, loop in self.loops.items():
            if any(loop.get(k) in eq.tags for k in ("pv", "out", "sp_tag")):
                widgets, block = self._loop(name, loop)
                items.append(widgets)
                blocks.append(block)
        if not items:
            return [], []
        note = [] if self.allowed else [pn.pane.HTML(
            '<i data-viewonly="1">View only: your role may not send commands</i>' if self.commands is not None
            else "<i>Commands are not available (no command path)</i>")]
        return [pn.pane.HTML("<h4>Commands</h4>"), *note, *items], blocks

    # -- one writable point ----------------------------------------------------------------
    def _point(self, path: str, spec: Any) -> pn.Column:
        name = path.rsplit("/", 1)[1]
        out = pn.pane.HTML("", sizing_mode="stretch_width")
        confirm_row = pn.Row(visible=False)
        title = pn.pane.HTML(f"<b>{escape(name)}</b> <small>{escape(spec.description)}</small>")
        if spec.data_type == "bool":
            on, off = _bool_labels(name)
            b_on = pn.widgets.Button(label=on, width=150, disabled=not self.allowed)
            b_off = pn.widgets.Button(label=off, width=150, disabled=not self.allowed)
            b_on.on_click(self._handler(path, lambda: True, out, confirm_row))
            b_off.on_click(self._handler(path, lambda: False, out, confirm_row))
            controls = pn.Row(b_on, b_off)
        else:
            integer = spec.data_type not in ("float32", "float64")
            kw = {"start": spec.eu_lo, "end": spec.eu_hi} if spec.eu_lo is not None and spec.eu_hi is not None else {}
            entry = (pn.widgets.IntInput if integer else pn.widgets.FloatInput)(
                label=f"{name} ({spec.units})" if spec.units else name, width=160, disabled=not self.allowed, **kw)
            current = self.tags.get(path)
            if current.value is not None and current.quality.is_good:
                entry.value = int(current.value) if integer else float(current.value)
            send = pn.widgets.Button(label=f"Set {name}", width=140, disabled=not self.allowed, align="end")
            send.on_click(self._handler(path, lambda: entry.value, out, confirm_row))
            controls = pn.Row(entry, send)
        return pn.Column(title, controls, confirm_row, out, styles={"background": "#e4e4e4"}, margin=(4, 4))

    def _handler(self, path: str, value_of, out: pn.pane.HTML, confirm_row: pn.Row):
        async def handle(_event) -> None:
            await self._send(path, value_of(), out, confirm_row)
        return handle

    async def _send(self, path: str, value: Any, out: pn.pane.HTML, confirm_row: pn.Row) -> None:
        if value is None:
            out.object = '<span class="abn">enter a value first</span>'
            return
        critical = self.commands is not None and hasattr(self.commands, "is_critical") and \
            self.commands.is_critical(path)
        if critical:
            yes = pn.widgets.Button(label="Confirm", color="danger", width=110)
            no = pn.widgets.Button(label="Cancel", width=90)

            async def confirmed(_e):
                confirm_row.visible = False
                await self.execute(path, value, out, confirm=True)

            def cancelled(_e):
                confirm_row.visible = False
                out.object = "<i>cancelled</i>"
            yes.on_click(confirmed)
            no.on_click(cancelled)
            confirm_row[:] = [pn.pane.HTML(f'<b class="abn">Critical command</b>: set {escape(path)} to '
                                           f"{escape(repr(value))}?"), yes, no]
            confirm_row.visible = True
            return
        await self.execute(path, value, out, confirm=False)

    async def execute(self, path: str, value: Any, out: pn.pane.HTML, confirm: bool) -> Any:
        """Run one command and show its result (the record is returned for callers and tests)."""
        if not self.allowed:
            out.object = '<b class="abn">refused</b>: your role may not send commands'
            return None
        out.object = f"<i>sending {escape(path)} = {escape(repr(value))} …</i>"
        try:
            record = await run(self.commands.execute(self.principal, path, value, reason="operator command",
                                                     confirm=confirm, source="hmi"))
        except Exception as exc:  # the command path reports refusals as records; this is a crash
            log.exception("HMI command %s = %r failed", path, value)
            out.object = f'<b class="abn">failed</b>: {escape(type(exc).__name__)}: {escape(str(exc))}'
            return None
        out.object = result_html(record)
        return record

    # -- a PID loop ----------------------------------------------------------------------------
    def _loop(self, name: str, loop: dict) -> tuple[pn.Column, Block]:
        base = f"{LOOP_PREFIX}/{name}"
        paths = [f"{base}/{k}" for k in ("mode", "sp", "pv", "out")]

        def show(v: Values) -> str:
            return r.rows([(k, r.value(f"{base}/{k}", v.shown(f"{base}/{k}", 1))) for k in ("mode", "sp", "pv", "out")])
        block = Block(paths, show)
        out = pn.pane.HTML("", sizing_mode="stretch_width")
        confirm_row = pn.Row(visible=False)
        mode = pn.widgets.RadioButtonGroup(options=["manual", "auto"], value=None, width=180, disabled=not self.allowed)
        output = pn.widgets.FloatInput(label="output (manual)", width=140, start=loop.get("out_min"),
                                       end=loop.get("out_max"), disabled=not self.allowed)
        sp = pn.widgets.FloatInput(label="setpoint", width=140, start=loop.get("sp_min"), end=loop.get("sp_max"),
                                   disabled=not self.allowed)
        set_out = pn.widgets.Button(label="Set output", width=110, disabled=not self.allowed, align="end")
        set_sp = pn.widgets.Button(label="Set setpoint", width=110, disabled=not self.allowed, align="end")
        mode_handler = self._handler(f"{base}/mode", lambda: mode.value, out, confirm_row)

        async def mode_changed(event) -> None:
            if event.new:
                await mode_handler(event)
        mode.param.watch(mode_changed, "value")
        set_out.on_click(self._handler(f"{base}/out", lambda: output.value, out, confirm_row))
        set_sp.on_click(self._handler(f"{base}/sp", lambda: sp.value, out, confirm_row))
        title = f"<b>Loop {escape(name)}</b> <small>{escape(loop.get('description') or '')}</small>"
        col = pn.Column(pn.pane.HTML(title),
                        block.pane, pn.Row(pn.pane.HTML("mode"), mode), pn.Row(output, set_out), pn.Row(sp, set_sp),
                        confirm_row, out, styles={"background": "#e4e4e4"}, margin=(4, 4))
        return col, block
