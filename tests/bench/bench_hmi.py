"""HMI benchmark: field-change-to-screen latency in the browser with 1 and 20 sessions, CPU per session.

The demo estate runs in a child process on the asyncio reactor (simulators,
collectors, alarms, control, business users, HMI); chiller 1 is polled every
250 ms. Each sample forces a new chiller supply temperature in the simulator
(the field) and waits, in every open browser page, until the page shows it:
Playwright polls the page on animation frames, and the completion time is
taken when the wait returns. Figures: p50/p95 from the simulator change
(includes the Modbus poll) and from the tag database's change (the HMI's own
share: subscription, the session's batched push, websocket, browser). CPU per
session is the tag-server process's CPU with 20 sessions on the site overview
(the page with the most live values) minus the CPU with none, per session.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SUPPLY = "plant/chiller-1/supply_temp"
SAMPLES = 12
CPU_WINDOW_S = 10.0
POLL_MS = 20
# Runs in the page: the time (browser clock, ms) at which the value shows, else false. Panel renders
# each pane in a shadow root, so the element is looked up through them once and then kept.
FIND = """([path, text]) => {
  const find = (root) => {
    const el = root.querySelector(`[data-path="${path}"]`);
    if (el) return el;
    for (const n of root.querySelectorAll('*')) {
      if (n.shadowRoot) { const f = find(n.shadowRoot); if (f) return f; }
    }
    return null;
  };
  let el = window.__benchEl;
  if (!el || !el.isConnected) { el = window.__benchEl = find(document); }
  return el && el.textContent.includes(text) ? Date.now() : false;
}"""


def run():
    """Run the child and turn its JSON into BenchResults."""
    from tests.bench.harness import BenchResult

    out = subprocess.run([sys.executable, "-m", "tests.bench.bench_hmi", "--child"], cwd=ROOT,
                         capture_output=True, text=True, timeout=900,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    if out.returncode != 0:
        raise RuntimeError(f"benchmark child failed:\n{out.stderr[-4000:]}")
    return [BenchResult(**r) for r in json.loads(out.stdout.strip().splitlines()[-1])]


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    if not s:
        return float("nan")
    k = min(len(s) - 1, max(0, round(q * (len(s) - 1))))
    return s[k]


async def _sessions(browser, url: str, n: int, page_args: str):
    from tests.hmi.harness import login
    pages = []
    for _ in range(n):
        page = await browser.new_page(viewport={"width": 1200, "height": 800})
        await login(page, f"{url}?{page_args}", "operator", "operator-demo-2026")
        pages.append(page)
    return pages


async def _latency(demo, pages, samples: int, offset: float) -> tuple[list[float], list[float]]:
    import asyncio
    arrived: dict[str, float] = {}

    def on_change(batch):
        for tv in batch:
            arrived.setdefault(f"{tv.value:.2f}", time.time())
    sub = demo.ctx.tags.subscribe(SUPPLY, on_change)
    field, server = [], []
    rng = random.Random(int(offset))
    try:
        for k in range(samples):
            target = round(offset + 0.37 * k, 2)
            text = f"{target:.2f} °C"

            async def seen(page):
                handle = await page.wait_for_function(FIND, arg=[SUPPLY, text], polling=POLL_MS, timeout=20000)
                return (await handle.json_value()) / 1000.0
            t0 = time.time()
            demo.hub.freeze(SUPPLY, target)
            times = await asyncio.gather(*(seen(p) for p in pages))
            _say(f"sample {k}: {max(times) - t0:.3f} s")
            t_tag = arrived.get(f"{target:.2f}", t0)
            field += [t - t0 for t in times]
            server += [t - t_tag for t in times]
            await asyncio.sleep(rng.uniform(0.2, 0.8))   # a random phase of the poll and push periods
    finally:
        sub.cancel()
    return field, server


def _say(text: str) -> None:
    print(f"bench_hmi: {text}", file=sys.stderr, flush=True)


async def _cpu(seconds: float) -> float:
    import asyncio
    c0, t0 = time.process_time(), time.monotonic()
    await asyncio.sleep(seconds)
    return (time.process_time() - c0) / (time.monotonic() - t0)


async def _all(tmp: Path, results: list[dict]) -> None:
    from playwright.async_api import async_playwright

    from collectors.testing import wait_until
    from tests.hmi.harness import CHROMIUM_ARGS, start_demo

    demo = await start_demo(tmp, historian=False, scan="250ms", scan_devices=("plant-chiller-1",))
    try:
        await wait_until(lambda: demo.ctx.tags.get(SUPPLY).quality.is_good, timeout=60, what="chiller data")
        idle = await _cpu(CPU_WINDOW_S)
        _say(f"idle CPU {idle:.2f}")
        async with async_playwright() as pw:
            chromium = os.environ.get("SPMS_TEST_CHROMIUM", "/usr/bin/chromium")
            browser = await pw.chromium.launch(executable_path=chromium,
                                               args=CHROMIUM_ARGS)
            one = await _sessions(browser, demo.url, 1, "page=equipment&id=plant/chiller-1")
            _say("1 session open")
            f1, s1 = await _latency(demo, one, SAMPLES, 5.0)
            _say(f"1 session: {sorted(f1)}")
            more = one + await _sessions(browser, demo.url, int(os.environ.get("SPMS_BENCH_HMI_SESSIONS", "20")) - 1,
                                         "page=equipment&id=plant/chiller-1")
            _say("20 sessions open")
            f20, s20 = await _latency(demo, more, SAMPLES, 15.0)
            _say(f"20 sessions: p50 {_pct(f20, 0.5):.3f} p95 {_pct(f20, 0.95):.3f}")
            demo.hub.unfreeze(SUPPLY)
            for p in more:
                await p.get_by_role("button", name="Overview").click()
            for p in more:
                await p.locator('[data-key="demand"]').first.wait_for(timeout=30000)
            busy = await _cpu(CPU_WINDOW_S)
            await browser.close()
    finally:
        await demo.stop()
    ms = 1000.0

    def add(figure, value, unit, target=None, note=""):
        results.append({"benchmark": "hmi", "figure": figure, "value": round(value, 2), "unit": unit,
                        "lower_is_better": True, "target": target, "note": note})
    add("field→screen p50, 1 session", _pct(f1, 0.5) * ms, "ms", note="250 ms poll + 250 ms push")
    add("field→screen p95, 1 session", _pct(f1, 0.95) * ms, "ms", 1000.0)
    add("field→screen p50, 20 sessions", _pct(f20, 0.5) * ms, "ms")
    add("field→screen p95, 20 sessions", _pct(f20, 0.95) * ms, "ms", 1000.0, f"{len(f20)} page updates")
    add("tagdb→screen p50, 20 sessions", _pct(s20, 0.5) * ms, "ms", note="the HMI's own share")
    add("tagdb→screen p95, 20 sessions", _pct(s20, 0.95) * ms, "ms")
    add("tag-server CPU, no session", idle * 100, "% core")
    add("tag-server CPU per overview session", max(busy - idle, 0.0) * 100 / len(more), "% core",
        note=f"{len(more)} sessions: {busy * 100:.0f} % core in total")


def _child() -> None:
    import asyncio

    from twisted.internet import asyncioreactor

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    asyncioreactor.install(loop)
    import logging

    from twisted.internet import reactor
    from twisted.internet.defer import Deferred
    logging.basicConfig(level=logging.CRITICAL)
    results: list[dict] = []
    failure = []

    async def main():
        with tempfile.TemporaryDirectory() as tmp:
            await _all(Path(tmp), results)

    def start():
        d = Deferred.fromFuture(asyncio.ensure_future(main()))
        d.addErrback(failure.append)
        d.addBoth(lambda _: reactor.stop())
    reactor.callWhenRunning(lambda: loop.call_soon(start))
    reactor.run()
    if failure:
        failure[0].printTraceback(file=sys.stderr)
        sys.exit(1)
    print(json.dumps(results))


if __name__ == "__main__" and "--child" in sys.argv:
    _child()
