"""One Panel server per process: the manager views ride on the HMI's server."""

from __future__ import annotations

import treq

from collectors.testing import aio_test

from .harness import start_demo, wait


@aio_test
async def test_manager_views_are_served_by_the_hmi_panel_server(tmp_path):
    demo = await start_demo(tmp_path, historian=False, business_web=True)
    try:
        hmi = demo.ctx.provides["hmi"]
        web_url = demo.ctx.provides["business_web_url"]
        assert web_url == f"http://{hmi.address}:{hmi.port}/business"
        own_port = demo.ctx.site.section("business")["web"]["port"]
        assert f":{own_port}/" not in web_url           # no second Panel server
        response = await wait(treq.get(web_url))
        assert response.code == 200
        assert "bokeh" in (await wait(response.text())).lower()
    finally:
        await demo.stop()
