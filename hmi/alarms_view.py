"""Alarm banner (every page), alarm counts and the alarm summary with acknowledge, shelve and unshelve.

The alarm engine (``ctx.provides["alarms"]``) is the source of truth; a
session marks its alarm displays dirty on every ``AlarmTransition`` published
on the event bus and redraws them on its next refresh tick.
Operator actions go to the engine with the signed-in user and a comment,
so the journal records who did what and why. Unshelving needs the same
permission as shelving (``alarms.shelve``, as in the REST API).

Work orders: when the work-order module publishes
``ctx.provides["alarm_work_orders"]`` (a callable ``alarm_id -> dict | None``
with ``number`` and ``url``), the summary shows each alarm's work order.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from html import escape
from typing import Any, Callable

import pandas as pd
import panel as pn

from . import render as r
from .auth import ACK, SHELVE
from .i18n import optional, tr

log = logging.getLogger(__name__)

DEFAULT_PRIORITIES = {"critical": 1, "high": 2, "medium": 3, "low": 4}
STATE_NAMES = {"unack_active": "Active, unacknowledged", "ack_active": "Active, acknowledged",
               "rtn_unack": "Cleared, unacknowledged", "latched": "Latched", "shelved": "Shelved",
               "suppressed": "Suppressed", "out_of_service": "Out of service", "normal": "Normal"}
SHELVE_CHOICES = {"15 min": 900.0, "1 h": 3600.0, "8 h": 8 * 3600.0, "24 h": 86400.0}
# action -> (permission, past tense for the result line)
ACTIONS = {"ack": (ACK, "acknowledged"), "shelve": (SHELVE, "shelved"), "unshelve": (SHELVE, "unshelved")}
SHELVE_COLUMNS = ["shelved by", "shelved until", "shelve reason"]
COLUMNS = ["id", "time", "priority", "rank", "state", "building", "area", "equipment", "message", "value",
           "work order", *SHELVE_COLUMNS]
# State filters whose rows can be shelved: only these show the shelving columns (calm grid otherwise).
SHELVE_STATES = ("shelved", "all")


class AlarmSource:
    """Reads alarms from the engine in operator order (priority, then newest first)."""

    def __init__(self, engine: Any, site: Any, work_orders: Callable[[str], Any] | None = None) -> None:
        self.engine = engine
        section = site.section("alarms") or {}
        self.rank = dict(section.get("priorities") or DEFAULT_PRIORITIES)
        self.work_orders = work_orders

    @property
    def available(self) -> bool:
        """False when the site runs without alarms."""
        return self.engine is not None

    def priorities(self) -> list[str]:
        """Priority names, most urgent first."""
        return sorted(self.rank, key=lambda p: self.rank[p])

    def active(self, states=None, building: str | None = None, equipment: str | None = None) -> list:
        """Annunciated alarms (or those in ``states``), most urgent and newest first."""
        if self.engine is None:
            return []
        recs = self.engine.select(states=states, equipment=equipment)
        if building is not None:
            recs = [x for x in recs if x.definition.building == building]
        return sorted(recs, key=lambda x: (self.rank.get(x.definition.priority, 99), -(x.since or 0)))

    def counts(self, building: str | None = None) -> dict[str, int]:
        """Annunciated alarms per priority."""
        out = {p: 0 for p in self.priorities()}
        for rec in self.active(building=building):
            out[rec.definition.priority] = out.get(rec.definition.priority, 0) + 1
        return out

    def every(self) -> list:
        """Every alarm that is not normal (for the summary with a state filter)."""
        if self.engine is None:
            return []
        return self.active(states=[s for s in _states() if s.value != "normal"])


def _states():
    from alarms.events import AlarmState
    return list(AlarmState)


def state_name(state: str, lang: str = "en") -> str:
    """An alarm state as the operator reads it, in ``lang`` (an unknown state as is)."""
    return tr(lang, f"st.{state}") if state in STATE_NAMES else state


def priority_name(priority: str, lang: str = "en") -> str:
    """A priority name in ``lang`` (the standard ones translated, site-configured ones as is)."""
    return optional(lang, "prio", priority)


def counts_html(src: AlarmSource, building: str | None = None, lang: str = "en") -> str:
    """Alarm counts by priority (grey zero, priority colour when any)."""
    if not src.available:
        return f'<span class="none">{tr(lang, "a.not_configured")}</span>'
    parts = []
    for p, n in src.counts(building).items():
        if n:
            parts.append(f'{r.priority(p, lang)} <b data-count="{escape(p)}">{n}</b>')
        else:
            parts.append(f'<span style="color:#666">{escape(priority_name(p, lang))} '
                         f'<span data-count="{escape(p)}">0</span></span>')
    return " &nbsp; ".join(parts)


def banner_html(src: AlarmSource, size: int, lang: str = "en") -> str:
    """The newest highest-priority alarms, on every page."""
    if not src.available:
        return f'<div class="banner"><span class="none">{tr(lang, "a.banner_not_configured")}</span></div>'
    recs = src.active()
    unacked = sum(1 for x in recs if x.state.value in ("unack_active", "rtn_unack"))
    if not recs:
        return f'<div class="banner hmi" data-banner="1"><span class="none">{tr(lang, "a.none_active")}</span></div>'
    lines = []
    for rec in recs[:size]:
        d = rec.definition
        when = datetime.fromtimestamp(rec.since, timezone.utc).strftime("%H:%M:%S") if rec.since else ""
        lines.append(f'<div data-alarm="{escape(d.id)}">{r.priority(d.priority, lang)} {escape(when)} '
                     f'<b>{escape(_message(rec))}</b> '
                     f'<i>{escape(state_name(rec.state.value, lang))}</i>'
                     "</div>")
    more = f"<div>{tr(lang, 'a.more', n=len(recs) - size)}</div>" if len(recs) > size else ""
    return (f'<div class="banner hmi" data-banner="1"><div>{tr(lang, "a.totals", active=len(recs), unacked=unacked)}'
            f' · {counts_html(src, None, lang)}</div>{"".join(lines)}{more}</div>')


def _message(rec) -> str:
    try:
        from alarms.engine import render_message
        return render_message(rec)
    except Exception:   # a template the engine cannot fill still shows the alarm id
        return rec.definition.id


def _utc(ts: float | None) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%d %H:%M:%S") if ts else ""


def table(src: AlarmSource, recs: list) -> pd.DataFrame:
    """The summary rows (times in UTC; shelving columns empty unless the alarm is shelved)."""
    rows = []
    for rec in recs:
        d = rec.definition
        wo = src.work_orders(d.id) if src.work_orders is not None else None
        rows.append({"id": d.id, "time": _utc(rec.since), "priority": d.priority, "rank": src.rank.get(d.priority, 99),
                     "state": rec.state.value, "building": d.building or "", "area": d.area or "",
                     "equipment": d.equipment or "", "message": _message(rec),
                     "value": "" if rec.value is None else str(rec.value),
                     "work order": (wo or {}).get("number", "") if isinstance(wo, dict) else "",
                     "shelved by": rec.shelved_by or "",
                     "shelved until": _utc(rec.shelved_until) if rec.shelved else "",
                     "shelve reason": rec.shelve_reason or ""})
    return pd.DataFrame(rows, columns=COLUMNS)


class AlarmSummary:
    """The alarm summary page: filters, a sortable table, acknowledge, shelve and unshelve with a comment."""

    def __init__(self, src: AlarmSource, principal: Any, notify: Callable[[], None], lang: str = "en") -> None:
        self.src = src
        self.principal = principal
        self.notify = notify
        self.lang = lang
        t = self.t
        # Options are {shown text: value}: the filter logic and tests keep using the untranslated values.
        opts = {t("a.all"): "(all)"}
        self.building = pn.widgets.Select(label=t("a.building"), options={**opts, **{b: b for b in sorted(
            {x.definition.building for x in src.engine.records.values() if x.definition.building})}}
            if src.available else opts, width=160)
        self.area = pn.widgets.Select(label=t("a.area"), options={**opts, **{a: a for a in sorted(
            {x.definition.area for x in src.engine.records.values() if x.definition.area})}} if src.available
            else opts, width=160)
        self.priority = pn.widgets.Select(label=t("a.priority"), options={
            **opts, **{priority_name(p, lang): p for p in src.priorities()}}, width=130)
        self.state = pn.widgets.Select(label=t("a.state"), options={t("a.annunciated"): "annunciated", **{
            state_name(s, lang): s for s in STATE_NAMES if s != "normal"}, t("a.all_not_normal"): "all"}, width=200)
        # Column titles and the state/priority cells are translated in the browser; the frame keeps raw values.
        titles = {c: t(f"col.{c}") for c in COLUMNS if c != "rank"}
        formatters = {"state": {"type": "lookup", **{s: state_name(s, lang) for s in STATE_NAMES}},
                      "priority": {"type": "lookup", **{p: priority_name(p, lang) for p in src.priorities()}}}
        self.grid = pn.widgets.Tabulator(table(src, []), show_index=False, selectable="checkbox", disabled=True,
                                         hidden_columns=["rank", *SHELVE_COLUMNS], height=420,
                                         sizing_mode="stretch_width", pagination=None, titles=titles,
                                         formatters=formatters)
        self.comment = pn.widgets.TextInput(label=t("a.comment"), placeholder=t("a.why"), width=320)
        self.shelve_for = pn.widgets.Select(label=t("a.shelve_for"),
                                            options={t(f"dur.{k}"): k for k in SHELVE_CHOICES}, width=100)
        self.ack = pn.widgets.Button(label=t("a.ack_selected"), color="primary", width=190,
                                     disabled=not principal.can(ACK))
        self.shelve = pn.widgets.Button(label=t("a.shelve_selected"), width=150, disabled=not principal.can(SHELVE))
        self.unshelve = pn.widgets.Button(label=t("a.unshelve_selected"), width=160,
                                          disabled=not principal.can(SHELVE))
        self.result = pn.pane.HTML("", sizing_mode="stretch_width")
        self.ack.on_click(lambda _e: self._act("ack"))
        self.shelve.on_click(lambda _e: self._act("shelve"))
        self.unshelve.on_click(lambda _e: self._act("unshelve"))
        for w in (self.building, self.area, self.priority, self.state):
            w.param.watch(lambda _e: self.refresh(), "value")
        self.refresh()

    def t(self, key: str, **fields) -> str:
        """The text of ``key`` in the session's language."""
        return tr(self.lang, key, **fields)

    def layout(self) -> pn.Column:
        """The page."""
        return pn.Column(pn.Row(self.building, self.area, self.priority, self.state),
                         self.grid, pn.Row(self.comment, self.shelve_for),
                         pn.Row(self.ack, self.shelve, self.unshelve), self.result, sizing_mode="stretch_width")

    def _selected(self) -> list[str]:
        df = self.grid.value
        return [df.iloc[i]["id"] for i in self.grid.selection if i < len(df)]

    def refresh(self) -> None:
        """Re-read the engine with the current filters (keeps the selection by alarm id)."""
        keep = set(self._selected()) if len(self.grid.value) else set()
        state = self.state.value
        recs = self.src.every() if state in ("all",) else (
            self.src.active() if state == "annunciated" else [x for x in self.src.every() if x.state.value == state])
        for attr, key in ((self.building, "building"), (self.area, "area"), (self.priority, "priority")):
            if attr.value != "(all)":
                recs = [x for x in recs if getattr(x.definition, key) == attr.value]
        hidden = ["rank"] + ([] if state in SHELVE_STATES else SHELVE_COLUMNS)
        if self.grid.hidden_columns != hidden:
            self.grid.hidden_columns = hidden
        df = table(self.src, recs)
        if df.equals(self.grid.value):
            return   # redrawing an unchanged table would drop what the operator is clicking
        self.grid.value = df
        self.grid.selection = [i for i, aid in enumerate(df["id"]) if aid in keep]

    def _act(self, action: str) -> None:
        permission = ACTIONS[action][0]
        # A disabled button only stops an honest browser: the server checks the permission again.
        if not self.principal.can(permission):
            text = self.t("a.may_not", user=self.principal.user, action=self.t(f"a.verb.{action}"),
                          permission=permission)
            self.result.object = f'<div data-result="{action}" class="v q-bad">{escape(text)}</div>'
            return
        ids = self._selected()
        comment = (self.comment.value or "").strip()
        if not ids:
            self.result.object = f'<span class="v q-bad">{self.t("a.select_first")}</span>'
            return
        if not comment:
            self.result.object = f'<span class="v q-bad">{self.t("a.comment_required")}</span>'
            return
        done, skipped, failed = [], [], []
        engine, user = self.src.engine, self.principal.user
        for aid in ids:
            try:
                if action == "ack":
                    engine.acknowledge(aid, user, comment)
                elif action == "shelve":
                    engine.shelve(aid, user, comment, SHELVE_CHOICES[self.shelve_for.value])
                elif not engine.get(aid).shelved:
                    # Selected from "all" or expired since the grid was drawn: nothing to undo, not an error.
                    skipped.append(aid)
                    continue
                else:
                    engine.unshelve(aid, user, comment)
                done.append(aid)
            except Exception as exc:  # the engine's refusal (already shelved, unknown) is shown as is
                failed.append(f"{aid}: {exc}")
        msg = escape(self.t(f"a.done.{action}", n=len(done), user=user))
        if skipped:
            msg += (f'<br><span data-skipped="{len(skipped)}">'
                    f'{escape(self.t("a.skipped", ids=", ".join(skipped)))}</span>')
        if failed:
            msg += "<br>" + "<br>".join(escape(f) for f in failed)
        # Deselect before redrawing, so a second click cannot repeat the action on the same alarms.
        self.grid.selection = []
        self.result.object = f'<div data-result="{action}">{msg}</div>'
        self.comment.value = ""
        self.notify()
        self.refresh()
