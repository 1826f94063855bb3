"""The display hierarchy: site overview → building → equipment class → equipment detail.

Each function returns a :class:`Page`: a Panel layout, the live blocks whose
tags the session subscribes to while the page is shown, the blocks redrawn on
alarm changes, and coroutines run once after the page is shown (history
look-ups such as today's consumption).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timezone
from html import escape
from typing import Any, Callable
from zoneinfo import ZoneInfo

import panel as pn

from . import equipment as eqv
from . import render as r
from .aio import run
from .alarms_view import AlarmSource, counts_html, state_name
from .i18n import tr
from .live import Block, Values
from .model import SiteIndex, class_name

log = logging.getLogger(__name__)

BUTTONS_MAX = 40


@dataclass
class Page:
    """What a session shows: layout, live blocks, alarm blocks, after-show coroutines."""

    title: str
    layout: Any
    blocks: list[Block] = field(default_factory=list)
    alarm_blocks: list[Block] = field(default_factory=list)
    after: list[Callable[[], Any]] = field(default_factory=list)


@dataclass
class Env:
    """Everything pages need: shared server objects plus the session's navigation and user."""

    ix: SiteIndex
    tags: Any
    alarms: AlarmSource
    go: Callable[..., None]
    principal: Any
    history: Any = None
    faceplates: Any = None
    asset_link: Callable[[str], Any] | None = None
    clock: Any = None
    lang: str = "en"

    def t(self, key: str, **fields) -> str:
        """The text of ``key`` in the session's language."""
        return tr(self.lang, key, **fields)


def _nav_button(env: Env, label: str, page: str, **args) -> pn.widgets.Button:
    b = pn.widgets.Button(label=label, width=min(max(90, 9 * len(label)), 300), color="light")
    b.on_click(lambda _e: env.go(page, **args))
    return b


def _alarm_block(env: Env, building: str | None = None) -> Block:
    def render(_v) -> str:
        return f'<div class="hmi">{env.t("p.alarms_counts", counts=counts_html(env.alarms, building, env.lang))}</div>'
    return Block([], render)


def _health(v: Values, eqs: list) -> str:
    bad = sum(1 for e in eqs if eqv.abnormal(v, e))
    if not eqs:
        return ""
    if bad:
        return f'<span class="lamp alarm" data-health="{bad}">{v.t("p.abnormal", bad=bad, total=len(eqs))}</span>'
    return f'<span class="lamp off" data-health="0">{v.t("p.normal", total=len(eqs))}</span>'


def _sum(v: Values, paths: list[str]) -> tuple[float, int]:
    total, missing = 0.0, 0
    for p in paths:
        n = None if v.not_good(p) else v.number(p)
        if n is None:
            missing += 1
        else:
            total += n
    return total, missing


def building_key_values(ix: SiteIndex, building: str) -> tuple[list[str], Callable[[Values], str]]:
    """Paths and render function of a building's key values and equipment health."""
    classes = ix.classes(building)
    every = [e for eqs in classes.values() for e in eqs]
    paths = [p for e in every for p in eqv.points_of(e)]

    def render(v: Values) -> str:
        items = []
        meters = classes.get("meter", [])
        if meters:
            total, missing = _sum(v, [SiteIndex.point(m, "power_kw") for m in meters if SiteIndex.has(m, "power_kw")])
            note = f' <b class="qb">{v.t("p.not_good", n=missing)}</b>' if missing else ""
            items.append((v.t("p.demand"), f'<span class="v" data-key="demand">{total:,.1f} kW</span>{note}'))
        lifts = classes.get("elevator", [])
        if lifts:
            ok = sum(1 for e in lifts if v.good(SiteIndex.point(e, "in_service")) is True)
            faults = sum(1 for e in lifts if v.good(SiteIndex.point(e, "fault_code")))
            items.append((v.t("p.elevators"), v.t("p.in_service", ok=ok, total=len(lifts))
                          + (f' <span class="lamp alarm">{v.t("p.faults", n=faults)}</span>' if faults else "")))
        for cls, point, label in (("chiller", "running", "p.chillers_running"), ("ahu", "fan_status", "p.ahus_running"),
                                  ("lighting", "status", "p.lighting_on")):
            eqs = classes.get(cls, [])
            if eqs:
                on = sum(1 for e in eqs if v.good(SiteIndex.point(e, point)))
                items.append((v.t(label), f"{on}/{len(eqs)}"))
        for e in classes.get("chiller", [])[:2]:
            items.append((v.t("p.chw", name=e.name), eqv.val(v, e, "supply_temp", 1)))
        for e in classes.get("parking", []):
            if SiteIndex.has(e, "free"):
                items.append((v.t("p.free_spaces"), eqv.val(v, e, "free", 0)))
        items.append((v.t("p.equipment"), _health(v, every)))
        return '<div class="hmi">' + r.rows(items) + "</div>"
    return paths, render


