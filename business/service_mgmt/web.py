"""Manager web views of service management (tabs of the business Panel app): the work-order
board (by state and building, overdue first), an order's detail with its timeline, the PM
calendar and compliance, and the SLA and rating dashboard.

Labels are Chinese or English like the rest of the app (own small catalogue here).
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pandas as pd
import panel as pn

from . import pm, ratings

LABELS: dict[str, tuple[str, str]] = {
    "tab.board": ("工单看板", "Work orders"),
    "tab.detail": ("工单详情", "Order detail"),
    "tab.pm": ("预防性维护", "Preventive maintenance"),
    "tab.sla": ("服务质量", "SLA and ratings"),
    "state": ("状态", "State"),
    "overdue_only": ("只看超时", "Overdue only"),
    "order_id": ("工单号 (ID)", "Order id"),
    "by_state": ("按状态", "By state"),
    "timeline": ("处理记录", "Timeline"),
    "compliance": ("计划完成率", "Compliance"),
    "calendar": ("维护日历 (前7天至后28天)", "Calendar (7 days back, 28 ahead)"),
    "figures": ("员工服务指标 (近30天)", "Staff figures (last 30 days)"),
    "none": ("无", "none"),
}
STATES = ("new", "assigned", "accepted", "in_progress", "on_hold", "completed", "verified", "closed", "rejected",
          "cancelled")


def tr(key: str, lang: str) -> str:
    """A label in the session's language."""
    zh, en = LABELS.get(key, (key, key))
    return zh if lang == "zh" else en


async def _run(svc, fn):
    d = svc.orders.db.run_raw(svc.orders._retrying, fn)
    result = await d.asFuture(asyncio.get_running_loop())
    return result[0]


def _table() -> pn.widgets.Tabulator:
    return pn.widgets.Tabulator(pd.DataFrame(), disabled=True, pagination="local", page_size=25, show_index=False,
                                sizing_mode="stretch_width")


def board_view(svc, principal, lang: str) -> pn.Column:
    """Open orders, overdue first, filtered by state and overdue; counts by state."""
    state = pn.widgets.MultiChoice(label=tr("state", lang), options=list(STATES),
                                   value=["new", "assigned", "accepted", "in_progress", "on_hold", "completed"])
    overdue = pn.widgets.Checkbox(label=tr("overdue_only", lang))
    counts = pn.pane.Markdown("")
    grid = _table()
    cols = ("number", "overdue", "priority", "state", "kind", "building_id", "equipment_id", "title",
            "assignee_staff_id", "response_due", "completion_due", "source")

    async def refresh(*_):
        params = {"state": ",".join(state.value)} if state.value else {}
        if overdue.value:
            params["overdue"] = "1"
        listing = await _run(svc, lambda s: svc.orders.list_tx(s, principal, params))
        every = await _run(svc, lambda s: svc.orders.list_tx(s, principal, {}))
        by = {}
        for o in every["items"]:
            by[o["state"]] = by.get(o["state"], 0) + 1
        counts.object = f"**{tr('by_state', lang)}**: " + (" · ".join(f"{k} {v}" for k, v in by.items())
                                                            or tr("none", lang))
        grid.value = pd.DataFrame([[o.get(c) for c in cols] for o in listing["items"]], columns=list(cols))
    state.param.watch(lambda e: asyncio.ensure_future(refresh()), "value")
    overdue.param.watch(lambda e: asyncio.ensure_future(refresh()), "value")
    pn.state.onload(refresh) if pn.state.curdoc else None
    return pn.Column(pn.Row(state, overdue), counts, grid, sizing_mode="stretch_width")


