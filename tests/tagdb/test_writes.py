"""Write routing, every refusal, and the audit trail on disk."""

from __future__ import annotations

import json
import math

import pytest
from twisted.internet.defer import Deferred

from tagdb.audit import JsonlAuditSink, iter_audits
from tagdb.database import TagDatabase
from tagdb.site.model import Scaling
from tagdb.values import GOOD, WriteResult, WriteStatus

from .conftest import START, run, spec


class RecordingWriter:
    """A collector stand-in that accepts everything and remembers what it was asked."""

    def __init__(self, status=WriteStatus.OK, device_status=""):
        self.calls = []
        self.status = status
        self.device_status = device_status

    async def write_tag(self, spec, value):
        self.calls.append((spec.path, value))
        return WriteResult(spec.path, value, self.status, "" if self.status is WriteStatus.OK else "refused",
                           self.device_status)


class RaisingWriter:
    async def write_tag(self, spec, value):
        raise ConnectionResetError("socket closed")


@pytest.fixture
def audit_file(tmp_path):
    return tmp_path / "audit" / "writes.jsonl"


@pytest.fixture
def db(clock, audit_file):
    specs = [
        spec("ahu/setpoint", access="rw", eu_lo=10.0, eu_hi=30.0, units="degC"),
        spec("ahu/fan_cmd", "bool", access="rw"),
        spec("ahu/mode", "uint16", access="rw"),
        spec("ahu/label", "string", access="rw"),
        spec("ahu/supply_temp"),                              # read-only
        spec("lift/hold", "bool", device="lift-ctl", access="rw"),
        spec("calc/free", device=None, access="rw"),
    ]
    return TagDatabase(specs, clock, audit=JsonlAuditSink(audit_file))


def test_a_valid_write_goes_to_the_owning_collector_in_the_tag_type(db, audit_file):
    plc, lifts = RecordingWriter(), RecordingWriter()
    db.register_writer("plc-1", plc)
    db.register_writer("lift-ctl", lifts)
    db.ingest(db.ids(["ahu/setpoint"]), [21.0])
    assert run(db.write("ahu/setpoint", 22, "alice", reason="tenant complaint")).ok
    assert run(db.write("ahu/mode", 3.0, "alice")).ok
    assert run(db.write("ahu/fan_cmd", 1, "alice")).ok
    assert run(db.write("lift/hold", True, "bob")).ok
    assert plc.calls == [("ahu/setpoint", 22.0), ("ahu/mode", 3), ("ahu/fan_cmd", True)]
    assert type(plc.calls[0][1]) is float and type(plc.calls[1][1]) is int
    assert lifts.calls == [("lift/hold", True)]
    first = next(iter_audits(audit_file))
    assert (first.user, first.path, first.old_value, first.new_value, first.status, first.reason) == \
        ("alice", "ahu/setpoint", 21.0, 22, WriteStatus.OK, "tenant complaint")
    assert first.ts == START


@pytest.mark.parametrize("path, value, status, words", [
    ("no/such", 1.0, WriteStatus.NO_SUCH_TAG, "no/such"),
    ("ahu/supply_temp", 1.0, WriteStatus.READ_ONLY, "read-only"),
    ("ahu/setpoint", "abc", WriteStatus.BAD_TYPE, "number"),
    ("ahu/setpoint", math.nan, WriteStatus.BAD_TYPE, "finite"),
    ("ahu/setpoint", math.inf, WriteStatus.BAD_TYPE, "finite"),
    ("ahu/setpoint", True, WriteStatus.BAD_TYPE, "number"),
    ("ahu/setpoint", None, WriteStatus.BAD_TYPE, "number"),
    ("ahu/setpoint", 30.5, WriteStatus.OUT_OF_RANGE, "10..30 degC"),
    ("ahu/setpoint", 9.99, WriteStatus.OUT_OF_RANGE, "outside"),
    ("ahu/mode", 2.5, WriteStatus.BAD_TYPE, "whole"),
    ("ahu/mode", -1, WriteStatus.OUT_OF_RANGE, "uint16"),
    ("ahu/mode", 70000, WriteStatus.OUT_OF_RANGE, "uint16"),
    ("ahu/fan_cmd", 2, WriteStatus.BAD_TYPE, "true/false"),
    ("ahu/fan_cmd", "on", WriteStatus.BAD_TYPE, "true/false"),
    ("ahu/label", 5, WriteStatus.BAD_TYPE, "string"),
])
def test_refusals_never_reach_the_device_and_are_audited(db, audit_file, path, value, status, words):
    plc = RecordingWriter()
    db.register_writer("plc-1", plc)
    result = run(db.write(path, value, "mallory", reason="testing"))
    assert result.status is status
    assert words in result.message
    assert plc.calls == []
    (audit,) = list(iter_audits(audit_file))
    assert (audit.user, audit.path, audit.status, audit.reason) == ("mallory", path, status, "testing")
    assert audit.message == result.message


