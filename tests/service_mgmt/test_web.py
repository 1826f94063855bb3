"""Manager web views of service management: which tabs whom, and the served board in chromium."""

from __future__ import annotations

import asyncio

import pytest
import pytest_twisted

from business.permissions import principal_for
from collectors.testing import free_port

from .support import ADMIN, start_api


@pytest.mark.browser
@pytest.mark.timeout(180)
@pytest_twisted.ensureDeferred
async def test_board_detail_and_dashboard_in_the_browser(tmp_path, chromium_path):
    from playwright.async_api import async_playwright

    from business.service_mgmt.web import service_tabs

    port = free_port()
    root, base, w, token = await start_api(tmp_path, f"sqlite:///{tmp_path / 'b.db'}",
                                           web={"enabled": True, "port": port, "language": "zh"})
    try:
        ctx = root.context
        api, svc = ctx.provides["business"], ctx.provides["service_mgmt"]
        # who gets which tabs
        assert service_tabs(api, principal_for("r", [("owner", f"unit:{w['uA']}")]), "zh") == []
        assert len(service_tabs(api, principal_for("m", [("manager", "property:demo")]), "zh")) == 4
        assert len(service_tabs(api, principal_for("t", [("technician", "property:demo")]), "en")) == 3
        o = svc.orders.call(svc.orders.create_tx, ADMIN, {"kind": "emergency", "title": "电梯困人演练",
                                                          "asset_id": w["aA"]})[0]
        token("mgr", [("manager", "property:demo")])
        url = ctx.provides["business_web_url"]

        async def browse():
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=chromium_path, args=["--no-sandbox", "--disable-gpu"])
                page = await browser.new_page()
                await page.goto(url)
                await page.get_by_text("登录", exact=False).first.wait_for(timeout=30000)
                inputs = page.locator("input")
                await inputs.nth(0).fill("mgr")
                await inputs.nth(1).fill("Passw0rd-Demo")
                await page.get_by_role("button", name="登录").click()
                await page.get_by_text("工单看板").first.wait_for(timeout=30000)
                await page.get_by_text("工单看板").first.click()
                await page.get_by_text(o["number"]).first.wait_for(timeout=30000)
                await page.get_by_text("电梯困人演练").first.wait_for(timeout=30000)
                await page.screenshot(path=str(tmp_path / "board.png"))
                await page.get_by_text("工单详情").first.click()
                spin = page.locator(".bk-input-group input").last
                await spin.fill(str(o["id"]))
                await spin.press("Enter")
                await page.get_by_text("处理记录").first.wait_for(timeout=30000)
                await page.get_by_text("create").first.wait_for(timeout=30000)
                await page.get_by_text("服务质量").first.click()
                await page.get_by_text("average_rating").first.wait_for(timeout=30000)
                # every wait above found its text inside Bokeh's shadow DOM (page.content() cannot see it)
                await page.screenshot(path=str(tmp_path / "dashboard.png"))
                await browser.close()
                return True
        assert await _as_deferred(browse())
        assert (tmp_path / "board.png").stat().st_size > 10_000
    finally:
        await root.stopService()


def _as_deferred(coro):
    from twisted.internet.defer import Deferred
    return Deferred.fromFuture(asyncio.ensure_future(coro))