def overview(env: Env) -> Page:
    """Site overview: every building with key values, alarm counts and equipment health."""
    cards, blocks, alarm_blocks = [], [], []
    for b in env.ix.building_ids():
        paths, render = building_key_values(env.ix, b)
        block = Block(paths, render)
        ab = _alarm_block(env, None if b == "site" else b)
        blocks.append(block)
        alarm_blocks.append(ab)
        cards.append(pn.Column(_nav_button(env, env.ix.building_name(b, env.lang), "building", id=b), ab.pane,
                               block.pane,
                               width=330, styles={"background": "#e8e8e8", "border": "1px solid #b8b8b8"},
                               margin=4))
    layout = pn.Column(pn.pane.HTML(f"<h3>{escape(env.t('p.site_overview', site=env.ix.site.name))}</h3>"),
                       pn.FlexBox(*cards), sizing_mode="stretch_width")
    return Page(env.t("overview"), layout, blocks, alarm_blocks)


def building(env: Env, building_id: str) -> Page:
    """One building: its equipment classes with summaries and health."""
    blocks, cards = [], []
    for cls, eqs in env.ix.classes(building_id).items():
        view = eqv.VIEWS.get(cls, eqv.GENERIC)
        shown = eqs[:12]
        paths = [p for e in eqs for p in eqv.points_of(e, view)]

        def render(v: Values, cls=cls, eqs=eqs, shown=shown, view=view) -> str:
            head = "".join(f"<th>{escape(v.t(h))}</th>" for h in view.headers)
            rows = "".join(f"<tr><th>{escape(e.name)}</th>"
                           + "".join(f"<td>{c}</td>" for c in view.summary(env.ix, v, e)) + "</tr>"
                           for e in shown) if cls != "parking-space" else ""
            more = f"<div>{escape(v.t('p.more', n=len(eqs) - len(shown)))}</div>" if len(eqs) > len(shown) else ""
            grid = eqv.spaces_grid(v, eqs) if cls == "parking-space" else ""
            return (f'<div class="hmi">{_health(v, eqs)}{grid}'
                    f'<table><tr><th></th>{head}</tr>{rows}</table>{more}</div>')
        block = Block(paths, render)
        blocks.append(block)
        cards.append(pn.Column(_nav_button(env, f"{class_name(cls, env.lang)} ({len(eqs)})", "class",
                                           building=building_id,
                                           cls=cls), block.pane, styles={"background": "#e8e8e8",
                                                                         "border": "1px solid #b8b8b8"},
                               margin=4, min_width=420))
    ab = _alarm_block(env, building_id)
    name = env.ix.building_name(building_id, env.lang)
    layout = pn.Column(pn.pane.HTML(f"<h3>{escape(name)}</h3>"), ab.pane,
                       pn.FlexBox(*cards), sizing_mode="stretch_width")
    return Page(name, layout, blocks, [ab])


