"""Notification pipelines, escalation, flood grouping, rosters and the durable outbox (Clock-driven)."""

from __future__ import annotations

from datetime import datetime

import pytest

from alarms.notify import Dispatcher, Message, Outbox, Roster
from alarms.notify.roster import Shift

from .conftest import TEMP, RecordingChannel, memory_engine

H = f"{TEMP}:H"
FAULT = "plant/chiller-1/fault:digital"

CONFIG = """
alarms:
  comm_alarms: false
  contacts:
    tech: {name: Li Wei, email: tech@example.test, phone: "+8613800000001"}
    lead: {name: Zhang Min, email: lead@example.test}
    night: {name: Night Guard, email: night@example.test}
    mgr: {name: Plant Manager, email: mgr@example.test}
  rosters:
    maintenance:
      shifts:
        - {days: [mon, tue, wed, thu, fri], start: "08:00", end: "18:00", on_call: [tech]}
        - {days: [mon, tue, wed, thu, fri, sat, sun], start: "18:00", end: "08:00", on_call: [night]}
      default: [lead]
    managers:
      default: [mgr]
  channels:
    mail: {type: email, host: 127.0.0.1, port: 2525}
    sms: {type: sms, url: "http://127.0.0.1:9/send"}
  pipelines:
    plant:
      priorities: [critical, high]
      steps:
        - {roster: maintenance, channels: [mail]}
        - {roster: managers, channels: [mail], after: 15m}
      notify_on: [activate, escalate, ack, clear]
      group_window: 60s
      group_threshold: 3
"""


def _channels():
    return {"mail": RecordingChannel("mail"), "sms": RecordingChannel("sms")}


def _sent(ch):
    return [(m.recipient, m.subject) for m in ch.sent]


def test_activation_notifies_the_roster_on_call(harness):
    chans = _channels()
    h = harness(CONFIG, channels=chans)
    h.put(TEMP, 9.6)                            # Monday 16:00 Shanghai: the day shift
    h.advance(0)
    assert [r for r, _ in _sent(chans["mail"])] == ["tech@example.test"]
    msg = chans["mail"].sent[0]
    assert "[HIGH]" in msg.subject and "Chiller 1 supply temperature" in msg.subject
    assert "9.6" in msg.body and msg.source == H
    assert h.system.outbox.counts() == {"sent": 1}


def test_escalation_after_n_minutes_and_ack_stops_it(harness):
    chans = _channels()
    h = harness(CONFIG, channels=chans)
    h.put(TEMP, 9.6)
    h.advance(14 * 60 + 59)
    assert [r for r, _ in _sent(chans["mail"])] == ["tech@example.test"]
    h.advance(1)
    assert [r for r, _ in _sent(chans["mail"])] == ["tech@example.test", "mgr@example.test"]
    assert chans["mail"].sent[1].subject.startswith("ESCALATION 1")

    h.put("plant/chiller-1/fault", True)
    h.advance(60)
    h.engine.acknowledge(FAULT, "li.wei", "on site")
    h.advance(30 * 60)
    fault_msgs = [m for m in chans["mail"].sent if m.source == FAULT]
    # the first notice and the acknowledgement notice; no escalation after the ack
    assert len(fault_msgs) == 2
    assert "acknowledged by li.wei" in fault_msgs[1].subject
    assert not any(m.subject.startswith("ESCALATION") for m in fault_msgs)


def test_clear_notice_goes_to_everyone_told(harness):
    chans = _channels()
    h = harness(CONFIG, channels=chans)
    h.put(TEMP, 9.6)
    h.advance(0)
    h.engine.acknowledge(H, "li.wei", "ok")
    h.put(TEMP, 7.0)
    h.advance(0)
    subjects = [s for _, s in _sent(chans["mail"])]
    assert any("returned to normal" in s for s in subjects)


def test_a_flood_produces_one_grouped_notification(harness):
    chans = _channels()
    tags = "tags:\n" + "".join(
        f"  - {{path: plant/zone-{i:03d}/temp, device: plc-1, address: 'hr:{100 + 2 * i}', type: float32,"
        f" alarms: [{{type: limit, h: 30, priority: high}}]}}\n" for i in range(200))
    h = harness(CONFIG, tags, channels=chans)
    h.put_many({f"plant/zone-{i:03d}/temp": 35.0 for i in range(200)})
    h.advance(0)
    assert len([a for a in h.engine.select() if a.id.startswith("plant/zone-")]) == 200
    assert len(chans["mail"].sent) == 1
    summary = chans["mail"].sent[0]
    assert summary.recipient == "tech@example.test"
    assert summary.subject == "[spms] 200 alarm notifications"
    assert "and 180 more" in summary.body


def test_grouping_sends_individually_below_the_threshold_then_summarizes():
    sent: list[Message] = []
    from twisted.internet.task import Clock

    clock = Clock()
    d = Dispatcher(sent.append, clock, window=60, threshold=3)
    for i in range(2):
        d.submit(Message("mail", "a@x", f"alarm {i}", "b"))
    clock.advance(0)
    assert [m.subject for m in sent] == ["alarm 0", "alarm 1"]
    for i in range(2, 10):
        d.submit(Message("mail", "a@x", f"alarm {i}", "b"))
    clock.advance(0)
    assert len(sent) == 3 and sent[2].subject == "[spms] 8 alarm notifications"
    d.submit(Message("mail", "a@x", "alarm 10", "b"))
    clock.advance(0)
    assert len(sent) == 3                         # still flooding: waits for the window end
    clock.advance(60)
    assert len(sent) == 4 and sent[3].subject == "alarm 10"


