"""The hmi component: opting out, serving on the configured address, leaving SIGINT to the server."""

from __future__ import annotations

import signal
from types import MappingProxyType

import treq

from collectors.testing import aio_test, free_port
from hmi.service import from_config
from tagdb.database import TagDatabase
from tagdb.server.context import ServerContext
from tagdb.site.model import SiteModel, TagSpec
from twisted.internet import reactor

from .harness import wait


def _ctx(tmp_path, sections):
    site = SiteModel(name="hmi-test", timezone="UTC", files=(), buildings=(), devices={},
                     tags=(TagSpec("x/y/z", "float64", None, None, access="rw"),), equipment=(),
                     sections=MappingProxyType(sections))
    ctx = ServerContext(site=site, reactor=reactor, data_dir=tmp_path)
    ctx.tags = TagDatabase(list(site.tags), reactor)
    return ctx


def test_no_section_or_disabled_opts_out(tmp_path):
    assert from_config(_ctx(tmp_path, {})) is None
    assert from_config(_ctx(tmp_path, {"hmi": {"enabled": False}})) is None


@aio_test
async def test_serves_the_login_page_on_loopback_and_keeps_the_sigint_handler(tmp_path):
    port = free_port()
    ctx = _ctx(tmp_path, {"hmi": {"port": port, "address": "127.0.0.1"}})
    service = from_config(ctx)
    assert service.name == "hmi" and ctx.provides["hmi"] is service
    ctx.provides["panel_routes"] = {"other": lambda: __import__("panel").pane.Markdown("other app")}

    def mine(signum, frame):
        pass
    previous = signal.signal(signal.SIGINT, mine)
    try:
        service.startService()
        assert signal.getsignal(signal.SIGINT) is mine
        assert ctx.provides["hmi_url"] == f"http://127.0.0.1:{port}/hmi"
        response = await wait(treq.get(ctx.provides["hmi_url"]))
        assert response.code == 200
        body = await wait(response.text())
        assert "bokeh" in body.lower()
        assert service.health()["sessions"] == 1 and service.health()["subscriptions"] == 0
        other = await wait(treq.get(f"http://127.0.0.1:{port}/other"))
        assert other.code == 200                  # another app on the same Panel server
    finally:
        service.stopService()
        signal.signal(signal.SIGINT, previous)
