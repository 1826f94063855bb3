"""The command path: permission, confirmation, interlocks, unreachable devices, read-back, audit."""

from __future__ import annotations

import json

import pytest

from control import _async
from control.commands import CommandService
from control.engine import ControlEngine
from control.interlocks import Interlock, Interlocks
from control.expr import compile_expr
from tagdb.auth import Principal
from tagdb.events import EventBus
from tagdb.values import BAD_COMM_FAILURE, WriteStatus

from .helpers import FakeDevice, make_db, put, section, spec

ALICE = Principal("alice", permissions=frozenset({"tags.write", "tags.read"}))
HMI = Principal("bob", permissions=frozenset({"hmi.command"}))
VIEWER = Principal("eve", permissions=frozenset({"tags.read"}))


def rig(delay=0.0, **kw):
    db, clock = make_db([spec("p/setpoint"), spec("p/pump_cmd", "bool"), spec("p/pump_status", "bool", access="r"),
                         spec("p/temp", access="r"), spec("p/locked", "bool", access="r")])
    dev = FakeDevice(db, clock, delay=delay)
    put(db, clock, {"p/setpoint": 20.0, "p/pump_cmd": False, "p/pump_status": False, "p/temp": 21.0,
                    "p/locked": False})
    locks = Interlocks([Interlock("lockout", ("p/pump_cmd",), compile_expr("value and {p/locked}", ("value", "path")),
                                  "pump is locked out for maintenance")], db)
    bus = EventBus()
    seen = []
    bus.subscribe(object, seen.append)
    cmds = CommandService(db, clock, interlocks=locks, critical=["p/pump_cmd"], events=bus, **kw)
    return db, clock, dev, cmds, seen


def run(clock, coro, advance=0.0, steps=1):
    out = []
    _async.start(coro).addCallbacks(out.append, out.append)
    for _ in range(steps):
        if not out:
            clock.advance(advance)
    assert out, "command did not finish"
    return out[0]


def test_done_command_is_confirmed_and_audited(tmp_path):
    db, clock, dev, cmds, events = rig(audit_path=tmp_path / "commands.jsonl")
    r = run(clock, cmds.execute(ALICE, "p/setpoint", 22.5, reason="tenant complaint"))
    assert r.status == "done" and r.ok
    assert (r.user, r.path, r.old_value, r.new_value, r.reason, r.readback) == \
        ("alice", "p/setpoint", 20.0, 22.5, "tenant complaint", 22.5)
    assert dev.writes == [("p/setpoint", 22.5, clock.seconds())]
    line = json.loads((tmp_path / "commands.jsonl").read_text().splitlines()[-1])
    assert line["status"] == "done" and line["user"] == "alice" and line["old_value"] == 20.0
    assert events == [r]


def test_read_back_arriving_later_within_the_timeout():
    db, clock, dev, cmds, _ = rig(delay=2.0, readback_timeout=5.0)
    r = run(clock, cmds.execute(ALICE, "p/setpoint", 23.0), advance=1.0, steps=5)
    assert r.status == "done" and r.finished_ts.timestamp() - r.ts.timestamp() == pytest.approx(2.0)


def test_not_confirmed_within_the_timeout_is_failed():
    db, clock, dev, cmds, _ = rig(delay=None, readback_timeout=3.0)   # accepts, never reads back
    r = run(clock, cmds.execute(ALICE, "p/setpoint", 24.0), advance=1.0, steps=5)
    assert r.status == "failed" and "did not confirm" in r.message and r.readback == 20.0
    assert r.write_status == "ok"          # the device took the write; the device never showed it


def test_refusals_are_audited_too():
    db, clock, dev, cmds, events = rig()
    cases = [
        (VIEWER, "p/setpoint", 1.0, {}, "refused", "lacks permission 'tags.write'"),
        (HMI, "p/setpoint", 1.0, {}, "refused", "lacks permission 'tags.write'"),
        (ALICE, "p/nope", 1.0, {}, "refused", "no tag"),
        (ALICE, "p/temp", 1.0, {}, "refused", "read-only"),
        (ALICE, "p/pump_cmd", True, {}, "confirmation_required", "confirm"),
    ]
    for who, path, value, kw, status, text in cases:
        r = run(clock, cmds.execute(who, path, value, **kw))
        assert r.status == status and text in r.message, (path, r)
    # The HMI path needs hmi.command rather than tags.write.
    assert run(clock, cmds.execute(HMI, "p/setpoint", 19.0, source="hmi")).ok
    # Critical write with confirmation, then the interlock.
    assert run(clock, cmds.execute(ALICE, "p/pump_cmd", True, confirm=True)).ok
    put(db, clock, {"p/locked": True})
    r = run(clock, cmds.execute(ALICE, "p/pump_cmd", True, confirm=True))
    assert r.status == "refused" and "locked out" in r.message
    # Switching off is still allowed (the interlock only blocks value true).
    assert run(clock, cmds.execute(ALICE, "p/pump_cmd", False, confirm=True)).ok
    assert len(cmds.records) == len(cases) + 4 == len(events)
    assert len(dev.writes) == 3


