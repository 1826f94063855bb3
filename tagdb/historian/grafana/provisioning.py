"""Grafana provisioning files: data source YAML, dashboard provider YAML and dashboard JSON.

Layout written by ``spms grafana export DIR`` (copy or mount DIR as Grafana's
``provisioning`` folder, e.g. ``/etc/grafana/provisioning``)::

    DIR/datasources/spms.yaml
    DIR/dashboards/spms.yaml
    DIR/dashboards/spms/*.json
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..errors import HistorianError
from .dashboards import DashboardSet


@dataclass(frozen=True)
class InfluxTarget:
    """The InfluxDB Grafana reads from (URL as Grafana sees it, database, optional credentials)."""

    url: str
    database: str
    user: str | None = None
    password: str | None = None
    token: str | None = None


def influx_target(site, url: str | None = None, database: str | None = None) -> InfluxTarget:
    """The target from the site's first ``influxdb`` sink (and ``historian.grafana``), overridable."""
    section = site.section("historian") or {}
    sink = next((c for c in (section.get("sinks") or {}).values() if c.get("type") == "influxdb"), None)
    grafana = section.get("grafana") or {}
    url = url or grafana.get("datasource_url") or (sink or {}).get("url")
    database = database or (sink or {}).get("database")
    if not url or not database:
        raise HistorianError("Grafana needs InfluxDB: configure an influxdb sink under historian.sinks "
                             "or pass --influx-url and --database")
    sink = sink or {}
    return InfluxTarget(url=url, database=database, user=sink.get("username"), password=sink.get("password"),
                        token=sink.get("token"))


def datasource(target: InfluxTarget, name: str = "spms-influxdb", uid: str = "spms-influxdb") -> dict:
    """The InfluxQL data source definition (provisioning entry and HTTP API body alike)."""
    ds = {"name": name, "uid": uid, "type": "influxdb", "access": "proxy", "url": target.url,
          "database": target.database, "isDefault": False, "editable": True,
          "jsonData": {"dbName": target.database, "httpMode": "GET", "timeInterval": "1s"}}
    secure = {}
    if target.user:
        ds["user"] = target.user
        secure["password"] = target.password or ""
    if target.token:
        ds["jsonData"]["httpHeaderName1"] = "Authorization"
        # `+`, not an f-string: a token from ${NAME} stays a reference in the file (tagdb.site.envsubst)
        secure["httpHeaderValue1"] = "Token " + target.token
    if secure:
        ds["secureJsonData"] = secure
    return ds


def export(site, out_dir: str | Path, *, url: str | None = None, database: str | None = None,
           dashboards_path: str | None = None) -> list[Path]:
    """Write the provisioning tree for ``site`` under ``out_dir``; returns the files written."""
    out = Path(out_dir)
    section = (site.section("historian") or {}).get("grafana") or {}
    name = section.get("datasource_name") or "spms-influxdb"
    folder = section.get("folder") or "SPMS"
    target = influx_target(site, url, database)
    (out / "datasources").mkdir(parents=True, exist_ok=True)
    dash_dir = out / "dashboards" / "spms"
    dash_dir.mkdir(parents=True, exist_ok=True)
    written = []
    ds_file = out / "datasources" / "spms.yaml"
    ds_file.write_text(yaml.safe_dump({"apiVersion": 1, "datasources": [datasource(target, name)]},
                                      sort_keys=False))
    written.append(ds_file)
    provider = {"apiVersion": 1, "providers": [{
        "name": "spms", "orgId": 1, "folder": folder, "type": "file", "disableDeletion": False,
        "allowUiUpdates": False, "updateIntervalSeconds": 60,
        "options": {"path": dashboards_path or str(dash_dir.resolve()), "foldersFromFilesStructure": False}}]}
    prov_file = out / "dashboards" / "spms.yaml"
    prov_file.write_text(yaml.safe_dump(provider, sort_keys=False))
    written.append(prov_file)
    for old in dash_dir.glob("*.json"):
        old.unlink()  # a dashboard dropped from the site must not linger
    for file_name, dashboard in DashboardSet(site, datasource_uid="spms-influxdb").all().items():
        path = dash_dir / file_name
        path.write_text(json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written
