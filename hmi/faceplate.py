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
from .i18n import tr
from .live import Block, Values

log = logging.getLogger(__name__)

LOOP_PREFIX = "_system/control/loops"
STATUS_TEXT = {"done": "confirmed", "refused": "refused", "failed": "failed",
               "confirmation_required": "needs confirmation"}
# point name -> text keys of its (True, False) buttons
BOOL_LABELS = {"in_service": ("f.return_to_service", "f.take_out_of_service"), "open_cmd": ("f.open", "f.release"),
               "command": ("f.on", "f.off")}
LOOP_ROWS = ("mode", "status", "sp", "pv", "out", "interlock")
#: What control/loops.py publishes as a loop's status: shown in the operator's words.
LOOP_STATUSES = ("starting", "waiting", "ok", "manual", "tracking", "tracking_slave", "bad_sp", "bad_pv",
                 "interlocked")
ABNORMAL_STATUSES = ("bad_sp", "bad_pv", "interlocked")


def _bool_labels(name: str) -> tuple[str, str]:
    return BOOL_LABELS.get(name, ("f.start", "f.stop"))


def result_html(record: Any, lang: str = "en") -> str:
    """The outcome of one command as the operator sees it (the command path's message as it reports it)."""
    status = tr(lang, f"f.{record.status}") if record.status in STATUS_TEXT else record.status
    cls = "" if record.status == "done" else ' class="abn"'
    return (f'<div data-command="{escape(record.status)}"><b{cls}>{escape(status)}</b>{tr(lang, "colon")}'
            f"{escape(record.path)} = {escape(repr(record.new_value))} · {escape(record.message)}</div>")


