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
from .quality import GOOD

DIRECTION = {-1: "▼ down", 0: "idle", 1: "▲ up"}
DOOR = {0: "closed", 1: "opening", 2: "open", 3: "closing"}
ELEVATOR_FAULT = {0: "none", 1: "door", 2: "overload", 3: "entrapment", 4: "safety"}
CHILLER_FAULT = {0: "none", 1: "low flow", 2: "high pressure", 3: "compressor trip"}


def val(v: Values, eq, name: str, digits: int = 1, labels: dict | None = None) -> str:
    """One point of an equipment as a value with its quality."""
    path = SiteIndex.point(eq, name)
    if path not in eq.tags:
        return "—"
    return r.value(path, v.shown(path, digits, labels))


def barv(ix: SiteIndex, v: Values, eq, name: str, digits: int = 1) -> str:
    """An analog point as a bar with its normal range (a plain value when it has no scale)."""
    path = SiteIndex.point(eq, name)
    if path not in eq.tags:
        return "—"
    scale = ix.scale(path)
    shown = v.shown(path, digits)
    if scale is None:
        return r.value(path, shown)
    return r.bar(path, shown, v.number(path), scale[0], scale[1], ix.normal(path))


def lampv(v: Values, eq, name: str, on: str, off: str, alarm_when: bool | None = None) -> str:
    """A discrete point as a lamp (orange only when its state is the abnormal one)."""
    path = SiteIndex.point(eq, name)
    if path not in eq.tags:
        return "—"
    return r.lamp(path, v.shown(path), on, off, alarm_when, v.good(path))


def any_bad(v: Values, eq) -> bool:
    """True when a point of the equipment is not Good (Bad, Uncertain, stale)."""
    return any(v.not_good(p) for p in eq.tags)


@dataclass(frozen=True)
class ClassView:
    """How one equipment class is displayed."""

    points: tuple[str, ...]
    headers: tuple[str, ...]
    summary: Callable[[SiteIndex, Values, Any], list[str]]
    detail: Callable[[SiteIndex, Values, Any], str]
    abnormal: Callable[[Values, Any], bool]


# -- elevator -----------------------------------------------------------------------------------

