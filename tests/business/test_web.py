"""Manager web views: their data functions on the scoped CRUD layer, and the served page in chromium."""

from __future__ import annotations

import asyncio

import pytest
import pytest_twisted

from business.permissions import principal_for
from business.web import data
from business.web.i18n import MESSAGES, t
from collectors.testing import free_port

from .apiserver import start, world_for
from .conftest import ADMIN


def test_catalogue_has_both_languages():
    assert all(zh and en for zh, en in MESSAGES.values())
    assert t("col.gross_area", "zh") == "建筑面积" and t("col.gross_area", "en") == "Gross area"
    assert t("no.such.key", "en") == "no.such.key"


def test_tables_are_scoped_searchable_and_labelled(db, crud, world):
    manager_a = principal_for("mgr-a", [("manager", "building:tower-a")])
    result = db.call(lambda s: data.table(s, crud, manager_a, "units", "zh"))
    assert "建筑面积" in result["columns"] and result["total"] == 2
    codes = {row[result["keys"].index("code")] for row in result["rows"]}
    assert codes == {"1201", "1202"}
    found = db.call(lambda s: data.table(s, crud, ADMIN, "people", "en", search="王"))
    assert found["total"] == 1 and "Phone" in found["columns"]
    resident = principal_for("res", [("owner", f"unit:{world['uA']}")])
    assert db.call(lambda s: data.table(s, crud, resident, "staff", "zh"))["error"] == "forbidden"
    assert db.call(lambda s: data.building_options(s, crud, manager_a)) == {"tower-a Tower A": world["bA"]}


def test_form_submit_reports_field_errors_and_saves(db, crud, world):
    manager_a = principal_for("mgr-a", [("manager", "building:tower-a")])
    bad = db.call(lambda s: data.submit(s, crud, manager_a, "units", {"building_id": world["bA"], "code": "",
                                                                      "floor": "x", "gross_area": "",
                                                                      "inner_area": "40"}))
    assert not bad["ok"] and set(bad["fields"]) == {"code", "floor", "gross_area"}
    ok = db.call(lambda s: data.submit(s, crud, manager_a, "units", {"building_id": str(world["bA"]), "code": "1501",
                                                                     "floor": "15", "gross_area": "88.00",
                                                                     "inner_area": "70.00", "use": ""}))
    assert ok["ok"] and ok["record"]["gross_area"] == "88.00"
    denied = db.call(lambda s: data.submit(s, crud, manager_a, "units", {"building_id": world["bB"], "code": "1",
                                                                         "floor": "1", "gross_area": "1",
                                                                         "inner_area": "1"}))
    assert not denied["ok"] and denied["code"] == "forbidden"


@pytest.mark.browser
@pytest.mark.timeout(180)
@pytest_twisted.ensureDeferred
async def test_served_page_login_and_units_table(tmp_path, chromium_path):
    from playwright.async_api import async_playwright
    port = free_port()
    server = await start(tmp_path, f"sqlite:///{tmp_path / 'b.db'}",
                         web={"enabled": True, "port": port, "language": "zh"})
    try:
        w = world_for(server)
        server.add_user("mgr", [("manager", "building:tower-a")], password="Manager-Pass-1")
        url = server.ctx.provides["business_web_url"]

        async def browse():
            async with async_playwright() as pw:
                browser = await pw.chromium.launch(executable_path=chromium_path,
                                                   args=["--no-sandbox", "--disable-gpu"])
                page = await browser.new_page()
                await page.goto(url)
                await page.get_by_text("登录", exact=False).first.wait_for(timeout=30000)
                inputs = page.locator("input")
                await inputs.nth(0).fill("mgr")
                await inputs.nth(1).fill("wrong-password")
                await page.get_by_role("button", name="登录").click()
                await page.get_by_text("用户名或密码错误").wait_for(timeout=30000)
                await inputs.nth(1).fill("Manager-Pass-1")
                await page.get_by_role("button", name="登录").click()
                await page.get_by_text("建筑面积").first.wait_for(timeout=30000)
                await page.get_by_text("1202").first.wait_for(timeout=30000)
                text = await page.content()
                await page.screenshot(path=str(tmp_path / "units.png"))
                await page.get_by_text("住户", exact=True).click()
                await page.get_by_text("张伟").first.wait_for(timeout=30000)
                await page.get_by_text("员工与考勤").click()
                await page.get_by_text("赵工").first.wait_for(timeout=30000)
                await page.get_by_text("迟到(分)").first.wait_for(timeout=30000)
                await page.get_by_text("设备台账").click()
                await page.get_by_text("Elevator A1").first.wait_for(timeout=30000)
                await page.get_by_text("en", exact=True).click()
                await page.get_by_text("Gross area").first.wait_for(timeout=30000)
                await page.get_by_text("Assets", exact=True).click()
                await page.get_by_text("Elevator A1").first.wait_for(timeout=30000)
                spin = page.locator(".bk-input-group input").last
                await spin.fill(str(w["aA"]))
                await spin.press("Enter")
                await page.get_by_text("Run hours").first.wait_for(timeout=30000)
                await page.screenshot(path=str(tmp_path / "english.png"))
                text += await page.content()
                await browser.close()
                return text
        html = await _as_deferred(browse())
        assert "0801" not in html            # tower-b's unit is outside the manager's building
        assert "钱工" not in html and "王芳" not in html and "Elevator B1" not in html
    finally:
        await server.root.stopService()


def _as_deferred(coro):
    from twisted.internet.defer import Deferred
    return Deferred.fromFuture(asyncio.ensure_future(coro))
