"""Every REST mount of the full demo tree is documented in /api/v1/openapi.json."""

from __future__ import annotations

import json

import treq

from collectors.testing import aio_test
from tests.hmi.harness import start_demo, wait


@aio_test
async def test_every_mounted_resource_of_the_demo_is_in_openapi(tmp_path):
    demo = await start_demo(tmp_path, historian=True)
    try:
        base = demo.ctx.provides["api_url"]
        response = await wait(treq.get(f"{base}/openapi.json"))
        assert response.code == 200
        doc = json.loads(await wait(response.content()))
        documented = {path.split("/")[1] for path in doc["paths"]}
        mounted = set(demo.ctx.api_routes)
        assert {"history", "alarms", "units", "workorders", "finance"} <= mounted
        assert mounted <= documented, f"mounted but undocumented: {sorted(mounted - documented)}"
        history = {p for p in doc["paths"] if p.startswith("/history")}
        assert history == {"/history", "/history/at", "/history/events", "/history/status", "/history/quarantine"}
    finally:
        await demo.stop()