def test_range_boundaries_are_inclusive(db):
    db.register_writer("plc-1", RecordingWriter())
    assert run(db.write("ahu/setpoint", 10.0, "u")).ok
    assert run(db.write("ahu/setpoint", 30, "u")).ok


def test_no_writer_means_device_unreachable(db, audit_file):
    result = run(db.write("ahu/setpoint", 20.0, "alice"))
    assert result.status is WriteStatus.DEVICE_UNREACHABLE and "plc-1" in result.message
    db.register_writer("plc-1", RecordingWriter())
    db.unregister_writer("plc-1")
    assert run(db.write("ahu/setpoint", 20.0, "alice")).status is WriteStatus.DEVICE_UNREACHABLE
    assert len(list(iter_audits(audit_file))) == 2


def test_a_raising_writer_means_device_unreachable(db, audit_file, caplog):
    db.register_writer("plc-1", RaisingWriter())
    result = run(db.write("ahu/setpoint", 20.0, "alice"))
    assert result.status is WriteStatus.DEVICE_UNREACHABLE
    assert "socket closed" in result.message
    assert list(iter_audits(audit_file))[0].status is WriteStatus.DEVICE_UNREACHABLE


def test_the_device_answer_is_passed_through_and_audited(db, audit_file):
    db.register_writer("plc-1", RecordingWriter(WriteStatus.DEVICE_EXCEPTION, "modbus exception 02"))
    result = run(db.write("ahu/setpoint", 20.0, "alice"))
    assert result.status is WriteStatus.DEVICE_EXCEPTION
    assert result.device_status == "modbus exception 02"
    audit = list(iter_audits(audit_file))[0]
    assert audit.status is WriteStatus.DEVICE_EXCEPTION
    assert audit.extra == {"device_status": "modbus exception 02"}


def test_a_write_waiting_on_the_device_completes_when_it_answers(db, clock, audit_file):
    pending = Deferred()

    class SlowWriter:
        async def write_tag(self, spec, value):
            return await pending

    db.register_writer("plc-1", SlowWriter())
    d = Deferred.fromCoroutine(db.write("ahu/setpoint", 25.0, "alice"))
    assert not d.called and not audit_file.exists()
    clock.advance(1.25)
    pending.callback(WriteResult("ahu/setpoint", 25.0, WriteStatus.OK))
    assert d.result.ok
    audit = list(iter_audits(audit_file))[0]
    assert audit.ts == START                      # when the operator asked
    assert audit.extra["duration_s"] == pytest.approx(1.25)


def test_one_writer_per_device(db):
    db.register_writer("plc-1", RecordingWriter())
    with pytest.raises(ValueError, match="plc-1"):
        db.register_writer("plc-1", RecordingWriter())
    with pytest.raises(TypeError):
        db.register_writer("lift-ctl", object())