def test_unreachable_device_fails_at_once_and_nothing_is_queued():
    db, clock, dev, cmds, _ = rig(readback_timeout=5.0)
    db.set_quality("dev", BAD_COMM_FAILURE.with_detail("connection refused"))
    db.flush()
    r = run(clock, cmds.execute(ALICE, "p/setpoint", 25.0))        # finished without advancing time
    assert r.status == "failed" and r.write_status == "device_unreachable"
    assert "unreachable" in r.message and "connection refused" in r.message
    assert dev.writes == []
    put(db, clock, {"p/setpoint": 20.0})                              # device back
    clock.advance(60)
    assert dev.writes == []                                           # the old command never fires later


def test_device_refusal_is_failed_with_its_status():
    db, clock, dev, cmds, _ = rig()
    dev.refuse = WriteStatus.DEVICE_EXCEPTION
    r = run(clock, cmds.execute(ALICE, "p/setpoint", 25.0))
    assert r.status == "failed" and r.write_status == "device_exception"


def test_feedback_tag_confirms_a_command():
    db, clock, dev, cmds, _ = rig(feedback={"*_cmd": "*_status"}, readback_timeout=5.0)

    def pump(path, value):
        put(db, clock, {path: value})
        clock.callLater(2.0, put, db, clock, {"p/pump_status": value})
    dev.on_write = pump
    r = run(clock, cmds.execute(ALICE, "p/pump_cmd", True, confirm=True), advance=1.0, steps=4)
    assert r.status == "done" and "p/pump_status" in r.message


def test_recent_filters():
    db, clock, dev, cmds, _ = rig()
    run(clock, cmds.execute(ALICE, "p/setpoint", 21.0))
    run(clock, cmds.execute(VIEWER, "p/setpoint", 22.0))
    assert [r.user for r in cmds.recent(10)] == ["eve", "alice"]
    assert [r.user for r in cmds.recent(10, user="alice")] == ["alice"]


def test_engine_internal_targets_are_audited_with_refusals():
    db, clock = make_db([spec("z/temp", access="r"), spec("z/valve")])
    FakeDevice(db, clock)
    engine = ControlEngine(section("""
loops:
  zone: {pv: z/temp, out: z/valve, sp: 21, kp: 2, ti: 30s}
"""), db, clock)
    put(db, clock, {"z/temp": 20.0})
    engine.start()
    clock.advance(1.0)
    r = run(clock, engine.commands.execute(ALICE, "_system/control/loops/zone/mode", "sideways"))
    assert r.status == "refused" and "mode must be one of" in r.message
    r = run(clock, engine.commands.execute(VIEWER, "_system/control/loops/zone/mode", "manual"))
    assert r.status == "refused" and "permission" in r.message
    r = run(clock, engine.commands.execute(ALICE, "_system/control/loops/zone/sp", 22.0))
    assert r.ok and r.old_value == 21.0
    r = run(clock, engine.commands.execute(ALICE, "_system/control/loops/nope/sp", 22.0))
    assert r.status == "refused" and "no loop" in r.message
    assert len(engine.commands.records) == 4
    engine.stop()


def test_confirmation_and_interlocks_apply_to_control_objects():
    db, clock = make_db([spec("z/temp", access="r"), spec("z/valve"), spec("z/maint", "bool", access="r")])
    FakeDevice(db, clock)
    engine = ControlEngine(section("""
critical: ["_system/control/loops/*/mode"]
inputs:
  occupied: {type: bool}
interlocks:
  maintenance:
    tags: ["_system/control/inputs/occupied"]
    block: "value and {z/maint}"
    message: zone under maintenance
loops:
  zone: {pv: z/temp, out: z/valve, sp: 21, kp: 2, ti: 30s}
"""), db, clock)
    put(db, clock, {"z/temp": 20.0, "z/maint": True})
    engine.start()
    clock.advance(1.0)
    r = run(clock, engine.commands.execute(ALICE, "_system/control/loops/zone/mode", "manual"))
    assert r.status == "confirmation_required"
    assert run(clock, engine.commands.execute(ALICE, "_system/control/loops/zone/mode", "manual", confirm=True)).ok
    r = run(clock, engine.commands.execute(ALICE, "_system/control/inputs/occupied", True))
    assert r.status == "refused" and "maintenance" in r.message
    assert run(clock, engine.commands.execute(ALICE, "_system/control/inputs/occupied", False)).ok
    engine.stop()
