"""Append-only JSON lines: flushed per record, one fsync per reactor turn."""

import json
import os
from datetime import datetime, timezone
from decimal import Decimal

from twisted.internet.task import Clock

from tagdb.jsonl import JsonlAppender


def test_records_are_readable_at_once_and_synced_once_per_turn(tmp_path, monkeypatch):
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(fd), real_fsync(fd)))
    clock = Clock()
    out = JsonlAppender(tmp_path / "audit" / "a.jsonl", clock)
    for i in range(500):
        out.append({"n": i})
    # Flushed: another reader sees every record before the turn ends (process-crash safe).
    lines = (tmp_path / "audit" / "a.jsonl").read_text().splitlines()
    assert [json.loads(line)["n"] for line in lines] == list(range(500))
    assert synced == [] and len(clock.getDelayedCalls()) == 1
    clock.advance(0)
    assert len(synced) == 1
    out.append({"n": 500})
    clock.advance(0)
    assert len(synced) == 2


def test_without_clock_every_record_is_synced(tmp_path, monkeypatch):
    synced = []
    monkeypatch.setattr(os, "fsync", synced.append)
    out = JsonlAppender(tmp_path / "a.jsonl")
    out.append({"a": 1})
    out.append({"a": 2})
    assert len(synced) == 2


def test_non_json_values_are_written_as_text(tmp_path):
    out = JsonlAppender(tmp_path / "a.jsonl")
    ts = datetime(2026, 11, 28, 8, 0, tzinfo=timezone.utc)
    out.append({"ts": ts, "amount": Decimal("12.30")})
    out.close()
    record = json.loads((tmp_path / "a.jsonl").read_text())
    assert record == {"ts": "2026-11-28T08:00:00+00:00", "amount": "12.30"}


def test_close_syncs_pending_records_and_a_rotated_file_is_reopened(tmp_path):
    clock = Clock()
    path = tmp_path / "a.jsonl"
    out = JsonlAppender(path, clock)
    out.append({"a": 1})
    path.rename(tmp_path / "a.jsonl.1")   # log rotation while the file is open
    out.append({"a": 2})
    out.close()
    assert not any(call.active() for call in clock.getDelayedCalls())
    assert json.loads(path.read_text()) == {"a": 2}
    assert json.loads((tmp_path / "a.jsonl.1").read_text()) == {"a": 1}