def test_audit_file_is_append_only_json_lines_and_queryable(db, audit_file):
    db.register_writer("plc-1", RecordingWriter())
    for k in range(5):
        run(db.write("ahu/setpoint", 20.0 + k, "alice" if k % 2 else "bob"))
    run(db.write("ahu/mode", 1, "carol"))
    lines = audit_file.read_text().splitlines()
    assert len(lines) == 6
    assert json.loads(lines[0])["new_value"] == 20.0 and json.loads(lines[0])["status"] == "ok"
    sink = JsonlAuditSink(audit_file)
    assert [a.new_value for a in sink.recent(2)] == [24.0, 1]
    assert [a.new_value for a in sink.recent(10, path="ahu/setpoint", user="alice")] == [21.0, 23.0]
    assert sink.recent(5, path="nothing") == []
    # A second sink on the same file appends, never truncates.
    JsonlAuditSink(audit_file).record(sink.recent(1)[0])
    assert len(audit_file.read_text().splitlines()) == 7


def test_a_damaged_audit_line_is_skipped_and_logged(audit_file, caplog):
    audit_file.parent.mkdir(parents=True)
    audit_file.write_text('{"ts": "2026-03-01T08:00:00+00:00", "user": "a", "path": "p", "status": "ok"}\n'
                          '{"ts": "2026-03-01T08:00:01+00:00", "user": "a", "pa\n')
    assert [a.user for a in JsonlAuditSink(audit_file).recent()] == ["a"]
    assert "writes.jsonl:2" in caplog.text


def test_an_unwritable_audit_is_logged_and_the_write_result_still_returned(clock, tmp_path, caplog):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    db = TagDatabase([spec("x", access="rw")], clock, audit=JsonlAuditSink(blocker / "writes.jsonl"))
    db.register_writer("plc-1", RecordingWriter())
    assert run(db.write("x", 1.0, "alice")).ok
    assert "could not record the write audit" in caplog.text


def test_a_writable_tag_without_device_is_a_memory_tag(db, clock, audit_file):
    seen = []
    db.subscribe("calc/", seen.append)
    result = run(db.write("calc/free", 4, "alice"))
    assert result.ok and result.value == 4.0
    tv = db.get("calc/free")
    assert (tv.value, tv.quality, tv.server_ts) == (4.0, GOOD, START)
    assert run(db.write("calc/free", "x", "alice")).status is WriteStatus.BAD_TYPE
    assert db.get("calc/free").value == 4.0
    clock.advance(0)
    assert [tv.value for tv in seen[0]] == [4.0]
    assert [a.old_value for a in iter_audits(audit_file)] == [None, 4.0]


def test_a_scaled_integer_tag_takes_engineering_decimals_and_checks_the_raw_range(clock):
    # uint16 register in tenths of a degree: 12.5 °C is raw 125; 7000 °C would be raw 70000.
    tenths = Scaling(raw_lo=0, raw_hi=1000, eng_lo=0.0, eng_hi=100.0)
    db = TagDatabase([spec("chiller/sp", "uint16", access="rw", scaling=tenths)], clock)
    writer = RecordingWriter()
    db.register_writer("plc-1", writer)
    assert run(db.write("chiller/sp", 12.5, "u")).ok
    assert writer.calls == [("chiller/sp", 12.5)]
    refused = run(db.write("chiller/sp", 7000.0, "u"))
    assert refused.status is WriteStatus.OUT_OF_RANGE and "raw 70000" in refused.message
    assert run(db.write("chiller/sp", -1.0, "u")).status is WriteStatus.OUT_OF_RANGE
    assert len(writer.calls) == 1


def test_a_scaled_integer_tag_keeps_the_decimals_of_its_engineering_value(clock):
    tenths = Scaling(raw_lo=0, raw_hi=1000, eng_lo=0.0, eng_hi=100.0)
    db = TagDatabase([spec("chiller/supply", "int16", scaling=tenths), spec("chiller/starts", "uint32")], clock)
    db.update([_value("chiller/supply", 6.5), _value("chiller/starts", 12.0)])
    assert db.get("chiller/supply").value == 6.5
    starts = db.get("chiller/starts").value
    assert starts == 12 and isinstance(starts, int)


def _value(path, value):
    from datetime import datetime, timezone

    from tagdb.values import TagValue
    ts = datetime(2026, 11, 28, tzinfo=timezone.utc)
    return TagValue(path, value, GOOD, ts, ts)
