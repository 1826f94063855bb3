"""Finance tabs of the business Panel app: billing run preview and posting, arrears, collection
dashboard with a chart, budget vs actual, and the three statements (printable HTML).

Shown to users holding ``finance.read`` on the property; posting needs ``finance.write``.
Labels in Chinese or English like the rest of the app.
"""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any

import pandas as pd
import panel as pn
from twisted.internet.defer import Deferred

from ..permissions import visibility
from . import budgets, statements
from .export import to_html

LABELS: dict[str, tuple[str, str]] = {
    "tab.billing": ("账单生成", "Billing run"), "tab.arrears": ("欠费", "Arrears"),
    "tab.collection": ("收缴率", "Collection"), "tab.budget": ("预算执行", "Budget vs actual"),
    "tab.statements": ("财务报表", "Statements"), "period": ("账期 (YYYY-MM)", "Period (YYYY-MM)"),
    "preview": ("预览", "Preview"), "post": ("生成并入账", "Post"), "load": ("查询", "Show"),
    "from": ("开始日期", "From"), "to": ("结束日期", "To"), "year": ("年度", "Year"), "month": ("月份 (0=全年)", "Month (0 = year)"),
    "statement": ("报表", "Statement"), "held": ("待复核", "held for review"),
}
KINDS = ("balance_sheet", "income_statement", "cash_flow", "trial_balance", "ageing")


def tr(key: str, lang: str) -> str:
    """A label in the session's language."""
    zh, en = LABELS.get(key, (key, key))
    return zh if lang == "zh" else en


async def _await(d):
    return await d.asFuture(asyncio.get_running_loop())


def _allowed(principal, app, perm: str) -> bool:
    vis = visibility(principal, perm)
    return vis.everywhere or app.property_code in vis.properties


def _table(df: pd.DataFrame | None = None) -> pn.widgets.Tabulator:
    return pn.widgets.Tabulator(df if df is not None else pd.DataFrame(), disabled=True, pagination="local",
                                page_size=25, show_index=False, sizing_mode="stretch_width")


def _last_month(app) -> str:
    first = app.today().replace(day=1)
    prev = first - timedelta(days=1)
    return f"{prev:%Y-%m}"


def billing_view(api, app, principal, lang: str) -> pn.Column:
    """Preview a period's bills, then post them (idempotent)."""
    period = pn.widgets.TextInput(label=tr("period", lang), value=_last_month(app), width=160)
    preview = pn.widgets.Button(label=tr("preview", lang), width=100)
    post = pn.widgets.Button(label=tr("post", lang), color="primary", width=140,
                             disabled=not _allowed(principal, app, "finance.write"))
    summary, grid = pn.pane.Markdown(""), _table()

    async def run(posting: bool):
        try:
            out = await _await(Deferred.fromCoroutine(app.billing_run(period.value, not posting, principal.user)))
        except Exception as exc:   # shown to the user; the REST API reports the same errors
            summary.object = f"**{getattr(exc, 'message', exc)}**"
            return
        s = out["summary"] if out["preview"] else out["run"]["summary"]
        summary.object = (f"{s['period']}: {s['bills']} bills, {s['lines']} lines, total **{s['total']}**, "
                          f"{len(s['held'])} {tr('held', lang)}; already billed {s['skipped_already_billed']}"
                          + ("" if out["preview"] else f"; posted {s.get('posted_bills', 0)}"))
        rows = out.get("bills") or []
        grid.value = pd.DataFrame([{"subject": b["subject"], "total": b["total"],
                                    "held": sum(1 for ln in b["lines"] if ln["held"]),
                                    "lines": "; ".join(f"{ln['fee_code']} {ln['amount']}" for ln in b["lines"])}
                                   for b in rows])
    preview.on_click(lambda _: asyncio.ensure_future(run(False)))
    post.on_click(lambda _: asyncio.ensure_future(run(True)))
    return pn.Column(pn.Row(period, preview, post), summary, grid, sizing_mode="stretch_width")


def arrears_view(api, app, principal, lang: str) -> pn.Column:
    """Receivables ageing per building and the overdue bills."""
    grid, bills_grid = _table(), _table()

    def query(s):
        from .bills import open_lines
        pid = app.prepare(s)
        today = app.today()
        ag = statements.public(statements.ageing(s, today, pid))
        overdue: dict[int, dict] = {}
        for _line, bill, open_fen in open_lines(s, property_id=pid):
            if bill.due_on < today:
                row = overdue.setdefault(bill.id, {"bill_no": bill.bill_no, "period": bill.period,
                                                   "unit_id": bill.unit_id, "due_on": bill.due_on.isoformat(),
                                                   "days": (today - bill.due_on).days, "open_fen": 0})
                row["open_fen"] += open_fen
        from .money import yuan
        rows = sorted(overdue.values(), key=lambda r: -r["days"])
        for r in rows:
            r["open"] = yuan(r.pop("open_fen"))
        return ag, rows

    async def load():
        ag, rows = await _await(api.db.run(query))
        grid.value = pd.DataFrame(ag["buildings"] + [{"building_id": "total", **ag["total"]}])
        bills_grid.value = pd.DataFrame(rows)
    if pn.state.curdoc:
        pn.state.onload(load)
    return pn.Column(grid, bills_grid, sizing_mode="stretch_width")


