"""Equipment displays generated per class from the equipment templates.

For every class: the points it shows, a one-row summary (class lists), a
schematic or graphic (equipment detail) and when it is abnormal (equipment
health on the overview). Unknown classes get a generic point table, so a new
template shows up without code.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any, Callable

from . import render as r
from .live import Values
from .model import SiteIndex
from .quality import GOOD, state_name

# Enumerations: raw value -> text key of hmi.i18n (translated when rendered, in the session's language).
DIRECTION = {-1: "dir.down", 0: "dir.idle", 1: "dir.up"}
DOOR = {0: "door.closed", 1: "door.opening", 2: "door.open", 3: "door.closing"}
ELEVATOR_FAULT = {0: "ef.none", 1: "ef.door", 2: "ef.overload", 3: "ef.entrapment", 4: "ef.safety"}
CHILLER_FAULT = {0: "cf.none", 1: "cf.low_flow", 2: "cf.high_pressure", 3: "cf.compressor_trip"}


def val(v: Values, eq, name: str, digits: int = 1, labels: dict | None = None) -> str:
    """One point of an equipment as a value with its quality (``labels``: value -> text key)."""
    path = SiteIndex.point(eq, name)
    if path not in eq.tags:
        return "—"
    words = {k: v.t(key) for k, key in labels.items()} if labels is not None else None
    return r.value(path, v.shown(path, digits, words), lang=v.lang)


def barv(ix: SiteIndex, v: Values, eq, name: str, digits: int = 1) -> str:
    """An analog point as a bar with its normal range (a plain value when it has no scale)."""
    path = SiteIndex.point(eq, name)
    if path not in eq.tags:
        return "—"
    scale = ix.scale(path)
    shown = v.shown(path, digits)
    if scale is None:
        return r.value(path, shown, lang=v.lang)
    return r.bar(path, shown, v.number(path), scale[0], scale[1], ix.normal(path), v.lang)


def lampv(v: Values, eq, name: str, on: str, off: str, alarm_when: bool | None = None) -> str:
    """A discrete point as a lamp (orange only when its state is the abnormal one); ``on``/``off`` are text keys."""
    path = SiteIndex.point(eq, name)
    if path not in eq.tags:
        return "—"
    return r.lamp(path, v.shown(path), v.t(on), v.t(off), alarm_when, v.good(path), v.lang)


def rows(v: Values, items: list[tuple[str, str]]) -> str:
    """``render.rows`` with the labels (text keys) in the session's language."""
    return r.rows([(v.t(k), html) for k, html in items])


def any_bad(v: Values, eq) -> bool:
    """True when a point of the equipment is not Good (Bad, Uncertain, stale)."""
    return any(v.not_good(p) for p in eq.tags)


@dataclass(frozen=True)
class ClassView:
    """How one equipment class is displayed."""

    points: tuple[str, ...]
    headers: tuple[str, ...]           # text keys of the class list's column headers
    summary: Callable[[SiteIndex, Values, Any], list[str]]
    detail: Callable[[SiteIndex, Values, Any], str]
    abnormal: Callable[[Values, Any], bool]


# -- elevator -----------------------------------------------------------------------------------

def _elevator_summary(ix, v, eq):
    return [val(v, eq, "current_floor", 0), val(v, eq, "direction", labels=DIRECTION),
            val(v, eq, "door_state", labels=DOOR),
            lampv(v, eq, "in_service", "s.in_service", "s.out_of_service", False),
            val(v, eq, "fault_code", labels=ELEVATOR_FAULT)]


