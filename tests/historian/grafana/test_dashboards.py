"""Generated dashboards: structure, provisioning files, and every InfluxQL query run against real InfluxDB.

No Grafana server can run here: the JSON is checked for the structure Grafana
loads, and each query (with $timeFilter, $__interval and $instance filled in the
way Grafana does) must return rows from an InfluxDB holding data written by the
historian's own InfluxDB sink.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import timedelta

import pytest
import pytest_twisted
import yaml
from twisted.internet import reactor

from tagdb.contracts import HistoryEvent
from tagdb.historian.grafana.dashboards import EQUIPMENT_CLASSES, DashboardSet, grafana_unit, queries_of
from tagdb.historian.grafana.provisioning import export
from tagdb.historian.points import PointSchema, event_row, tag_rows
from tagdb.historian.sinks.influx_v1 import InfluxV1Sink
from tagdb.values import GOOD, TagValue

from ..helpers import T0
from .site_fixture import INSTANCES, grafana_site


def test_every_dashboard_has_the_structure_grafana_loads():
    site = grafana_site()
    dashboards = DashboardSet(site).all()
    names = set(dashboards)
    assert "site-overview.json" in names
    assert {f"building-{b.id}.json" for b in site.buildings} <= names
    assert {f"class-{c}.json" for c in EQUIPMENT_CLASSES} <= names
    uids = [d["uid"] for d in dashboards.values()]
    assert len(set(uids)) == len(uids)
    for name, d in dashboards.items():
        assert d["title"] and d["time"] == {"from": "now-6h", "to": "now"} and "spms" in d["tags"]
        assert d["annotations"]["list"], name
        panels = [p for p in d["panels"] if p["type"] != "row"]
        assert panels, name
        for p in panels:
            assert p["datasource"] == {"type": "influxdb", "uid": "spms-influxdb"}
            assert p["gridPos"]["w"] == 12 and p["gridPos"]["h"] == 8
            (target,) = p["targets"]
            assert target["rawQuery"] is True and "$timeFilter" in target["query"]
    elevator = dashboards["class-elevator.json"]
    (var,) = elevator["templating"]["list"]
    assert (var["name"], var["type"], var["multi"], var["includeAll"]) == ("instance", "query", True, True)
    assert all("/^$instance$/" in p["targets"][0]["query"] for p in elevator["panels"])
    units = {p["title"]: p["fieldConfig"]["defaults"]["unit"] for p in dashboards["class-chiller.json"]["panels"]}
    assert units == {"power_kw (kW)": "kwatt", "supply_temp (°C)": "celsius"}
    assert "mode" not in json.dumps(dashboards["class-parking.json"]["panels"])   # strings are not charted
    assert grafana_unit("m³/h") == "suffix: m³/h"


def test_export_writes_provisioning_files(tmp_path):
    site = grafana_site("http://influxdb:8086", "plant")
    files = export(site, tmp_path)
    ds = yaml.safe_load((tmp_path / "datasources" / "spms.yaml").read_text())
    assert ds["apiVersion"] == 1
    (source,) = ds["datasources"]
    assert (source["type"], source["url"], source["database"], source["uid"]) == (
        "influxdb", "http://influxdb:8086", "plant", "spms-influxdb")
    prov = yaml.safe_load((tmp_path / "dashboards" / "spms.yaml").read_text())
    (provider,) = prov["providers"]
    assert provider["type"] == "file" and provider["options"]["path"] == str((tmp_path / "dashboards" / "spms"))
    jsons = sorted((tmp_path / "dashboards" / "spms").glob("*.json"))
    assert len(jsons) == len(files) - 2 and all(json.loads(p.read_text())["uid"] for p in jsons)


def fill_macros(query: str, start, end, instances: list[str]) -> str:
    """Substitute Grafana's macros as its InfluxDB data source does."""
    time_filter = f"time >= {int(start.timestamp() * 1000)}ms and time <= {int(end.timestamp() * 1000)}ms"
    regex = "(" + "|".join(re.escape(i).replace("/", "\\/") for i in instances) + ")"
    return (query.replace("$timeFilter", time_filter).replace("$__interval", "1m")
            .replace("$instance", regex))


@pytest.mark.influxdb
@pytest_twisted.ensureDeferred
async def test_every_generated_query_returns_rows_from_real_influxdb(influx_url):
    db = f"grafana_{uuid.uuid4().hex[:8]}"
    site = grafana_site(influx_url, db)
    sink = InfluxV1Sink("influx", influx_url, db, reactor=reactor, schema=PointSchema(site))
    try:
        values = []
        for i in range(30):
            ts = T0 + timedelta(minutes=i)
            for spec in site.tags:
                v = "auto" if spec.data_type == "string" else (i % 2 == 0) if spec.data_type == "bool" else i * 1.5
                values.append(TagValue(spec.path, v, GOOD, ts, ts))
            for fig in ("queue_depth", "write_rate", "oldest_age_s", "dropped"):
                values.append(TagValue(f"_system/historian/influx/{fig}", float(i), GOOD, ts, ts))
        rows = [(n, *r) for n, r in enumerate(tag_rows(values))]
        for cls, instances in INSTANCES.items():
            for building, inst in instances:
                ev = HistoryEvent(ts=T0 + timedelta(minutes=5), source=f"{building}/{inst}/{cls}_fault",
                                  state="active", message=f"{inst} fault", priority=2)
                rows.append((len(rows), *event_row(ev)))
        await sink.write_points(rows)
        # Event sources are not tags: the schema files them under their equipment (and its building).
        dashboards = DashboardSet(site).all()
        start, end = T0 - timedelta(minutes=1), T0 + timedelta(hours=1)
        checked = 0
        for name, d in dashboards.items():
            cls = name[len("class-"):-len(".json")] if name.startswith("class-") else None
            instances = [f"{b}/{i}" for b, i in INSTANCES.get(cls, [])] or ["none"]
            for where, query in queries_of(d):
                series = await sink.influxql(fill_macros(query, start, end, instances))
                assert series and any(s.get("values") for s in series), f"{name} {where}: no rows for {query}"
                if query.startswith("SHOW TAG VALUES"):
                    assert {v[1] for v in series[0]["values"]} == set(instances)
                checked += 1
        assert checked > 40
    finally:
        await sink._query(f'DROP DATABASE "{db}"', method="POST")
        await sink.close()
