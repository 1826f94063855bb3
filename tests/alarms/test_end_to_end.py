"""End to end with the demo: simulated chiller excursion → collector → alarm → e-mail on loopback SMTP.

The real service tree (tagdb, alarms, simulators, collectors) runs the bundled
demo site (examples/demo, including its alarms.yaml) on free ports; the test
uses the simulators' fault-injection API to push chiller 1's supply
temperature above its HH limit and waits for the notification at an aiosmtpd
server started here (the demo's e-mail channel follows SPMS_DEMO_SMTP_PORT).
"""

from __future__ import annotations

import pytest
from twisted.internet import reactor

from collectors.sim.demo import load_demo
from collectors.testing import aio_test, free_port, start_smtp, wait_deferred, wait_until
from tagdb.server.root import Component, build_root, make_context

pytestmark = pytest.mark.slow

COMPONENTS = (Component("tagdb", "tagdb.service", lambda s: True),
              Component("alarms", "alarms.service", lambda s: True),
              Component("simulators", "collectors.simulators_service", lambda s: True),
              Component("collectors", "collectors.service", lambda s: True))
TEMP = "plant/chiller-1/supply_temp"


@aio_test
async def test_chiller_excursion_and_lift_entrapment_raise_alarms_and_emails_arrive(tmp_path, monkeypatch):
    smtp_port = free_port()
    smtp, inbox = start_smtp(smtp_port)
    monkeypatch.setenv("SPMS_DEMO_SMTP_PORT", str(smtp_port))
    site = load_demo()
    ctx = make_context(site, reactor, tmp_path)
    root = build_root(site, reactor, tmp_path, components=COMPONENTS, context=ctx)
    hub = ctx.provides["simulators"]
    # Pin the chiller running (so the chillers-off suppression stays off) before the first poll.
    hub.freeze("plant/chiller-1/running", True)
    await wait_deferred(root.startService())
    engine = ctx.provides["alarms"]
    try:
        await wait_until(lambda: ctx.tags.get(TEMP).quality.is_good, timeout=30, what="chiller data")
        assert engine.get(f"{TEMP}:HH").state.value == "normal"
        hub.freeze(TEMP, 14.5)                       # the excursion: above HH (13 °C)
        await wait_until(lambda: engine.get(f"{TEMP}:HH").state.value == "unack_active", timeout=60,
                         what="HH alarm (20 s on-delay)")
        assert engine.get(f"{TEMP}:H").state.value == "normal"      # H waits 5 min: pull-down after a start
        await wait_until(lambda: any("critically high" in e.content.decode(errors="replace")
                                     for e in inbox.messages), timeout=30, what="e-mail at the SMTP server")
        mail = next(e for e in inbox.messages if "critically high" in e.content.decode(errors="replace"))
        text = mail.content.decode(errors="replace")
        assert mail.mail_from == "spms-alarms@harbourview.example"
        assert mail.rcpt_tos[0] in ("li.wei@harbourview.example", "chen.jie@harbourview.example")
        assert "[CRITICAL]" in text and "14.5" in text and "plant/chiller-1/supply_temp:HH" in text
        rows = ctx.provides["alarm_system"].store.query(alarm_id=f"{TEMP}:HH")
        assert rows and rows[-1]["kind"] == "activate" and rows[-1]["value"] == pytest.approx(14.5)

        # A lift entrapment over OPC UA: critical, latching, the lift contractor is told at once.
        lift = "tower-a/elevator-1/fault_code:ENTRAPMENT"
        assert engine.get(lift).state.value == "normal"
        hub.inject_elevator_fault("tower-a/elevator-1", "entrapment")
        await wait_until(lambda: engine.get(lift).state.value == "unack_active", timeout=30,
                         what="entrapment alarm")
        await wait_until(lambda: any("lifts@otis-service.example" in e.rcpt_tos for e in inbox.messages),
                         timeout=30, what="e-mail to the lift contractor")
        lift_mail = next(e for e in inbox.messages if "lifts@otis-service.example" in e.rcpt_tos)
        assert "Passenger entrapment in tower-a/elevator-1" in lift_mail.content.decode(errors="replace")
        hub.clear_elevator_fault("tower-a/elevator-1")
        await wait_until(lambda: engine.get(lift).state.value == "latched", timeout=30, what="latched")
    finally:
        await wait_deferred(root.stopService())
        smtp.stop()
