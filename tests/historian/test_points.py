"""The point schema: measurement per equipment class, bounded tags, escaping, precision."""

from __future__ import annotations

from tagdb.historian.points import PointSchema, event_row, tag_rows
from tagdb.contracts import HistoryEvent
from tagdb.values import BAD_COMM_FAILURE, datetime_to_ns

from .grafana.site_fixture import grafana_site
from .helpers import at, tv


def test_measurement_and_tags_come_from_the_site():
    schema = PointSchema(grafana_site())
    assert schema.series("tower-a/elevator-1/load_kg") == (
        "elevator", {"path": "tower-a/elevator-1/load_kg", "equipment": "tower-a/elevator-1",
                     "point": "load_kg", "building": "tower-a"})
    assert schema.measurement("_system/historian/influx/queue_depth") == "system"
    assert schema.measurement("misc/outdoor_temp") == "point"
    # An alarm source below an equipment belongs to it (annotations per building/instance).
    assert schema.series("plant/chiller-1/alarms/high_temp")[1]["building"] == "plant"


def test_lines_escape_and_keep_quality_and_precision():
    schema = PointSchema()
    ts = at(1.000001)
    lines = schema.encode([(1, *r) for r in tag_rows([
        tv("b 1/a,b=c", 2.5, ts), tv("x/mode", 'say "hi"\\', ts, BAD_COMM_FAILURE), tv("x/none", None, ts)])])
    us = datetime_to_ns(ts) // 1000
    assert lines[0] == f"point,path=b\\ 1/a\\,b\\=c,point=a\\,b\\=c value=2.5,quality=0i {us}"
    assert lines[1] == f'point,path=x/mode,point=mode text="say \\"hi\\"\\\\",quality={0x80050000}i {us}'
    assert lines[2] == f"point,path=x/none,point=none quality=0i {us}"
    assert schema.encode([(1, *tag_rows([tv("a/b", 1, ts)])[0])], "ns")[0].endswith(f" {datetime_to_ns(ts)}")


def test_events_become_alarm_event_lines():
    schema = PointSchema(grafana_site())
    row = (1, *event_row(HistoryEvent(ts=at(5), source="plant/chiller-1/supply_temp", state="active",
                                      message="too warm, check", priority=1, value=9.5)))
    (line,) = schema.encode([row])
    assert line.startswith("alarm_events,building=plant,equipment=plant/chiller-1,kind=alarm,"
                           "path=plant/chiller-1/supply_temp,priority=1,state=active ")
    assert 'message="too warm, check"' in line and "value=9.5" in line


def test_an_alarm_id_source_uses_the_equipment_the_alarm_engine_names():
    schema = PointSchema(grafana_site())
    row = (1, *event_row(HistoryEvent(ts=at(5), source="ALM-0042", state="acknowledged", priority=3,
                                      attributes={"equipment": "tower-b/ahu-2"})))
    (line,) = schema.encode([row])
    assert ",building=tower-b,equipment=tower-b/ahu-2," in line and ",state=acknowledged " in line