def _elevator_detail(ix, v, eq):
    b = ix.buildings.get(eq.building)
    top, bottom = (b.floors, -b.basement_floors) if b is not None else (10, 0)
    floors = max(top - bottom, 1)
    height = min(max(floors * 9, 160), 320)
    floor = v.number(SiteIndex.point(eq, "current_floor"))
    fault = v.good(SiteIndex.point(eq, "fault_code"))
    car = ""
    if floor is not None:
        y = (top - floor) * (height - 14) / floors
        abn = " abn" if fault else ""
        car = f'<div class="car{abn}" style="top:{max(0, min(height - 14, y)):.0f}px">{int(floor)}</div>'
    floors_title = escape(v.t("g.floors", bottom=bottom, top=top))
    shaft = (f'<div class="shaft" style="height:{height}px" title="{floors_title}">{car}</div>')
    table = rows(v, [("l.floor", val(v, eq, "current_floor", 0)),
                     ("l.direction", val(v, eq, "direction", labels=DIRECTION)),
                     ("l.moving", lampv(v, eq, "running", "s.moving", "s.stopped")),
                     ("l.door", val(v, eq, "door_state", labels=DOOR)),
                     ("l.in_service", lampv(v, eq, "in_service", "s.in_service", "s.out_of_service", False)),
                     ("l.fault", val(v, eq, "fault_code", labels=ELEVATOR_FAULT)),
                     ("l.emergency_call", lampv(v, eq, "emergency_call", "s.call", "s.no_call", True)),
                     ("l.load", barv(ix, v, eq, "load_pct")), ("l.trips", val(v, eq, "trips", 0)),
                     ("l.run_hours", val(v, eq, "run_hours", 1))])
    return f'<div style="display:flex;gap:16px">{shaft}{table}</div>'


def _elevator_abnormal(v, eq):
    fault = v.good(SiteIndex.point(eq, "fault_code"))
    return bool(fault) or v.good(SiteIndex.point(eq, "in_service")) is False or \
        bool(v.good(SiteIndex.point(eq, "emergency_call")))


# -- chiller ------------------------------------------------------------------------------------

def _chiller_summary(ix, v, eq):
    return [lampv(v, eq, "running", "s.running", "s.stopped"), val(v, eq, "supply_temp", 1),
            val(v, eq, "setpoint", 1), val(v, eq, "load_pct", 0), val(v, eq, "power_kw", 0),
            lampv(v, eq, "alarm", "s.alarm", "s.normal", True)]


def _chiller_detail(ix, v, eq):
    box = '<div class="box">{}</div>'
    arrow = '<span class="arrow">→</span>'
    t = v.t
    return ('<div class="schem">'
            + box.format(f"<b>{t('l.condenser_water')}</b><br>" + barv(ix, v, eq, "condenser_temp")) + arrow
            + box.format(f"<b>{t('l.compressor')}</b><br>" + lampv(v, eq, "running", "s.running", "s.stopped")
                         + f"<br>{t('l.load_lc')} " + barv(ix, v, eq, "load_pct", 0)
                         + f"<br>{t('l.power_lc')} " + val(v, eq, "power_kw", 0)
                         + "<br>COP " + val(v, eq, "cop", 2)) + arrow
            + box.format(f"<b>{t('l.chilled_water')}</b><br>{t('l.supply_lc')} " + barv(ix, v, eq, "supply_temp", 2)
                         + f"<br>{t('l.return_lc')} " + barv(ix, v, eq, "return_temp", 2)
                         + f"<br>{t('l.setpoint_lc')} " + val(v, eq, "setpoint", 1))
            + "</div>"
            + rows(v, [("l.common_alarm", lampv(v, eq, "alarm", "s.alarm", "s.normal", True)),
                       ("l.alarm_code", val(v, eq, "alarm_code", labels=CHILLER_FAULT)),
                       ("l.run_hours", val(v, eq, "run_hours", 1))]))


def _chiller_abnormal(v, eq):
    return bool(v.good(SiteIndex.point(eq, "alarm"))) or bool(v.good(SiteIndex.point(eq, "alarm_code")))


# -- air-handling unit --------------------------------------------------------------------------

def _ahu_summary(ix, v, eq):
    return [lampv(v, eq, "fan_status", "s.running", "s.stopped"), val(v, eq, "supply_air_temp", 1),
            val(v, eq, "sat_setpoint", 1), val(v, eq, "valve_pct", 0), val(v, eq, "filter_dp", 0)]