def equipment_class(env: Env, building_id: str, cls: str) -> Page:
    """Every equipment of one class in a building, with its summary values."""
    eqs = env.ix.of_class(cls, building_id)
    view = eqv.VIEWS.get(cls, eqv.GENERIC)
    paths = [p for e in eqs for p in eqv.points_of(e, view)]
    baseline: dict[str, float] = {}
    after = []
    if cls == "meter" and env.history is not None:
        after.append(lambda: _load_midnight(env, [SiteIndex.point(e, "energy_kwh") for e in eqs], baseline))

    def render(v: Values) -> str:
        if cls == "parking-space":
            return '<div class="hmi">' + eqv.spaces_grid(v, eqs) + "</div>"
        heads = list(view.headers) + (["p.today"] if cls == "meter" else [])
        head = "".join(f"<th>{escape(v.t(h))}</th>" for h in heads)
        body = []
        for e in eqs:
            cells = view.summary(env.ix, v, e)
            if cls == "meter":
                cells.append(_today(v, e, baseline))
            body.append(f"<tr><th>{escape(e.name)}</th>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
        return f'<div class="hmi"><table><tr><th></th>{head}</tr>{"".join(body)}</table></div>'
    block = Block(paths, render)
    if len(eqs) <= BUTTONS_MAX:
        chooser = pn.FlexBox(*[_nav_button(env, e.name, "equipment", id=e.id) for e in eqs])
    else:
        pick = pn.widgets.Select(label=env.t("p.equipment"), options={e.name: e.id for e in eqs}, width=260)
        open_btn = pn.widgets.Button(label=env.t("p.open"), width=80, align="end")
        open_btn.on_click(lambda _e: env.go("equipment", id=pick.value))
        chooser = pn.Row(pick, open_btn)
    title = f"{env.ix.building_name(building_id, env.lang)} · {class_name(cls, env.lang)}"
    layout = pn.Column(pn.pane.HTML(f"<h3>{escape(title)}</h3>"), chooser, block.pane, sizing_mode="stretch_width")
    return Page(title, layout, [block], [], after)


def _delta(v: Values, path: str, baseline: dict[str, float], label: str) -> str:
    """A counter's increase since its baseline reading (blank until both are known and good); ``label`` a text."""
    now, base = v.number(path), baseline.get(path)
    if now is None or base is None or v.not_good(path):
        return f'<span class="v q-waiting">—</span> {escape(label)}'
    return f'<span class="v" data-delta="{escape(path)}">+{now - base:,.0f}</span> {escape(label)}'


def _today(v: Values, eq, baseline: dict[str, float]) -> str:
    path = SiteIndex.point(eq, "energy_kwh")
    now = v.number(path)
    base = baseline.get(path)
    if now is None or base is None or v.shown(path).state != "good":
        return '<span class="v q-waiting">—</span>'
    return f'<span class="v" data-today="{escape(path)}">{now - base:,.2f} kWh</span>'


def _midnight(env: Env) -> datetime:
    """Today's local midnight (the site's time zone) in UTC."""
    tz = ZoneInfo(env.ix.site.timezone)
    now = datetime.fromtimestamp(env.clock.seconds(), timezone.utc).astimezone(tz)
    return now.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)


async def _load_midnight(env: Env, paths: list[str], baseline: dict[str, float]) -> None:
    """Energy registers at local midnight from the historian."""
    await _load_baseline(env, paths, _midnight(env), baseline)


async def _load_baseline(env: Env, paths: list[str], at: datetime, baseline: dict[str, float]) -> None:
    """The historian's value of each path at ``at`` (counters and registers to subtract from now)."""
    try:
        readings = await run(env.history.readings_at(paths, at))
    except Exception as exc:   # no history yet: the difference stays blank rather than wrong
        log.info("readings at %s unavailable: %s", at, exc)
        return
    for p, pt in readings.items():
        if pt is not None and pt.value is not None and not pt.quality.is_bad:
            baseline[p] = float(pt.value)