def detail_view(svc, principal, lang: str) -> pn.Column:
    """One order: its fields and its timeline (who, when, what, comment)."""
    ident = pn.widgets.IntInput(label=tr("order_id", lang), value=0, width=160)
    info = pn.pane.Markdown("")
    grid = _table()

    async def show(event):
        if not event.new:
            return
        try:
            o = await _run(svc, lambda s: svc.orders.get_tx(s, principal, event.new))
        except Exception as exc:   # not found / forbidden: say so in the view
            info.object = f"✖ {getattr(exc, 'message', exc)}"
            return
        rating = f"{o['rating']['score']}/5 {o['rating']['comment']}" if o["rating"] else "—"
        info.object = (f"**{o['number']}** {o['title']} · {o['state']} · {o['priority']} · {o['kind']} · "
                       f"reopened {o['reopen_count']} · cost {o['costs']['total']} · rating {rating}"
                       + (f" · alarms {', '.join(o['alarm_ids'])}" if o["alarm_ids"] else ""))
        keys = ("at", "actor", "action", "from", "to", "comment")
        grid.value = pd.DataFrame([[e[k] for k in keys] for e in o["timeline"]], columns=list(keys))
    ident.param.watch(lambda e: asyncio.ensure_future(show(e)), "value")
    return pn.Column(ident, info, pn.pane.Markdown(f"### {tr('timeline', lang)}"), grid, sizing_mode="stretch_width")


def pm_view(svc, principal, lang: str) -> pn.Column:
    """Plan orders from a week ago to four weeks ahead (overdue flagged) and the compliance report."""
    cal, comp = _table(), _table()

    async def load():
        now = svc.api.clock()
        view = await _run(svc, lambda s: (pm.calendar_view(s, now - timedelta(days=7), now + timedelta(days=28),
                                                           now), []))
        keys = ("due", "number", "title", "state", "overdue", "assignee_staff_id")
        cal.value = pd.DataFrame([[r[k] for k in keys] for r in view["orders"]], columns=list(keys))
        rows = await _run(svc, lambda s: (pm.compliance(s, now - timedelta(days=90), now + timedelta(days=1), now),
                                          []))
        keys = ("building", "category", "planned", "on_time", "late", "overdue", "open", "compliance_pct")
        comp.value = pd.DataFrame([[r[k] for k in keys] for r in rows], columns=list(keys))
    pn.state.onload(load) if pn.state.curdoc else None
    return pn.Column(pn.pane.Markdown(f"### {tr('calendar', lang)}"), cal,
                     pn.pane.Markdown(f"### {tr('compliance', lang)}"), comp, sizing_mode="stretch_width")


def sla_view(svc, principal, lang: str) -> pn.Column:
    """Per staff member: completed, average rating, response and completion SLA compliance."""
    grid = _table()

    async def load():
        now = svc.api.clock()
        rows = await _run(svc, lambda s: (ratings.staff_figures(s, now - timedelta(days=30), now), []))
        keys = ("employee_no", "name", "completed", "ratings", "average_rating", "response_sla_pct",
                "completion_sla_pct", "reopened")
        grid.value = pd.DataFrame([[r[k] for k in keys] for r in rows], columns=list(keys))
    pn.state.onload(load) if pn.state.curdoc else None
    return pn.Column(pn.pane.Markdown(f"### {tr('figures', lang)}"), grid, sizing_mode="stretch_width")


def service_tabs(api: Any, principal, lang: str) -> list[tuple[str, Any]]:
    """The tabs for the business app (none when service management is off or the user lacks access)."""
    from ..permissions import visibility
    from .access import staff_vis

    ctx = getattr(api, "ctx", None)
    svc = (getattr(ctx, "provides", None) or {}).get("service_mgmt")
    if svc is None or staff_vis(principal, "workorders.read").nothing:   # residents use the portal/REST
        return []
    tabs = [(tr("tab.board", lang), board_view(svc, principal, lang)),
            (tr("tab.detail", lang), detail_view(svc, principal, lang))]
    if not visibility(principal, "pm.read").nothing:
        tabs.append((tr("tab.pm", lang), pm_view(svc, principal, lang)))
    if not visibility(principal, "workorders.write").nothing:
        tabs.append((tr("tab.sla", lang), sla_view(svc, principal, lang)))
    return tabs