def collection_view(api, app, principal, lang: str) -> pn.Column:
    """Collection rate per fee item and building for a period, with a bar chart."""
    period = pn.widgets.TextInput(label=tr("period", lang), value=_last_month(app), width=160)
    button = pn.widgets.Button(label=tr("load", lang), width=100)
    grid, chart = _table(), pn.pane.Bokeh(None, sizing_mode="stretch_width")

    async def load(_=None):
        st = await _await(api.db.run(lambda s: statements.collection(s, [period.value], app.prepare(s))))
        df = pd.DataFrame(st["rows"])
        grid.value = df
        if not df.empty:
            from bokeh.plotting import figure
            by_fee = df.assign(b=df.billed.astype(float), c=df.collected.astype(float)).groupby("fee_code")[["b", "c"]].sum()
            fig = figure(x_range=list(by_fee.index), height=260, title="%", sizing_mode="stretch_width")
            fig.vbar(x=list(by_fee.index), top=list((by_fee.c / by_fee.b * 100).round(1)), width=0.6)
            chart.object = fig
    button.on_click(lambda _: asyncio.ensure_future(load()))
    return pn.Column(pn.Row(period, button), chart, grid, sizing_mode="stretch_width")


def budget_view(api, app, principal, lang: str) -> pn.Column:
    """Budget vs actual with variance; lines over the alert threshold first."""
    year = pn.widgets.IntInput(label=tr("year", lang), value=app.today().year, width=120)
    month = pn.widgets.IntInput(label=tr("month", lang), value=0, start=0, end=12, width=120)
    button = pn.widgets.Button(label=tr("load", lang), width=100)
    grid = _table()

    async def load(_=None):
        ex = await _await(api.db.run(lambda s: budgets.execution(
            s, app.prepare(s), year.value, month=month.value or None,
            alert_pct=int(app.section.get("budget_alert_pct") or 90))))
        grid.value = pd.DataFrame(sorted(ex["rows"], key=lambda r: not r["alert"]))
    button.on_click(lambda _: asyncio.ensure_future(load()))
    return pn.Column(pn.Row(year, month, button), grid, sizing_mode="stretch_width")


def statements_view(api, app, principal, lang: str) -> pn.Column:
    """The statements as the printable page (same HTML as ``?format=html``)."""
    kind = pn.widgets.Select(label=tr("statement", lang), options=list(KINDS), width=200)
    today = app.today()
    start = pn.widgets.DatePicker(label=tr("from", lang), value=date(today.year, 1, 1), width=160)
    end = pn.widgets.DatePicker(label=tr("to", lang), value=today, width=160)
    button = pn.widgets.Button(label=tr("load", lang), width=100)
    page = pn.pane.HTML("", sizing_mode="stretch_width")

    def query(s):
        pid = app.prepare(s)
        k = kind.value
        if k in ("balance_sheet", "ageing"):
            return getattr(statements, k)(s, end.value, pid)
        return getattr(statements, k)(s, start.value, end.value, pid)

    async def load(_=None):
        page.object = to_html(await _await(api.db.run(query)))
    button.on_click(lambda _: asyncio.ensure_future(load()))
    return pn.Column(pn.Row(kind, start, end, button), page, sizing_mode="stretch_width")


def finance_tabs(api: Any, principal, lang: str) -> list[tuple[str, Any]]:
    """The finance tabs (none when finance is off or the user lacks finance.read on the property)."""
    ctx = getattr(api, "ctx", None)
    app = (getattr(ctx, "provides", None) or {}).get("finance")
    if app is None or not _allowed(principal, app, "finance.read"):
        return []
    return [(tr("tab.billing", lang), billing_view(api, app, principal, lang)),
            (tr("tab.arrears", lang), arrears_view(api, app, principal, lang)),
            (tr("tab.collection", lang), collection_view(api, app, principal, lang)),
            (tr("tab.budget", lang), budget_view(api, app, principal, lang)),
            (tr("tab.statements", lang), statements_view(api, app, principal, lang))]