def _ahu_detail(ix, v, eq):
    box = '<div class="box">{}</div>'
    arrow = '<span class="arrow">→</span>'
    mismatch = _fan_mismatch(v, eq)
    t = v.t
    fan = lampv(v, eq, "fan_status", "s.running", "s.stopped") + (
        f' <span class="lamp alarm">{t("s.cmd_mismatch")}</span>' if mismatch else "")
    return ('<div class="schem">'
            + box.format(f"<b>{t('l.return_air')}</b><br>" + barv(ix, v, eq, "return_air_temp")) + arrow
            + box.format(f"<b>{t('l.mixed_air')}</b><br>" + barv(ix, v, eq, "mixed_air_temp")) + arrow
            + box.format(f"<b>{t('l.filter')}</b><br>ΔP " + barv(ix, v, eq, "filter_dp", 0)) + arrow
            + box.format(f"<b>{t('l.chw_coil')}</b><br>{t('l.valve_lc')} " + barv(ix, v, eq, "valve_pct", 0)) + arrow
            + box.format(f"<b>{t('l.supply_fan')}</b><br>" + fan + f"<br>{t('l.airflow_lc')} "
                         + val(v, eq, "airflow", 0)) + arrow
            + box.format(f"<b>{t('l.supply_air')}</b><br>" + barv(ix, v, eq, "supply_air_temp")
                         + f"<br>{t('l.setpoint_lc')} " + val(v, eq, "sat_setpoint", 1))
            + "</div>" + rows(v, [("l.fan_command", lampv(v, eq, "fan_cmd", "s.start", "s.stop")),
                                  ("l.fan_hours", val(v, eq, "fan_hours", 1))]))


def _fan_mismatch(v, eq) -> bool:
    cmd, status = v.good(SiteIndex.point(eq, "fan_cmd")), v.good(SiteIndex.point(eq, "fan_status"))
    return cmd is not None and status is not None and bool(cmd) != bool(status)


# -- lighting -----------------------------------------------------------------------------------

def _lighting_summary(ix, v, eq):
    return [lampv(v, eq, "status", "s.on", "s.off"), lampv(v, eq, "command", "s.on", "s.off"), val(v, eq, "lux", 0)]


def _lighting_detail(ix, v, eq):
    return rows(v, [("l.circuit", lampv(v, eq, "status", "s.on", "s.off")),
                    ("l.command", lampv(v, eq, "command", "s.on", "s.off")),
                    ("l.illuminance", barv(ix, v, eq, "lux", 0))])


def _lighting_abnormal(v, eq):
    cmd, status = v.good(SiteIndex.point(eq, "command")), v.good(SiteIndex.point(eq, "status"))
    return cmd is not None and status is not None and bool(cmd) != bool(status)


# -- parking ------------------------------------------------------------------------------------

def _parking_summary(ix, v, eq):
    if SiteIndex.has(eq, "free"):
        return [val(v, eq, "occupied", 0), val(v, eq, "free", 0), val(v, eq, "entries", 0), val(v, eq, "exits", 0)]
    return [lampv(v, eq, "open", "s.open", "s.closed"), lampv(v, eq, "vehicle_present", "s.vehicle", "s.clear"),
            lampv(v, eq, "open_cmd", "s.open_cmd", "s.none"), ""]


def _parking_detail(ix, v, eq):
    if SiteIndex.has(eq, "free"):
        occ, free = v.number(SiteIndex.point(eq, "occupied")), v.number(SiteIndex.point(eq, "free"))
        total = (occ or 0) + (free or 0)
        occupancy = f"{occ * 100 / total:.0f} %" if occ is not None and free is not None and total else "—"
        return rows(v, [("l.occupied", val(v, eq, "occupied", 0)), ("l.free_spaces", val(v, eq, "free", 0)),
                        ("l.occupancy", occupancy), ("l.entries_counter", val(v, eq, "entries", 0)),
                        ("l.exits_counter", val(v, eq, "exits", 0))])
    return rows(v, [("l.barrier", lampv(v, eq, "open", "s.open", "s.closed")),
                    ("l.loop_detector", lampv(v, eq, "vehicle_present", "s.vehicle", "s.clear")),
                    ("l.open_command", lampv(v, eq, "open_cmd", "s.held_open", "s.released"))])


def spaces_grid(v: Values, spaces: list) -> str:
    """Parking spaces as a grid of small squares (grey = occupied, outlined = bad quality)."""
    cells, occupied, bad = [], 0, 0
    for eq in spaces:
        path = SiteIndex.point(eq, "occupied")
        shown = v.shown(path)
        if shown.state != GOOD:
            bad += 1
            cls = "bad"
        elif v.good(path):
            occupied += 1
            cls = "occ"
        else:
            cls = ""
        cells.append(f'<span class="{cls}" title="{escape(eq.name)}: {escape(shown.text)}"></span>')
    head = (f"<div>{escape(v.t('g.occupied', occupied=occupied, total=len(spaces)))}"
            + (escape(v.t("g.no_reading", bad=bad)) if bad else "") + "</div>")
    return head + '<div class="spaces">' + "".join(cells) + "</div>"


# -- meters -------------------------------------------------------------------------------------