def test_rate_limit_defers_but_loses_nothing():
    from twisted.internet.task import Clock

    sent: list[Message] = []
    clock = Clock()
    d = Dispatcher(sent.append, clock, window=1, threshold=100, max_per_hour=2)
    for i in range(3):
        d.submit(Message("mail", "a@x", f"m{i}", "b"))
        clock.advance(10)
    assert [m.subject for m in sent] == ["m0", "m1"]
    clock.advance(3600)
    assert [m.subject for m in sent] == ["m0", "m1", "m2"]


def test_delayed_pipeline_skips_alarms_that_cleared_meanwhile(harness):
    chans = _channels()
    h = harness(CONFIG.replace("      priorities: [critical, high]\n",
                               "      priorities: [critical, high]\n      delay: 2m\n"), channels=chans)
    h.put(TEMP, 9.6)
    h.advance(60)
    h.put(TEMP, 7.0)          # gone before the delay: nobody is woken up
    h.engine.acknowledge(H, "op", "transient")
    h.advance(30 * 60)
    assert chans["mail"].sent == []
    h.put(TEMP, 9.6)
    h.advance(119)
    assert chans["mail"].sent == []
    h.advance(1)
    assert len(chans["mail"].sent) == 1


def test_roster_weekly_schedule_and_overnight_shift():
    shifts = [Shift(frozenset(range(5)), 8 * 60, 18 * 60, ("tech",)),
              Shift(frozenset(range(7)), 18 * 60, 8 * 60, ("night",))]
    r = Roster("m", shifts, ("lead",), "Asia/Shanghai")
    at = lambda s: datetime.fromisoformat(s)
    assert r.on_call(at("2026-03-02T10:00:00+08:00")) == ("tech",)     # Monday day
    assert r.on_call(at("2026-03-02T19:00:00+08:00")) == ("night",)    # Monday evening
    assert r.on_call(at("2026-03-03T07:59:00+08:00")) == ("night",)    # overnight into Tuesday
    assert r.on_call(at("2026-03-07T10:00:00+08:00")) == ("lead",)     # Saturday day: default
    assert r.on_call(at("2026-03-02T00:30:00+00:00")) == ("tech",)     # UTC input, local 08:30


def test_outbox_retries_with_backoff_and_records_every_attempt(clock):
    ch = RecordingChannel("mail")
    ch.up = False
    ob = Outbox(memory_engine(), clock, {"mail": ch}, retry_initial=10, retry_max=40, max_attempts=10)
    ob.start()
    mid = ob.enqueue(Message("mail", "a@x", "pump trip", "body", source="test"))
    clock.advance(0)
    times = []
    for step in (10, 20, 40, 40):
        clock.advance(step)
        times.append(len(ob.attempts(mid)))
    assert times == [2, 3, 4, 5]                  # 10, 20, 40, then capped at 40 s
    assert ob.entries()[0].status == "pending" and "down" in ob.entries()[0].last_error
    ch.up = True
    clock.advance(40)
    assert ob.entries()[0].status == "sent"
    assert [a["ok"] for a in ob.attempts(mid)] == [False] * 5 + [True]
    assert [m.subject for m in ch.sent] == ["pump trip"]
    ob.stop()


def test_outbox_gives_up_after_max_attempts(clock):
    ch = RecordingChannel("mail")
    ch.up = False
    ob = Outbox(memory_engine(), clock, {"mail": ch}, retry_initial=1, retry_max=1, max_attempts=3)
    ob.start()
    ob.enqueue(Message("mail", "a@x", "s", "b"))
    for _ in range(10):
        clock.advance(1)
    assert ob.counts() == {"dead": 1}
    ob.stop()


def test_outbox_survives_a_restart(tmp_path, clock):
    from sqlalchemy import create_engine

    from alarms.tables import create_tables

    engine = create_engine(f"sqlite:///{tmp_path / 'o.db'}")
    create_tables(engine)
    down = RecordingChannel("mail")
    down.up = False
    ob = Outbox(engine, clock, {"mail": down})
    ob.start()
    ob.enqueue(Message("mail", "a@x", "kept", "b"))
    clock.advance(0)
    ob.stop()
    up = RecordingChannel("mail")
    ob2 = Outbox(create_engine(f"sqlite:///{tmp_path / 'o.db'}"), clock, {"mail": up})
    ob2.start()
    clock.advance(10)
    assert [m.subject for m in up.sent] == ["kept"]
    ob2.stop()


def test_unknown_channel_is_refused(clock):
    ob = Outbox(memory_engine(), clock, {})
    with pytest.raises(KeyError):
        ob.enqueue(Message("nope", "a", "s", "b"))




def test_an_alarm_still_active_when_its_shelving_ends_is_notified_again(harness):
    chans = _channels()
    h = harness(CONFIG, channels=chans)
    h.put(TEMP, 9.6)
    h.advance(0)
    h.engine.acknowledge(H, "op", "seen")
    h.engine.shelve(H, "op", "nuisance during maintenance", 600)
    h.advance(600)
    subjects = [m.subject for m in chans["mail"].sent if m.source == H]
    assert len(subjects) == 3 and "acknowledged" in subjects[1] and subjects[2].startswith("[HIGH]")


def test_messages_wait_in_memory_while_the_outbox_cannot_store_them():
    from twisted.internet.task import Clock

    clock = Clock()
    stored: list[Message] = []
    down = [True]

    def send(m):
        if down[0]:
            raise OSError("database is locked")
        stored.append(m)

    d = Dispatcher(send, clock, window=60, threshold=10)
    d.submit(Message("mail", "a@x", "first", "b"))
    clock.advance(0)
    d.submit(Message("mail", "b@x", "second", "b"))
    clock.advance(5)
    assert stored == []
    down[0] = False
    clock.advance(5)
    assert [m.subject for m in stored] == ["first", "second"]
