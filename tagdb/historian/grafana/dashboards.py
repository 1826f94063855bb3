"""Dashboards generated from the site model: site overview, one per building, one per equipment class.

Queries follow the point schema of :mod:`tagdb.historian.points`: a measurement
per equipment class with tags ``equipment``, ``building``, ``point`` and
``path``; alarm events in ``alarm_events``; the historian's own figures in
``system``. Every query is raw InfluxQL with Grafana's ``$timeFilter`` and
``$__interval`` macros, which the test suite fills in and runs against a real
InfluxDB.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.builders import timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import (DashboardCursorSync, DashboardLinkType, DataSourceRef,
                                                     VariableRefresh, VariableSort)

from ..points import EVENT_MEASUREMENT, SYSTEM_MEASUREMENT
from ..sinks.influx_query import quote_ident, quote_str
from .influxql import INFLUX_TYPE, InfluxAnnotation, InfluxAnnotationBuilder, InfluxQLQuery

EQUIPMENT_CLASSES = ("elevator", "chiller", "ahu", "lighting", "parking", "meter")
MAX_POINTS_PER_CLASS_IN_BUILDING = 6

#: Site units to Grafana unit ids; anything else is shown as a suffix.
UNITS = {"°C": "celsius", "degC": "celsius", "C": "celsius", "°F": "fahrenheit", "%": "percent",
         "W": "watt", "kW": "kwatt", "Wh": "watth", "kWh": "kwatth", "MWh": "mwatth", "V": "volt", "A": "amp",
         "Hz": "hertz", "Pa": "pressurepa", "kPa": "pressurekpa", "bar": "pressurebar", "rpm": "rotrpm",
         "s": "s", "ms": "ms", "h": "h", "kg": "masskg", "lux": "lux", "lx": "lux", "m/s": "velocityms",
         "ppm": "ppm", "m³": "m3", "m3": "m3", "L": "litre", "kvar": "kvar", "kVA": "kvoltamp"}


def grafana_unit(units: str) -> str:
    """The Grafana unit id of a site unit (``suffix:<units>`` when Grafana has none)."""
    if not units:
        return "none"
    return UNITS.get(units.strip(), f"suffix: {units.strip()}")


@dataclass
class ClassInfo:
    """What the site has of one equipment class: instances, points (with units) and buildings."""

    name: str
    instances: list[str] = field(default_factory=list)
    points: dict[str, str] = field(default_factory=dict)       # point -> units
    bool_points: set[str] = field(default_factory=set)
    buildings: set[str] = field(default_factory=set)


def site_classes(site) -> dict[str, ClassInfo]:
    """Equipment classes of the site with their numeric points (strings cannot be charted)."""
    classes: dict[str, ClassInfo] = {}
    for eq in site.equipment:
        info = classes.setdefault(eq.equipment_class, ClassInfo(eq.equipment_class))
        info.instances.append(eq.id)
        if eq.building:
            info.buildings.add(eq.building)
        for path in eq.tags:
            try:
                spec = site.tag(path)
            except KeyError:
                continue
            if not spec.is_numeric or not spec.history or not path.startswith(eq.id + "/"):
                continue
            point = path[len(eq.id) + 1:]
            info.points.setdefault(point, spec.units)
            if spec.data_type == "bool":
                info.bool_points.add(point)
    return classes


def _slug(s: str) -> str:
    return re.sub(r"[^a-z0-9-]+", "-", s.lower()).strip("-")[:40] or "x"


class DashboardSet:
    """Builds every dashboard of a site for one InfluxDB data source."""

    def __init__(self, site, datasource_uid: str = "spms-influxdb") -> None:
        self.site = site
        self.ds = DataSourceRef(type_val=INFLUX_TYPE, uid=datasource_uid)
        self.classes = site_classes(site)

    # -- pieces -------------------------------------------------------------------------------------

    def _panel(self, title: str, query: str, units: str = "", alias: str = "$tag_equipment",
               bool_: bool = False) -> timeseries.Panel:
        panel = (timeseries.Panel().title(title).datasource(self.ds).unit(grafana_unit(units))
                 .height(8).span(12).line_width(1).fill_opacity(10)
                 .with_target(InfluxQLQuery(query).ref_id("A").alias(alias).datasource(self.ds)))
        if bool_:
            panel = panel.line_interpolation("stepAfter").min(0).max(1)
        return panel

    def _series_query(self, measurement: str, point: str, where: str, bool_: bool) -> str:
        fn = "max" if bool_ else "mean"
        return (f'SELECT {fn}("value") FROM {quote_ident(measurement)} WHERE "point" = {quote_str(point)} '
                f'AND {where} AND $timeFilter GROUP BY time($__interval), "equipment" fill(none)')

    def _annotation(self, name: str, where: str = "") -> InfluxAnnotationBuilder:
        cond = f"{where} AND $timeFilter" if where else "$timeFilter"
        q = f'SELECT "message", "state", "path", "priority" FROM "{EVENT_MEASUREMENT}" WHERE {cond}'
        return InfluxAnnotationBuilder(InfluxAnnotation(name, q, self.ds))

    def _base(self, uid: str, title: str, tags: list[str]) -> dash.Dashboard:
        return (dash.Dashboard(title).uid(uid).tags(["spms", *tags]).refresh("30s").time("now-6h", "now")
                .timezone(self.site.timezone or "browser").tooltip(DashboardCursorSync.CROSSHAIR)
                .link(dash.DashboardLink("SPMS").type(DashboardLinkType.DASHBOARDS).tags(["spms"])
                      .as_dropdown(True).include_vars(False).keep_time(True)))

    # -- dashboards ------------------------------------------------------------------------------------

    def equipment_class(self, cls: str) -> dash.Dashboard:
        """One class, all instances, ``$instance`` template variable (multi, All)."""
        info = self.classes.get(cls) or ClassInfo(cls)
        d = self._base(f"spms-class-{_slug(cls)}", f"{self.site.name} · {cls}", ["class", cls])
        d = d.with_variable(
            dash.QueryVariable("instance").label(cls.capitalize()).datasource(self.ds)
            .query(f'SHOW TAG VALUES FROM {quote_ident(cls)} WITH KEY = "equipment"')
            .multi(True).include_all(True).refresh(VariableRefresh.ON_DASHBOARD_LOAD)
            .sort(VariableSort.ALPHABETICAL_ASC))
        d = d.annotation(self._annotation(f"{cls} alarms", '"equipment" =~ /^$instance$/'))
        for point, units in sorted(info.points.items()):
            q = self._series_query(cls, point, '"equipment" =~ /^$instance$/', point in info.bool_points)
            d = d.with_panel(self._panel(f"{point}" + (f" ({units})" if units else ""), q, units,
                                         bool_=point in info.bool_points))
        return d

    def building(self, building) -> dash.Dashboard:
        """One building: a row per equipment class present, a few key points each."""
        d = self._base(f"spms-building-{_slug(building.id)}", f"{self.site.name} · {building.name}",
                       ["building", building.id])
        d = d.annotation(self._annotation(f"{building.name} alarms", f'"building" = {quote_str(building.id)}'))
        for cls, info in sorted(self.classes.items()):
            if building.id not in info.buildings or not info.points:
                continue
            d = d.with_row(dash.Row(cls.capitalize()))
            for point, units in sorted(info.points.items())[:MAX_POINTS_PER_CLASS_IN_BUILDING]:
                q = self._series_query(cls, point, f'"building" = {quote_str(building.id)}',
                                       point in info.bool_points)
                d = d.with_panel(self._panel(f"{cls} · {point}", q, units, bool_=point in info.bool_points))
        return d

    def site_overview(self) -> dash.Dashboard:
        """Alarms per building, the historian's own health, and one key point per equipment class."""
        d = self._base("spms-site", f"{self.site.name} · site overview", ["site"])
        d = d.annotation(self._annotation("All alarms"))
        d = d.with_row(dash.Row("Alarms and historian"))
        d = d.with_panel(self._panel(
            "Alarm activations per building",
            f'SELECT count("message") FROM "{EVENT_MEASUREMENT}" WHERE "state" = \'active\' AND $timeFilter '
            'GROUP BY time($__interval), "building" fill(none)', alias="$tag_building"))
        for figure, units in (("queue_depth", ""), ("write_rate", "pts/s"), ("oldest_age_s", "s"),
                              ("dropped", "")):
            d = d.with_panel(self._panel(
                f"Historian {figure.replace('_', ' ')}",
                f'SELECT last("value") FROM "{SYSTEM_MEASUREMENT}" WHERE "path" =~ '
                f'/^_system\\/historian\\/[^\\/]+\\/{figure}$/ AND $timeFilter '
                'GROUP BY time($__interval), "path" fill(none)', units, alias="$tag_path"))
        d = d.with_row(dash.Row("Equipment"))
        for cls, info in sorted(self.classes.items()):
            if not info.points:
                continue
            point, units = sorted(info.points.items())[0]
            q = self._series_query(cls, point, '"equipment" =~ /.+/', point in info.bool_points)
            d = d.with_panel(self._panel(f"{cls} · {point}", q, units, bool_=point in info.bool_points))
        return d

    def all(self) -> dict[str, dict[str, Any]]:
        """Every dashboard as Grafana JSON, keyed by file name."""
        out = {"site-overview.json": self.site_overview()}
        for b in self.site.buildings:
            out[f"building-{_slug(b.id)}.json"] = self.building(b)
        for cls in sorted(set(EQUIPMENT_CLASSES) | set(self.classes)):
            out[f"class-{_slug(cls)}.json"] = self.equipment_class(cls)
        return {name: to_json(d) for name, d in out.items()}


def to_json(builder: dash.Dashboard) -> dict[str, Any]:
    """A built dashboard as plain JSON data (what Grafana stores)."""
    return json.loads(json.dumps(builder.build(), cls=JSONEncoder))


def queries_of(dashboard: dict[str, Any]) -> list[tuple[str, str]]:
    """Every InfluxQL query of a dashboard JSON: (where, query) for panels, variables, annotations."""
    out = []
    for panel in dashboard.get("panels", []):
        for target in panel.get("targets", []) or []:
            if target.get("query"):
                out.append((f"panel {panel.get('title')!r}", target["query"]))
    for var in (dashboard.get("templating") or {}).get("list", []):
        if isinstance(var.get("query"), str) and var.get("type") == "query":
            out.append((f"variable {var.get('name')!r}", var["query"]))
    for ann in (dashboard.get("annotations") or {}).get("list", []):
        if ann.get("query"):
            out.append((f"annotation {ann.get('name')!r}", ann["query"]))
    return out
