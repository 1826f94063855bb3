"""``spms grafana push`` against a local twisted.web server emulating the Grafana endpoints it calls."""

from __future__ import annotations

import json

import pytest
import pytest_twisted
from twisted.internet import reactor
from twisted.web.resource import Resource
from twisted.web.server import Site

from tagdb.historian.grafana.push import GrafanaError, push

from .site_fixture import grafana_site

TOKEN = "glsa_test_token"


class FakeGrafana(Resource):
    """Folders, data sources and dashboards kept in memory, answering like Grafana 10."""

    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.folders: dict[str, dict] = {}
        self.datasources: dict[str, dict] = {}
        self.dashboards: dict[str, dict] = {}
        self.calls: list[tuple[str, str]] = []

    def render(self, request):
        method, path = request.method.decode(), request.path.decode()
        self.calls.append((method, path))
        request.setHeader("content-type", "application/json")
        if request.getHeader("authorization") != f"Bearer {TOKEN}":
            request.setResponseCode(401)
            return b'{"message":"invalid API key"}'
        body = json.loads(request.content.read() or b"null")
        status, answer = self.route(method, path, body)
        request.setResponseCode(status)
        return json.dumps(answer).encode()

    def route(self, method, path, body):
        if method == "GET" and path.startswith("/api/folders/"):
            uid = path.rsplit("/", 1)[1]
            return (200, self.folders[uid]) if uid in self.folders else (404, {"message": "folder not found"})
        if method == "POST" and path == "/api/folders":
            self.folders[body["uid"]] = {"uid": body["uid"], "title": body["title"], "id": len(self.folders) + 1}
            return 200, self.folders[body["uid"]]
        if path.startswith("/api/datasources/uid/"):
            uid = path.rsplit("/", 1)[1]
            if method == "GET":
                return (200, self.datasources[uid]) if uid in self.datasources else (404, {"message": "not found"})
            if method == "PUT" and uid in self.datasources:
                self.datasources[uid] = {**body, "id": self.datasources[uid]["id"]}
                return 200, {"message": "Datasource updated"}
        if method == "POST" and path == "/api/datasources":
            if any(d["name"] == body["name"] for d in self.datasources.values()):
                return 409, {"message": "data source with the same name already exists"}
            self.datasources[body["uid"]] = {**body, "id": len(self.datasources) + 1}
            return 200, {"message": "Datasource added"}
        if method == "POST" and path == "/api/dashboards/db":
            d = body["dashboard"]
            if body.get("folderUid") not in self.folders:
                return 400, {"message": "folder not found"}
            version = self.dashboards.get(d["uid"], {}).get("version", 0) + 1
            self.dashboards[d["uid"]] = {**d, "version": version}
            return 200, {"status": "success", "uid": d["uid"], "version": version}
        return 404, {"message": "Not found"}


@pytest_twisted.ensureDeferred
async def test_push_creates_then_updates_everything():
    grafana = FakeGrafana()
    port = reactor.listenTCP(0, Site(grafana), interface="127.0.0.1")
    url = f"http://127.0.0.1:{port.getHost().port}"
    site = grafana_site("http://influxdb:8086", "spms")
    try:
        first = await push(site, url, TOKEN, reactor)
        assert (first["folder"], first["datasource"]) == ("created", "created")
        assert len(first["dashboards"]) == len(grafana.dashboards) >= 11
        assert grafana.datasources["spms-influxdb"]["url"] == "http://influxdb:8086"
        assert all(d["version"] == 1 for d in grafana.dashboards.values())
        second = await push(site, url, TOKEN, reactor)
        assert (second["folder"], second["datasource"]) == ("exists", "updated")
        assert all(d["version"] == 2 for d in grafana.dashboards.values())
        assert len(grafana.datasources) == 1
        with pytest.raises(GrafanaError, match="401"):
            await push(site, url, "wrong", reactor)
    finally:
        await port.stopListening()