def equipment_detail(env: Env, eq_id: str) -> Page:
    """One equipment: schematic, commands, its alarms, every point, links to trend and asset."""
    eq = env.ix.equipment[eq_id]
    view = eqv.view_of(eq)
    graphic = Block(eqv.points_of(eq, view) if view.points else list(eq.tags),
                    lambda v: '<div class="hmi">' + view.detail(env.ix, v, eq) + "</div>")
    points = Block(list(eq.tags), lambda v: '<div class="hmi">' + eqv.points_table(v, eq) + "</div>")
    baseline: dict[str, float] = {}
    after = []
    extra_blocks = []
    if eq.equipment_class == "meter" and SiteIndex.has(eq, "energy_kwh"):
        today = Block([SiteIndex.point(eq, "energy_kwh")],
                      lambda v: f'<div class="hmi">{v.t("p.today_consumption", value=_today(v, eq, baseline))}</div>')
        extra_blocks.append(today)
        if env.history is not None:
            after.append(lambda: _load_midnight(env, [SiteIndex.point(eq, "energy_kwh")], baseline))
    if eq.equipment_class == "parking" and SiteIndex.has(eq, "entries") and SiteIndex.has(eq, "exits"):
        counters = [SiteIndex.point(eq, "entries"), SiteIndex.point(eq, "exits")]
        recent = Block(counters, lambda v: '<div class="hmi">' + v.t("p.last_hour", items=v.t("p.list_sep").join(
            _delta(v, p, baseline, v.t(label)) for p, label in zip(counters, ("p.entries", "p.exits")))) + "</div>")
        extra_blocks.append(recent)
        if env.history is not None:
            hour_ago = datetime.fromtimestamp(env.clock.seconds() - 3600, timezone.utc)
            after.append(lambda: _load_baseline(env, counters, hour_ago, baseline))

    def alarms_html(_v) -> str:
        recs = env.alarms.active(equipment=eq.id)
        if not recs:
            return f'<div class="hmi">{escape(env.t("p.no_eq_alarms"))}</div>'
        return '<div class="hmi">' + "".join(
            f"<div>{r.priority(x.definition.priority, env.lang)} {escape(x.definition.id)} · "
            f"{escape(state_name(x.state.value, env.lang))}</div>" for x in recs) + "</div>"
    alarm_block = Block([], alarms_html)
    widgets, loop_blocks = env.faceplates.for_equipment(eq) if env.faceplates is not None else ([], [])
    b = env.ix.buildings.get(eq.building)
    where = b.name if b else env.ix.building_name(eq.building or "site", env.lang)
    facts = (f"{escape(class_name(eq.equipment_class, env.lang))} · {escape(where)}"
             f"{' · ' + escape(eq.area) if eq.area else ''} · {escape(env.t('p.device', device=eq.device or '—'))}")
    link = pn.pane.HTML("", sizing_mode="stretch_width")
    if env.asset_link is not None:
        after.append(lambda: _asset(env, eq.id, link))
    numeric = [p for p in eq.tags if env.tags.spec(p).is_numeric and env.tags.spec(p).history]
    header = pn.Row(pn.pane.HTML(f"<h3>{escape(eq.name)}</h3><div>{facts}</div>"),
                    _nav_button(env, env.t("p.trend"), "trends", tags=",".join(numeric[:4])), link)
    nav = pn.Row(_nav_button(env, f"◀ {class_name(eq.equipment_class, env.lang)}", "class",
                             building=eq.building or "site", cls=eq.equipment_class))
    left = pn.Column(graphic.pane, *[x.pane for x in extra_blocks], pn.pane.HTML(f"<h4>{env.t('p.alarms')}</h4>"),
                     alarm_block.pane, pn.pane.HTML(f"<h4>{env.t('p.points')}</h4>"), points.pane,
                     sizing_mode="stretch_width")
    right = pn.Column(*widgets, width=380)
    layout = pn.Column(nav, header, pn.Row(left, right, sizing_mode="stretch_width"), sizing_mode="stretch_width")
    return Page(eq.name, layout, [graphic, points, *extra_blocks, *loop_blocks], [alarm_block], after)


async def _asset(env: Env, eq_id: str, pane: pn.pane.HTML) -> None:
    try:
        found = await env.asset_link(eq_id)
    except Exception as exc:   # the business database being busy must not break the page
        log.info("asset lookup for %s failed: %s", eq_id, exc)
        return
    if found:
        pane.object = (f'<a href="{escape(found["url"])}" target="_blank" data-asset="{escape(str(found["id"]))}">'
                       f'{escape(env.t("p.asset", code=found.get("code") or str(found["id"])))} ↗</a>')
