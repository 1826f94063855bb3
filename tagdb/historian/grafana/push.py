"""``spms grafana push``: create or update the data source, folder and dashboards over Grafana's HTTP API.

Why treq and not grafana-client: grafana-client 5.x pulls in niquests and
urllib3-future, which replaces the ``urllib3`` module for every package in the
environment (influxdb-client and requests use it); 4.x is requests-based and
blocking. The handful of endpoints used here (``/api/folders``,
``/api/datasources``, ``/api/dashboards/db``) are stable across Grafana 8-11,
and treq runs on the reactor like the rest of spms.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from twisted.web.client import Agent
from treq.client import HTTPClient

from ..errors import HistorianError
from .dashboards import DashboardSet
from .provisioning import datasource, influx_target

log = logging.getLogger("spms.historian.grafana")


class GrafanaError(HistorianError):
    """Grafana refused a request (status and its message)."""


class GrafanaClient:
    """The few Grafana HTTP API calls spms needs, over treq."""

    def __init__(self, url: str, token: str, reactor: Any, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.reactor = reactor
        self.timeout = timeout
        self._headers = {"Authorization": [f"Bearer {token}"], "Accept": ["application/json"]}
        self._http = HTTPClient(Agent(reactor))

    async def call(self, method: str, path: str, body: Any = None, ok=(200,)) -> tuple[int, Any]:
        """One request; returns (status, JSON) or raises GrafanaError for other statuses."""
        headers = dict(self._headers)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = ["application/json"]
        try:
            resp = await self._http.request(method, self.url + path, data=data, headers=headers,
                                            reactor=self.reactor, timeout=self.timeout)
            text = await resp.text("utf-8")
        except Exception as exc:
            raise GrafanaError(f"{method} {self.url}{path}: {type(exc).__name__}: {exc}") from exc
        try:
            payload = json.loads(text) if text else None
        except ValueError:
            payload = {"message": text[:300]}
        if resp.code not in ok:
            msg = payload.get("message") if isinstance(payload, dict) else text[:300]
            raise GrafanaError(f"{method} {path} answered {resp.code}: {msg}")
        return resp.code, payload


async def push(site, url: str, token: str, reactor: Any, *, influx_url: str | None = None,
               database: str | None = None) -> dict[str, Any]:
    """Create or update folder, data source and every dashboard; returns what was done."""
    client = GrafanaClient(url, token, reactor)
    section = (site.section("historian") or {}).get("grafana") or {}
    folder_title = section.get("folder") or "SPMS"
    folder_uid = "spms"
    ds = datasource(influx_target(site, influx_url, database), section.get("datasource_name") or "spms-influxdb")
    done: dict[str, Any] = {"folder": None, "datasource": None, "dashboards": []}

    code, _ = await client.call("GET", f"/api/folders/{folder_uid}", ok=(200, 404))
    if code == 404:
        await client.call("POST", "/api/folders", {"uid": folder_uid, "title": folder_title})
        done["folder"] = "created"
    else:
        done["folder"] = "exists"

    code, existing = await client.call("GET", f"/api/datasources/uid/{ds['uid']}", ok=(200, 404))
    if code == 404:
        await client.call("POST", "/api/datasources", ds)
        done["datasource"] = "created"
    else:
        await client.call("PUT", f"/api/datasources/uid/{ds['uid']}", {**ds, "id": existing.get("id")})
        done["datasource"] = "updated"

    for name, dashboard in DashboardSet(site, datasource_uid=ds["uid"]).all().items():
        body = {"dashboard": {**dashboard, "id": None}, "folderUid": folder_uid, "overwrite": True,
                "message": "spms grafana push"}
        _, answer = await client.call("POST", "/api/dashboards/db", body)
        done["dashboards"].append({"file": name, "uid": dashboard["uid"],
                                   "status": (answer or {}).get("status", "success"),
                                   "version": (answer or {}).get("version")})
    return done