class Faceplates:
    """The command widgets of one equipment (see the module docstring)."""

    def __init__(self, commands: Any, principal: Any, tags: Any, loops: dict[str, dict], lang: str = "en") -> None:
        self.commands = commands
        self.principal = principal
        self.tags = tags
        self.loops = loops
        self.lang = lang
        self.allowed = can_command(principal) and commands is not None

    def t(self, key: str, **fields) -> str:
        """The text of ``key`` in the session's language."""
        return tr(self.lang, key, **fields)

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
            f'<i data-viewonly="1">{self.t("f.view_only")}</i>' if self.commands is not None
            else f"<i>{self.t('f.no_commands')}</i>")]
        return [pn.pane.HTML(f"<h4>{self.t('f.commands')}</h4>"), *note, *items], blocks

    # -- one writable point ----------------------------------------------------------------
    def _point(self, path: str, spec: Any) -> pn.Column:
        name = path.rsplit("/", 1)[1]
        out = pn.pane.HTML("", sizing_mode="stretch_width")
        confirm_row = pn.Row(visible=False)
        title = pn.pane.HTML(f"<b>{escape(name)}</b> <small>{escape(spec.description)}</small>")
        if spec.data_type == "bool":
            on, off = _bool_labels(name)
            b_on = pn.widgets.Button(label=self.t(on), width=150, disabled=not self.allowed)
            b_off = pn.widgets.Button(label=self.t(off), width=150, disabled=not self.allowed)
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
            send = pn.widgets.Button(label=self.t("f.set", name=name), width=140, disabled=not self.allowed,
                                     align="end")
            send.on_click(self._handler(path, lambda: entry.value, out, confirm_row))
            controls = pn.Row(entry, send)
        return pn.Column(title, controls, confirm_row, out, styles={"background": "#e4e4e4"}, margin=(4, 4))

    def _handler(self, path: str, value_of, out: pn.pane.HTML, confirm_row: pn.Row):
        async def handle(_event) -> None:
            await self._send(path, value_of(), out, confirm_row)
        return handle

    async def _send(self, path: str, value: Any, out: pn.pane.HTML, confirm_row: pn.Row) -> None:
        if value is None:
            out.object = f'<span class="abn">{self.t("f.enter_value")}</span>'
            return
        critical = self.commands is not None and hasattr(self.commands, "is_critical") and \
            self.commands.is_critical(path)
        if critical:
            yes = pn.widgets.Button(label=self.t("f.confirm"), color="danger", width=110)
            no = pn.widgets.Button(label=self.t("f.cancel"), width=90)

            async def confirmed(_e):
                confirm_row.visible = False
                await self.execute(path, value, out, confirm=True)

            def cancelled(_e):
                confirm_row.visible = False
                out.object = f"<i>{self.t('f.cancelled')}</i>"
            yes.on_click(confirmed)
            no.on_click(cancelled)
            question = self.t("f.critical_q", path=path, value=repr(value))
            ask = f'<b class="abn">{self.t("f.critical")}</b>{self.t("colon")}{escape(question)}'
            confirm_row[:] = [pn.pane.HTML(ask), yes, no]
            confirm_row.visible = True
            return
        await self.execute(path, value, out, confirm=False)

    async def execute(self, path: str, value: Any, out: pn.pane.HTML, confirm: bool) -> Any:
        """Run one command and show its result (the record is returned for callers and tests)."""
        if not self.allowed:
            out.object = f'<b class="abn">{self.t("f.refused")}</b>{self.t("colon")}{self.t("f.not_allowed")}'
            return None
        out.object = f"<i>{escape(self.t('f.sending', path=path, value=repr(value)))}</i>"
        try:
            record = await run(self.commands.execute(self.principal, path, value, reason="operator command",
                                                     confirm=confirm, source="hmi"))
        except Exception as exc:  # the command path reports refusals as records; this is a crash
            log.exception("HMI command %s = %r failed", path, value)
            out.object = (f'<b class="abn">{self.t("f.failed")}</b>{self.t("colon")}'
                          f"{escape(type(exc).__name__)}: {escape(str(exc))}")
            return None
        out.object = result_html(record, self.lang)
        return record

    # -- a PID loop ----------------------------------------------------------------------------
    def _loop(self, name: str, loop: dict) -> tuple[pn.Column, Block]:
        base = f"{LOOP_PREFIX}/{name}"
        paths = [f"{base}/{k}" for k in LOOP_ROWS]

        labels = {"mode": {m: self.t(f"f.{m}") for m in ("manual", "auto")},
                  "status": {st: self.t(f"f.st.{st}") for st in LOOP_STATUSES}}

        def show(v: Values) -> str:
            # An operator must see why a loop is not controlling: an interlock holding its
            # output or a Bad PV is marked abnormal next to the interlock's own message.
            status = v.good(f"{base}/status")
            return r.rows([(self.t(f"f.{k}"), r.value(f"{base}/{k}", v.shown(f"{base}/{k}", 1, labels.get(k)),
                                                      "abn" if k == "status" and status in ABNORMAL_STATUSES else "",
                                                      lang=self.lang)) for k in LOOP_ROWS])
        block = Block(paths, show)
        out = pn.pane.HTML("", sizing_mode="stretch_width")
        confirm_row = pn.Row(visible=False)
        # {shown text: value}: the loop's mode tag takes "manual"/"auto" whatever the operator's language.
        mode = pn.widgets.RadioButtonGroup(options={self.t("f.manual"): "manual", self.t("f.auto"): "auto"},
                                           value=None, width=180, disabled=not self.allowed)
        output = pn.widgets.FloatInput(label=self.t("f.output_manual"), width=140, start=loop.get("out_min"),
                                       end=loop.get("out_max"), disabled=not self.allowed)
        sp = pn.widgets.FloatInput(label=self.t("f.setpoint"), width=140, start=loop.get("sp_min"),
                                   end=loop.get("sp_max"), disabled=not self.allowed)
        set_out = pn.widgets.Button(label=self.t("f.set_output"), width=110, disabled=not self.allowed, align="end")
        set_sp = pn.widgets.Button(label=self.t("f.set_setpoint"), width=110, disabled=not self.allowed, align="end")
        mode_handler = self._handler(f"{base}/mode", lambda: mode.value, out, confirm_row)

        async def mode_changed(event) -> None:
            if event.new:
                await mode_handler(event)
        mode.param.watch(mode_changed, "value")
        set_out.on_click(self._handler(f"{base}/out", lambda: output.value, out, confirm_row))
        set_sp.on_click(self._handler(f"{base}/sp", lambda: sp.value, out, confirm_row))
        title = f"<b>{escape(self.t('f.loop', name=name))}</b> <small>{escape(loop.get('description') or '')}</small>"
        col = pn.Column(pn.pane.HTML(title), block.pane, pn.Row(pn.pane.HTML(self.t("f.mode")), mode),
                        pn.Row(output, set_out), pn.Row(sp, set_sp),
                        confirm_row, out, styles={"background": "#e4e4e4"}, margin=(4, 4))
        return col, block