def _meter_summary(ix, v, eq):
    return [val(v, eq, "power_kw", 2), val(v, eq, "energy_kwh", 2), val(v, eq, "voltage", 1),
            val(v, eq, "current_a", 1)]


def _meter_detail(ix, v, eq):
    return rows(v, [("l.demand", val(v, eq, "power_kw", 2)), ("l.energy_register", val(v, eq, "energy_kwh", 2)),
                    ("l.voltage", barv(ix, v, eq, "voltage")), ("l.current", val(v, eq, "current_a", 2)),
                    ("l.water_register", val(v, eq, "water_m3", 3))])


# -- generic ------------------------------------------------------------------------------------

def _generic_summary(ix, v, eq):
    return [val(v, eq, p.rsplit("/", 1)[1]) for p in eq.tags[:4]]


def _generic_detail(ix, v, eq):
    return points_table(v, eq)


def points_table(v: Values, eq) -> str:
    """Every point of the equipment with value, quality and description."""
    lines = []
    for path in eq.tags:
        spec = v.spec(path)
        shown = v.shown(path, 2)
        word = state_name(shown.state, v.lang)
        q = v.t("pt.state_why", state=word, why=shown.why) if shown.why else word
        lines.append(f"<tr><th>{escape(path.rsplit('/', 1)[1])}</th><td>{r.value(path, shown, lang=v.lang)}</td>"
                    f"<td>{escape(q)}</td><td>{escape(spec.description if spec else '')}</td></tr>")
    head = "<tr>" + "".join(f"<th>{escape(v.t(k))}</th>" for k in ("pt.point", "pt.value", "pt.quality",
                                                                    "pt.description")) + "</tr>"
    return "<table>" + head + "".join(lines) + "</table>"


def _never(v, eq):
    return False


VIEWS: dict[str, ClassView] = {
    "elevator": ClassView(("current_floor", "direction", "door_state", "running", "in_service", "load_pct", "trips",
                           "run_hours", "fault_code", "emergency_call"),
                          ("h.floor", "h.direction", "h.door", "h.service", "h.fault"), _elevator_summary,
                          _elevator_detail,
                          _elevator_abnormal),
    "chiller": ClassView(("running", "supply_temp", "return_temp", "setpoint", "load_pct", "power_kw", "cop", "alarm",
                          "alarm_code", "condenser_temp", "run_hours"),
                         ("h.state", "h.chw_supply", "h.setpoint", "h.load", "h.power", "h.alarm"), _chiller_summary,
                         _chiller_detail, _chiller_abnormal),
    "ahu": ClassView(("fan_cmd", "fan_status", "valve_pct", "sat_setpoint", "supply_air_temp", "return_air_temp",
                      "mixed_air_temp", "filter_dp", "airflow", "fan_hours"),
                     ("h.fan", "h.supply_air", "h.setpoint", "h.valve", "h.filter_dp"), _ahu_summary, _ahu_detail,
                     _fan_mismatch),
    "lighting": ClassView(("command", "status", "lux"), ("h.circuit", "h.command", "h.lux"), _lighting_summary,
                          _lighting_detail, _lighting_abnormal),
    "parking": ClassView(("occupied", "free", "entries", "exits", "open", "vehicle_present", "open_cmd"),
                         ("h.state_occupied", "h.loop_free", "h.cmd_entries", "h.exits"), _parking_summary,
                         _parking_detail, _never),
    "meter": ClassView(("power_kw", "energy_kwh", "voltage", "current_a", "water_m3"),
                       ("h.demand", "h.energy", "h.voltage", "h.current"), _meter_summary, _meter_detail, _never),
}
GENERIC = ClassView((), ("h.value",) * 4, _generic_summary, _generic_detail, _never)


def view_of(eq) -> ClassView:
    """The class view of an equipment instance (generic for unknown classes)."""
    return VIEWS.get(eq.equipment_class, GENERIC)


def points_of(eq, view: ClassView | None = None) -> list[str]:
    """The tag paths a class view reads for ``eq`` (every tag for the generic view)."""
    view = view or view_of(eq)
    if not view.points:
        return list(eq.tags)
    return [p for p in (SiteIndex.point(eq, n) for n in view.points) if p in eq.tags]


def abnormal(v: Values, eq) -> bool:
    """Equipment health: abnormal state or a point that is not Good."""
    return view_of(eq).abnormal(v, eq) or any_bad(v, eq)
