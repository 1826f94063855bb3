"""The HMI in Debian's chromium against the demo estate running in-process.

One demo tree (simulated equipment over loopback Modbus/OPC UA, collectors,
alarms, control, embedded historian, business users) serves every test of
this module; each test opens its own browser page. Simulated equipment is
changed through the simulators' fault-injection API and the tests wait on
what the page shows, with timeouts.
"""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path

import pytest
import pytest_twisted

from collectors.testing import aio_test, wait_until
from twisted.internet.defer import Deferred

from .harness import CHROMIUM_ARGS, VIEWER, login, start_demo

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(300)]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "hmi"
OPERATOR = ("operator", "operator-demo-2026")
CHILLER = "plant/chiller-1"
SUPPLY = f"{CHILLER}/supply_temp"


def _task(coro):
    return Deferred.fromFuture(asyncio.ensure_future(coro))


@pytest_twisted.async_yield_fixture(scope="module")
async def demo(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hmi-demo")
    d = await _task(start_demo(tmp, scan="250ms", scan_devices=("plant-chiller-1",)))
    try:
        await _task(wait_until(lambda: d.ctx.tags.get(SUPPLY).quality.is_good, timeout=60, what="chiller data"))
        yield d
    finally:
        await _task(d.stop())


@pytest_twisted.async_yield_fixture(scope="module")
async def browser(chromium_path):
    from playwright.async_api import async_playwright

    async def start():
        pw = await async_playwright().start()
        b = await pw.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        return pw, b
    pw, b = await _task(start())
    try:
        yield b
    finally:
        async def stop():
            await b.close()
            await pw.stop()
        await _task(stop())


async def _page(browser):
    return await browser.new_page(viewport={"width": 1280, "height": 860})


async def _shot(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.jpg"), type="jpeg", quality=45, full_page=False)


def _value(page, path: str):
    return page.locator(f'[data-path="{path}"]').first


@aio_test
async def test_login_refuses_wrong_password_then_overview_shows_live_values(demo, browser):
    page = await _page(browser)
    await page.goto(demo.url)
    await page.get_by_role("button", name="Log in").wait_for(timeout=30000)
    inputs = page.locator("input")
    await inputs.nth(0).fill("operator")
    await inputs.nth(1).fill("not-the-password")
    await page.get_by_role("button", name="Log in").click()
    await page.locator('[data-login="error"]').wait_for(timeout=30000)
    await login(page, demo.url, *OPERATOR)
    await page.get_by_text("Harbour View Demo Estate: overview").wait_for(timeout=30000)
    # Key values are computed from live tags: demand in kW and the chillers' supply temperature.
    await page.locator('[data-key="demand"]').first.wait_for(timeout=30000)
    chw = _value(page, SUPPLY)
    await chw.wait_for(timeout=30000)
    assert await chw.get_attribute("data-q") == "good"
    await page.locator(f'[data-path="{SUPPLY}"]', has_text="°C").first.wait_for(timeout=10000)
    await _shot(page, "overview")
    await page.close()


@aio_test
async def test_simulator_change_appears_on_the_equipment_page_within_one_second(demo, browser):
    page = await _page(browser)
    await login(page, f"{demo.url}?page=equipment&id={CHILLER}", *OPERATOR)
    value = _value(page, SUPPLY)
    await value.wait_for(timeout=30000)
    await _shot(page, "equipment-chiller")
    for target in (8.37, 6.91):
        demo.hub.freeze(SUPPLY, target)
        # The field change travels simulator → Modbus poll (250 ms) → tag database → this
        # session's next push (250 ms) → browser: it must show within one second.
        await page.locator(f'[data-path="{SUPPLY}"]', has_text=f"{target:.2f} °C").first.wait_for(timeout=1000)
    demo.hub.unfreeze(SUPPLY)
    await page.close()


@aio_test
async def test_alarm_in_banner_and_summary_acknowledged_with_comment_journal_has_user(demo, browser):
    lift = "tower-a/elevator-2"
    alarm_id = f"{lift}/fault_code:ENTRAPMENT"
    page = await _page(browser)
    await login(page, demo.url, *OPERATOR)
    demo.hub.inject_elevator_fault(lift, "entrapment")
    banner = page.locator(f'[data-banner] [data-alarm="{alarm_id}"]')
    await banner.wait_for(timeout=30000)
    assert "entrapment" in (await banner.inner_text()).lower()
    await _shot(page, "banner")
    await page.get_by_role("button", name="Alarm summary").click()
    row = page.locator(".tabulator-row", has_text=alarm_id)
    await row.wait_for(timeout=30000)
    assert "Active, unacknowledged" in await row.inner_text()     # the state as words, not its code
    await _shot(page, "alarm-summary")
    await row.locator('input[type="checkbox"]').first.click()          # the selection checkbox
    await page.get_by_placeholder("why").fill("technician dispatched, call logged")
    await page.get_by_role("button", name="Acknowledge selected").click()
    await page.locator('[data-result="ack"]', has_text="1 acknowledged by operator").wait_for(timeout=10000)
    engine = demo.ctx.provides["alarms"]
    assert engine.get(alarm_id).acked
    store = demo.ctx.provides["alarm_system"].store

    def journaled():
        return [r for r in store.query(alarm_id=alarm_id) if r["kind"] in ("ack", "reset")]
    rows = await wait_until(journaled, timeout=10, what="journal row of the acknowledgement")
    assert rows[-1]["user"] == "operator" and rows[-1]["comment"] == "technician dispatched, call logged"
    # Shelve it, find it under the Shelved filter with who shelved it, and unshelve it again.
    await row.locator('input[type="checkbox"]').first.click()
    await page.get_by_placeholder("why").fill("lift team on site")
    await page.get_by_role("button", name="Shelve selected", exact=True).click()
    await page.locator('[data-result="shelve"]', has_text="1 shelved by operator").wait_for(timeout=10000)
    state = page.locator("select").filter(has=page.locator("option", has_text="Out of service"))
    await state.select_option(label="Shelved")
    shelved = page.locator(".tabulator-row", has_text=alarm_id).filter(has_text="lift team on site")
    await shelved.wait_for(timeout=10000)
    await shelved.locator('input[type="checkbox"]').first.click()
    await page.get_by_placeholder("why").fill("lift team finished")
    await page.get_by_role("button", name="Unshelve selected").click()
    await page.locator('[data-result="unshelve"]', has_text="1 unshelved by operator").wait_for(timeout=10000)
    assert not engine.get(alarm_id).shelved
    rows = await wait_until(lambda: store.query(alarm_id=alarm_id, kind="unshelve"), timeout=10,
                            what="journal row of the unshelve")
    assert (rows[0]["user"], rows[0]["comment"]) == ("operator", "lift team finished")
    demo.hub.clear_elevator_fault(lift)
    await page.close()


@aio_test
async def test_a_zh_session_shows_the_banner_and_summary_in_chinese_and_acknowledges(demo, browser):
    lift = "mall/elevator-2"
    alarm_id = f"{lift}/fault_code:ENTRAPMENT"
    page = await _page(browser)
    await page.goto(demo.url)
    await page.get_by_role("button", name="zh", exact=True).click()
    await page.get_by_role("button", name="登录").wait_for(timeout=30000)
    inputs = page.locator("input")
    await inputs.nth(0).fill(OPERATOR[0])
    await inputs.nth(1).fill(OPERATOR[1])
    await page.get_by_role("button", name="登录").click()
    await page.get_by_text("Harbour View Demo Estate：总览").wait_for(timeout=30000)
    demo.hub.inject_elevator_fault(lift, "entrapment")
    try:
        banner = page.locator(f'[data-banner] [data-alarm="{alarm_id}"]')
        await banner.wait_for(timeout=30000)
        assert "活动，未确认" in await banner.inner_text()
        await page.get_by_role("button", name="报警汇总").click()
        row = page.locator(".tabulator-row", has_text=alarm_id)
        await row.wait_for(timeout=30000)
        text = await row.inner_text()
        assert "活动，未确认" in text and "紧急" in text and "unack_active" not in text
        await page.locator(".tabulator-col", has_text="报警信息").first.wait_for(timeout=10000)
        await _shot(page, "alarm-summary-zh")
        await row.locator('input[type="checkbox"]').first.click()
        await page.get_by_placeholder("原因").fill("已派维保人员")
        await page.get_by_role("button", name="确认所选报警").click()
        await page.locator('[data-result="ack"]', has_text="operator 已确认 1 条报警").wait_for(timeout=10000)
        assert demo.ctx.provides["alarms"].get(alarm_id).acked
    finally:
        demo.hub.clear_elevator_fault(lift)
    await page.close()


@aio_test
async def test_operator_writes_a_setpoint_device_confirms_viewer_cannot(demo, browser):
    setpoint = f"{CHILLER}/setpoint"
    page = await _page(browser)
    await login(page, f"{demo.url}?page=equipment&id={CHILLER}", *OPERATOR)
    entry = page.get_by_label("setpoint (°C)")
    await entry.wait_for(timeout=30000)
    await entry.fill("7.5")
    await entry.press("Enter")
    await page.get_by_role("button", name="Set setpoint").click()
    result = page.locator('[data-command="done"]', has_text=setpoint)
    await result.wait_for(timeout=15000)
    assert "confirmed" in await result.inner_text()
    assert demo.hub.value(setpoint) == pytest.approx(7.5)
    await _shot(page, "faceplate")
    records = demo.ctx.provides["commands"].recent(5, path=setpoint)
    assert records[0].user == "operator" and records[0].source == "hmi" and records[0].status == "done"
    await page.close()

    viewer = await _page(browser)
    await login(viewer, f"{demo.url}?page=equipment&id={CHILLER}", *VIEWER)
    button = viewer.get_by_role("button", name="Set setpoint")
    await button.wait_for(timeout=30000)
    assert await button.is_disabled()
    assert await viewer.get_by_role("button", name="Start").is_disabled()
    await viewer.locator("[data-viewonly]").wait_for(timeout=5000)
    await viewer.close()
    assert demo.hub.value(setpoint) == pytest.approx(7.5)


@aio_test
async def test_trend_renders_historian_data_for_a_range_and_exports_csv(demo, browser):
    history = demo.ctx.provides["history"]
    from datetime import datetime, timedelta, timezone

    async def stored():
        now = datetime.now(timezone.utc)
        from hmi.aio import run
        data = await run(history.raw([SUPPLY], now - timedelta(minutes=15), now + timedelta(seconds=1)))
        return len(data.get(SUPPLY, []))
    for _ in range(200):
        if await stored() >= 3:
            break
        await asyncio.sleep(0.1)
    page = await _page(browser)
    await login(page, f"{demo.url}?page=trends&tags={SUPPLY},{CHILLER}/return_temp", *OPERATOR)
    status = page.locator("[data-points]")
    await status.wait_for(timeout=30000)
    assert int(await status.get_attribute("data-points")) > 0
    await page.locator("canvas").first.wait_for(timeout=10000)
    # another range: 15 minutes
    await page.locator("select:not([multiple])").first.select_option("15 min")
    await page.get_by_role("button", name="Show").click()
    await page.locator("[data-points]", has_text="points from").wait_for(timeout=10000)
    await _shot(page, "trends")
    async with page.expect_download(timeout=15000) as info:
        await page.get_by_role("button", name="Export CSV").click()
    download = await info.value
    text = Path(await download.path()).read_text()
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["timestamp", "tag", "value"]
    assert {r[1] for r in rows[1:]} >= {SUPPLY}
    await page.close()


@aio_test
async def test_stopped_device_shows_bad_quality_then_recovers(demo, browser):
    page = await _page(browser)
    await login(page, f"{demo.url}?page=equipment&id={CHILLER}", *OPERATOR)
    await _value(page, SUPPLY).wait_for(timeout=30000)
    await demo.hub.stop_device("plant-chiller-1")
    try:
        bad = page.locator(f'[data-path="{SUPPLY}"][data-q="bad"]').first
        await bad.wait_for(timeout=30000)
        assert "Bad" in await bad.inner_text()
        await _shot(page, "bad-quality")
    finally:
        await demo.hub.restart_device("plant-chiller-1")
    await page.locator(f'[data-path="{SUPPLY}"][data-q="good"]').first.wait_for(timeout=30000)
    await page.close()


@aio_test
async def test_hierarchy_building_class_equipment_navigation(demo, browser):
    page = await _page(browser)
    await login(page, demo.url, *OPERATOR)
    await page.get_by_role("button", name="Tower A").click()
    await page.get_by_role("button", name="Elevators (2)").wait_for(timeout=30000)
    await _shot(page, "building")
    await page.get_by_role("button", name="Elevators (2)").click()
    await page.get_by_role("button", name="Tower A lift 1").wait_for(timeout=30000)
    await _shot(page, "class-elevators")
    await page.get_by_role("button", name="Tower A lift 1").click()
    await page.locator(".shaft").first.wait_for(timeout=30000)
    await page.locator('[data-path="tower-a/elevator-1/current_floor"]').first.wait_for(timeout=10000)
    await page.locator("[data-asset]").wait_for(timeout=30000)      # linked business asset
    await _shot(page, "equipment-elevator")
    await page.close()


@aio_test
async def test_generated_parking_and_meter_displays(demo, browser):
    page = await _page(browser)
    await login(page, f"{demo.url}?page=equipment&id=car-park/counters", *OPERATOR)
    await page.get_by_text("Last hour:").wait_for(timeout=30000)
    await page.locator('[data-path="car-park/counters/free"]').first.wait_for(timeout=30000)
    await _shot(page, "equipment-parking")
    await page.get_by_role("button", name="Overview").click()
    await page.get_by_role("button", name="Underground car park").click()
    await page.get_by_role("button", name="Parking spaces (200)").click()
    await page.locator(".spaces span").nth(199).wait_for(timeout=30000)      # the 200-space grid
    await page.get_by_role("button", name="Overview").click()
    await page.get_by_role("button", name="Central plant room").click()
    await page.get_by_role("button", name="Meters (1)").click()
    await page.get_by_role("button", name="Chiller plant").click()
    await page.get_by_text("Today's consumption").wait_for(timeout=30000)
    await page.locator('[data-path="plant/meter-chillers/power_kw"]').first.wait_for(timeout=30000)
    await page.close()
