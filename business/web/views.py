"""Panel layouts of the manager views: tables with search, forms with validation, live asset values.

Each ``*_view`` function returns a Panel layout for one principal and language.
Database work runs on the business worker pool; Panel callbacks run on the
shared asyncio loop and await the Deferreds as futures.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pandas as pd
import panel as pn

from ..asset_live import live_view
from ..service_mgmt.web import service_tabs  # work orders, PM, SLA (issue 9)
from ..finance.web import finance_tabs  # billing, arrears, collection, budgets, statements (issue 10)
from . import data
from .i18n import column_label, t


async def run(api, fn, *args):
    """Run ``fn(session, *args)`` on the worker pool and await it from asyncio."""
    return await api.db.run(fn, *args).asFuture(asyncio.get_running_loop())


def _frame(result: dict) -> pd.DataFrame:
    return pd.DataFrame(result["rows"], columns=result["columns"])


def searchable_table(api, principal, collection: str, lang: str, filters_widget=None) -> pn.Column:
    """A search box and a table of one collection, refreshed on every search."""
    search = pn.widgets.TextInput(label=t("search", lang), placeholder=t("search", lang) + "…", width=260)
    grid = pn.widgets.Tabulator(pd.DataFrame(), pagination="local", page_size=20, disabled=True,
                                show_index=False, sizing_mode="stretch_width")
    note = pn.pane.Markdown("")

    async def refresh(*_):
        filters = {}
        if filters_widget is not None and filters_widget.value:
            filters["building_id"] = str(filters_widget.value)
        result = await run(api, data.table, api.crud, principal, collection, lang, search.value, filters)
        grid.value = _frame(result)
        note.object = t("forbidden", lang) if result["error"] else t("total", lang).format(n=result["total"])

    search.param.watch(lambda e: asyncio.ensure_future(refresh()), "value")
    if filters_widget is not None:
        filters_widget.param.watch(lambda e: asyncio.ensure_future(refresh()), "value")
    pn.state.onload(refresh) if pn.state.curdoc else None
    row = pn.Row(search, filters_widget) if filters_widget is not None else pn.Row(search)
    col = pn.Column(row, note, grid, sizing_mode="stretch_width")
    col.refresh = refresh
    return col


def record_form(api, principal, collection: str, lang: str, fixed: dict | None = None,
                on_saved=None) -> pn.Card:
    """A form for a new record; field errors from validation are shown next to each field."""
    inputs = {name: pn.widgets.TextInput(label=column_label(name, lang)) for name in data.FORMS[collection]
              if name not in (fixed or {})}
    errors = {name: pn.pane.Markdown("", styles={"color": "#b00"}) for name in inputs}
    status = pn.pane.Markdown("")
    button = pn.widgets.Button(label=t("save", lang), color="primary")

    async def save(_):
        values = {**(fixed or {}), **{k: w.value for k, w in inputs.items()}}
        result = await run(api, data.submit, api.crud, principal, collection, values)
        for name, pane in errors.items():
            pane.object = result.get("fields", {}).get(name, "")
        if result["ok"]:
            status.object = f"✔ {t('saved', lang)} #{result['record']['id']}"
            for w in inputs.values():
                w.value = ""
            if on_saved is not None:
                await on_saved()
        else:
            status.object = f"✖ {t('invalid', lang) if result['code'] == 'validation_error' else result['message']}"
    button.on_click(save)
    body = [pn.Column(w, errors[k]) for k, w in inputs.items()]
    return pn.Card(*body, button, status, title=t(f"new.{'unit' if collection == 'units' else 'person'}", lang),
                   collapsed=True)


def units_view(api, principal, lang: str, buildings: dict[str, int]) -> pn.Column:
    """Buildings and units with a building filter, search and a new-unit form."""
    pick = pn.widgets.Select(label=t("building", lang), options={t("all", lang): 0, **buildings}, width=220)
    units = searchable_table(api, principal, "units", lang, pick)
    return pn.Column(units, record_form(api, principal, "units", lang, on_saved=units.refresh),
                     sizing_mode="stretch_width")


def people_view(api, principal, lang: str, property_id: int | None) -> pn.Column:
    """Residents and contacts with search and a new-person form."""
    people = searchable_table(api, principal, "people", lang)
    fixed = {"property_id": property_id} if property_id else None
    return pn.Column(people, record_form(api, principal, "people", lang, fixed, on_saved=people.refresh),
                     sizing_mode="stretch_width")


def staff_view(api, principal, lang: str) -> pn.Column:
    """Staff table and the last week's attendance (lateness, absence)."""
    staff = searchable_table(api, principal, "staff", lang)
    grid = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, pagination="local", page_size=20,
                                show_index=False, sizing_mode="stretch_width")
    keys = ("day", "employee_no", "name", "shift", "status", "late_minutes", "early_leave_minutes")

    async def load():
        rows = await run(api, data.attendance_rows, api.crud, principal, api.clock())
        grid.value = pd.DataFrame([[r[k] for k in keys] for r in rows], columns=[column_label(k, lang) for k in keys])
    pn.state.onload(load) if pn.state.curdoc else None
    return pn.Column(staff, pn.pane.Markdown(f"### {t('attendance', lang)}"), grid, sizing_mode="stretch_width")


def assets_view(api, principal, lang: str) -> pn.Column:
    """The equipment ledger, and the live values of one asset."""
    assets = searchable_table(api, principal, "assets", lang)
    ident = pn.widgets.IntInput(label=t("col.id", lang), value=0, width=140)
    live = pn.widgets.Tabulator(pd.DataFrame(), disabled=True, show_index=False, sizing_mode="stretch_width")
    info = pn.pane.Markdown(t("asset.pick", lang))

    async def show(event):
        if not event.new:
            return
        try:
            asset = await run(api, api.crud.get, principal, "assets", event.new)
        except Exception as exc:   # not found / forbidden: say so in the view
            info.object = f"✖ {getattr(exc, 'message', exc)}"
            return
        view = live_view(api.ctx, asset)
        alarms = "; ".join(f"{a['priority']}: {a['message'] or a['id']}" for a in view["alarms"]) or "—"
        info.object = (f"**{asset['name']}** · {asset.get('equipment_id') or '—'} · "
                       f"{t('run_hours', lang)}: {view['run_hours'] if view['run_hours'] is not None else '—'} · "
                       f"{t('alarms', lang)}: {alarms}")
        live.value = pd.DataFrame([[v["path"], v["value"], v["good"]] for v in view["values"]],
                                  columns=[column_label(k, lang) for k in ("path", "value", "good")])
    ident.param.watch(lambda e: asyncio.ensure_future(show(e)), "value")
    return pn.Column(assets, pn.pane.Markdown(f"### {t('live', lang)}"), ident, info, live,
                     sizing_mode="stretch_width")


def main_view(api, principal, lang: str, buildings: dict[str, int], property_id: int | None) -> Any:
    """All tabs for a signed-in user."""
    return pn.Tabs((t("tab.units", lang), units_view(api, principal, lang, buildings)),
                   (t("tab.people", lang), people_view(api, principal, lang, property_id)),
                   (t("tab.staff", lang), staff_view(api, principal, lang)),
                   (t("tab.assets", lang), assets_view(api, principal, lang)),
                   *service_tabs(api, principal, lang), *finance_tabs(api, principal, lang), dynamic=True)
