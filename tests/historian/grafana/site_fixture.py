"""A small site with every equipment class, for the Grafana tests."""

from __future__ import annotations

from tagdb.historian.schema import SECTION
from tagdb.site.errors import Loc
from tagdb.site.model import Building, Equipment, SiteModel, TagSpec

CLASS_POINTS = {
    "elevator": [("current_floor", "int16", ""), ("load_kg", "float32", "kg"), ("door_open", "bool", "")],
    "chiller": [("supply_temp", "float32", "°C"), ("power_kw", "float32", "kW")],
    "ahu": [("supply_air_temp", "float32", "°C"), ("fan_speed", "float32", "%")],
    "lighting": [("power_w", "float32", "W"), ("on", "bool", "")],
    "parking": [("occupied", "int16", ""), ("mode", "string", "")],
    "meter": [("energy_kwh", "float64", "kWh"), ("power_kw", "float32", "kW")],
}
INSTANCES = {"elevator": [("tower-a", "elevator-1"), ("tower-a", "elevator-2"), ("tower-b", "elevator-3")],
             "chiller": [("plant", "chiller-1")], "ahu": [("tower-a", "ahu-1"), ("tower-b", "ahu-2")],
             "lighting": [("tower-b", "lighting-1")], "parking": [("car-park", "parking-1")],
             "meter": [("tower-a", "meter-1"), ("tower-b", "meter-2")]}


def grafana_site(influx_url: str = "http://127.0.0.1:8086", database: str = "spms") -> SiteModel:
    buildings = tuple(Building(b, b.replace("-", " ").title()) for b in ("tower-a", "tower-b", "plant", "car-park"))
    tags, equipment = [], []
    for cls, instances in INSTANCES.items():
        for building, inst in instances:
            eq_id = f"{building}/{inst}"
            paths = []
            for point, dt, units in CLASS_POINTS[cls]:
                path = f"{eq_id}/{point}"
                tags.append(TagSpec(path, dt, None, None, units=units, equipment=eq_id))
                paths.append(path)
            equipment.append(Equipment(eq_id, cls, cls, inst, building, None, None, {}, tuple(paths)))
    section, errors = SECTION.check({"sinks": {"influx": {"type": "influxdb", "url": influx_url,
                                                          "database": database}}}, "historian", Loc("t"))
    assert not errors
    return SiteModel(name="Grafana Test Estate", timezone="Asia/Shanghai", files=(), buildings=buildings,
                     devices={}, tags=tuple(tags), equipment=tuple(equipment), sections={"historian": section})