def _elevator_summary(ix, v, eq):
    return [val(v, eq, "current_floor", 0), val(v, eq, "direction", labels=DIRECTION),
            val(v, eq, "door_state", labels=DOOR), lampv(v, eq, "in_service", "in service", "OUT OF SERVICE", False),
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
    shaft = (f'<div class="shaft" style="height:{height}px" title="floors {bottom} to {top}">{car}</div>')
    table = r.rows([("Floor", val(v, eq, "current_floor", 0)), ("Direction", val(v, eq, "direction", labels=DIRECTION)),
                    ("Moving", lampv(v, eq, "running", "moving", "stopped")),
                    ("Door", val(v, eq, "door_state", labels=DOOR)),
                    ("In service", lampv(v, eq, "in_service", "in service", "OUT OF SERVICE", False)),
                    ("Fault", val(v, eq, "fault_code", labels=ELEVATOR_FAULT)),
                    ("Emergency call", lampv(v, eq, "emergency_call", "CALL", "no call", True)),
                    ("Load", barv(ix, v, eq, "load_pct")), ("Trips", val(v, eq, "trips", 0)),
                    ("Run hours", val(v, eq, "run_hours", 1))])
    return f'<div style="display:flex;gap:16px">{shaft}{table}</div>'


def _elevator_abnormal(v, eq):
    fault = v.good(SiteIndex.point(eq, "fault_code"))
    return bool(fault) or v.good(SiteIndex.point(eq, "in_service")) is False or \
        bool(v.good(SiteIndex.point(eq, "emergency_call")))


# -- chiller ------------------------------------------------------------------------------------

def _chiller_summary(ix, v, eq):
    return [lampv(v, eq, "running", "running", "stopped"), val(v, eq, "supply_temp", 1), val(v, eq, "setpoint", 1),
            val(v, eq, "load_pct", 0), val(v, eq, "power_kw", 0),
            lampv(v, eq, "alarm", "ALARM", "normal", True)]


def _chiller_detail(ix, v, eq):
    box = '<div class="box">{}</div>'
    arrow = '<span class="arrow">→</span>'
    return ('<div class="schem">'
            + box.format("<b>Condenser water</b><br>" + barv(ix, v, eq, "condenser_temp")) + arrow
            + box.format("<b>Compressor</b><br>" + lampv(v, eq, "running", "running", "stopped") + "<br>load "
                         + barv(ix, v, eq, "load_pct", 0) + "<br>power " + val(v, eq, "power_kw", 0)
                         + "<br>COP " + val(v, eq, "cop", 2)) + arrow
            + box.format("<b>Chilled water</b><br>supply " + barv(ix, v, eq, "supply_temp", 2) + "<br>return "
                         + barv(ix, v, eq, "return_temp", 2) + "<br>setpoint " + val(v, eq, "setpoint", 1))
            + "</div>"
            + r.rows([("Common alarm", lampv(v, eq, "alarm", "ALARM", "normal", True)),
                      ("Alarm code", val(v, eq, "alarm_code", labels=CHILLER_FAULT)),
                      ("Run hours", val(v, eq, "run_hours", 1))]))


def _chiller_abnormal(v, eq):
    return bool(v.good(SiteIndex.point(eq, "alarm"))) or bool(v.good(SiteIndex.point(eq, "alarm_code")))


# -- air-handling unit --------------------------------------------------------------------------

def _ahu_summary(ix, v, eq):
    return [lampv(v, eq, "fan_status", "running", "stopped"), val(v, eq, "supply_air_temp", 1),
            val(v, eq, "sat_setpoint", 1), val(v, eq, "valve_pct", 0), val(v, eq, "filter_dp", 0)]


def _ahu_detail(ix, v, eq):
    box = '<div class="box">{}</div>'
    arrow = '<span class="arrow">→</span>'
    mismatch = _fan_mismatch(v, eq)
    fan = lampv(v, eq, "fan_status", "running", "stopped") + (
        ' <span class="lamp alarm">CMD MISMATCH</span>' if mismatch else "")
    return ('<div class="schem">'
            + box.format("<b>Return air</b><br>" + barv(ix, v, eq, "return_air_temp")) + arrow
            + box.format("<b>Mixed air</b><br>" + barv(ix, v, eq, "mixed_air_temp")) + arrow
            + box.format("<b>Filter</b><br>ΔP " + barv(ix, v, eq, "filter_dp", 0)) + arrow
            + box.format("<b>CHW coil</b><br>valve " + barv(ix, v, eq, "valve_pct", 0)) + arrow
            + box.format("<b>Supply fan</b><br>" + fan + "<br>airflow " + val(v, eq, "airflow", 0)) + arrow
            + box.format("<b>Supply air</b><br>" + barv(ix, v, eq, "supply_air_temp") + "<br>setpoint "
                         + val(v, eq, "sat_setpoint", 1))
            + "</div>" + r.rows([("Fan command", lampv(v, eq, "fan_cmd", "start", "stop")),
                                 ("Fan hours", val(v, eq, "fan_hours", 1))]))


def _fan_mismatch(v, eq) -> bool:
    cmd, status = v.good(SiteIndex.point(eq, "fan_cmd")), v.good(SiteIndex.point(eq, "fan_status"))
    return cmd is not None and status is not None and bool(cmd) != bool(status)


# -- lighting -----------------------------------------------------------------------------------

def _lighting_summary(ix, v, eq):
    return [lampv(v, eq, "status", "on", "off"), lampv(v, eq, "command", "on", "off"), val(v, eq, "lux", 0)]


def _lighting_detail(ix, v, eq):
    return r.rows([("Circuit", lampv(v, eq, "status", "on", "off")), ("Command", lampv(v, eq, "command", "on", "off")),
                   ("Illuminance", barv(ix, v, eq, "lux", 0))])


def _lighting_abnormal(v, eq):
    cmd, status = v.good(SiteIndex.point(eq, "command")), v.good(SiteIndex.point(eq, "status"))
    return cmd is not None and status is not None and bool(cmd) != bool(status)


# -- parking ------------------------------------------------------------------------------------

def _parking_summary(ix, v, eq):
    if SiteIndex.has(eq, "free"):
        return [val(v, eq, "occupied", 0), val(v, eq, "free", 0), val(v, eq, "entries", 0), val(v, eq, "exits", 0)]
    return [lampv(v, eq, "open", "open", "closed"), lampv(v, eq, "vehicle_present", "vehicle", "clear"),
            lampv(v, eq, "open_cmd", "open cmd", "—"), ""]


def _parking_detail(ix, v, eq):
    if SiteIndex.has(eq, "free"):
        occ, free = v.number(SiteIndex.point(eq, "occupied")), v.number(SiteIndex.point(eq, "free"))
        total = (occ or 0) + (free or 0)
        occupancy = f"{occ * 100 / total:.0f} %" if occ is not None and free is not None and total else "—"
        return r.rows([("Occupied", val(v, eq, "occupied", 0)), ("Free spaces", val(v, eq, "free", 0)),
                       ("Occupancy", occupancy), ("Entries (counter)", val(v, eq, "entries", 0)),
                       ("Exits (counter)", val(v, eq, "exits", 0))])
    return r.rows([("Barrier", lampv(v, eq, "open", "open", "closed")),
                   ("Loop detector", lampv(v, eq, "vehicle_present", "vehicle", "clear")),
                   ("Open command", lampv(v, eq, "open_cmd", "held open", "released"))])


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
    head = f"<div>{occupied} of {len(spaces)} occupied" + (f", {bad} without a good reading" if bad else "") + "</div>"
    return head + '<div class="spaces">' + "".join(cells) + "</div>"


# -- meters -------------------------------------------------------------------------------------

def _meter_summary(ix, v, eq):
    return [val(v, eq, "power_kw", 2), val(v, eq, "energy_kwh", 2), val(v, eq, "voltage", 1),
            val(v, eq, "current_a", 1)]


def _meter_detail(ix, v, eq):
    return r.rows([("Demand", val(v, eq, "power_kw", 2)), ("Energy (register)", val(v, eq, "energy_kwh", 2)),
                   ("Voltage", barv(ix, v, eq, "voltage")), ("Current", val(v, eq, "current_a", 2)),
                   ("Water (register)", val(v, eq, "water_m3", 3))])


# -- generic ------------------------------------------------------------------------------------

def _generic_summary(ix, v, eq):
    return [val(v, eq, p.rsplit("/", 1)[1]) for p in eq.tags[:4]]


def _generic_detail(ix, v, eq):
    return points_table(v, eq)


def points_table(v: Values, eq) -> str:
    """Every point of the equipment with value, quality and description."""
    rows = []
    for path in eq.tags:
        spec = v.spec(path)
        shown = v.shown(path, 2)
        q = shown.why or ("Good" if shown.state == GOOD else shown.state)
        rows.append(f"<tr><th>{escape(path.rsplit('/', 1)[1])}</th><td>{r.value(path, shown)}</td>"
                    f"<td>{escape(q)}</td><td>{escape(spec.description if spec else '')}</td></tr>")
    head = "<tr><th>point</th><th>value</th><th>quality</th><th>description</th></tr>"
    return "<table>" + head + "".join(rows) + "</table>"


def _never(v, eq):
    return False


VIEWS: dict[str, ClassView] = {
    "elevator": ClassView(("current_floor", "direction", "door_state", "running", "in_service", "load_pct", "trips",
                           "run_hours", "fault_code", "emergency_call"),
                          ("floor", "direction", "door", "service", "fault"), _elevator_summary, _elevator_detail,
                          _elevator_abnormal),
    "chiller": ClassView(("running", "supply_temp", "return_temp", "setpoint", "load_pct", "power_kw", "cop", "alarm",
                          "alarm_code", "condenser_temp", "run_hours"),
                         ("state", "CHW supply", "setpoint", "load", "power", "alarm"), _chiller_summary,
                         _chiller_detail, _chiller_abnormal),
    "ahu": ClassView(("fan_cmd", "fan_status", "valve_pct", "sat_setpoint", "supply_air_temp", "return_air_temp",
                      "mixed_air_temp", "filter_dp", "airflow", "fan_hours"),
                     ("fan", "supply air", "setpoint", "valve", "filter ΔP"), _ahu_summary, _ahu_detail,
                     _fan_mismatch),
    "lighting": ClassView(("command", "status", "lux"), ("circuit", "command", "lux"), _lighting_summary,
                          _lighting_detail, _lighting_abnormal),
    "parking": ClassView(("occupied", "free", "entries", "exits", "open", "vehicle_present", "open_cmd"),
                         ("state / occupied", "loop / free", "cmd / entries", "exits"), _parking_summary,
                         _parking_detail, _never),
    "meter": ClassView(("power_kw", "energy_kwh", "voltage", "current_a", "water_m3"),
                       ("demand", "energy", "voltage", "current"), _meter_summary, _meter_detail, _never),
}
GENERIC = ClassView((), ("value",) * 4, _generic_summary, _generic_detail, _never)


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
