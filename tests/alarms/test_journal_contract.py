"""One contract suite for the alarm journal and outbox tables on SQLite and on the real PostgreSQL.

The schema comes from the business database's Alembic chain (revision
0101_alarms), exactly as a server creates it.
"""

from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from alarms.events import AlarmState, AlarmTransition, TransitionKind
from alarms.journal import Journal, JournalStore
from alarms.notify import Message, Outbox
from business.database import Database

from .conftest import TEMP, Harness, RecordingChannel, make_site

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    """A migrated business database on each backend (PostgreSQL: a throw-away database)."""
    if request.param == "sqlite":
        database = Database(f"sqlite:///{tmp_path / 'business.db'}")
        database.migrate()
        yield database
        database.stop()
        return
    pg_url = request.getfixturevalue("pg_url")
    name = f"alarms_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    database = Database(url)
    database.migrate()
    try:
        yield database
    finally:
        database.stop()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _tr(i: int, kind=TransitionKind.ACTIVATE, value=9.6, **kw) -> AlarmTransition:
    return AlarmTransition(
        alarm_id=kw.pop("alarm_id", "plant/chiller-1/supply_temp:H"), kind=kind, ts=T0 + timedelta(seconds=i),
        state_before=kw.pop("before", AlarmState.NORMAL), state_after=kw.pop("after", AlarmState.UNACK_ACTIVE),
        priority=kw.pop("priority", "high"), rule_type="limit", tag=TEMP, area=kw.pop("area", "chiller-hall"),
        equipment="plant/chiller-1", value=value, limit=9.0, message="Chiller 1 supply temperature H", **kw)


def test_transitions_round_trip_with_every_field(db):
    store = JournalStore(db.engine)
    store.write([_tr(0), _tr(5, TransitionKind.ACK, before=AlarmState.UNACK_ACTIVE, after=AlarmState.ACK_ACTIVE,
                         user="alice", comment="checking 'the' chiller")], [], 0)
    rows = store.query()
    assert [r["kind"] for r in rows] == ["ack", "activate"]
    ack = rows[0]
    assert ack["user"] == "alice" and ack["comment"] == "checking 'the' chiller"
    assert ack["state_before"] == "unack_active" and ack["state_after"] == "ack_active"
    assert ack["ts"] == (T0 + timedelta(seconds=5)).isoformat()
    assert rows[1]["value"] == 9.6 and rows[1]["limit"] == 9.0 and rows[1]["equipment"] == "plant/chiller-1"


def test_values_keep_their_type(db):
    store = JournalStore(db.engine)
    store.write([_tr(0, value="FIRE"), _tr(1, value=True), _tr(2, value=None), _tr(3, value=7)], [], 0)
    assert [r["value"] for r in store.query()] == [7, None, True, "FIRE"]


def test_query_filters(db):
    store = JournalStore(db.engine)
    store.write([_tr(i, area="chiller-hall" if i % 2 else "ahu-room", priority="high" if i < 5 else "low",
                     alarm_id=f"a{i % 3}:H") for i in range(10)], [], 0)
    assert len(store.query(area="ahu-room")) == 5
    assert len(store.query(priority="low")) == 5
    assert [r["alarm_id"] for r in store.query(alarm_id="a1:H")] == ["a1:H"] * 3
    got = store.query(since=T0 + timedelta(seconds=3), until=T0 + timedelta(seconds=6))
    assert [r["ts"] for r in got] == [(T0 + timedelta(seconds=s)).isoformat() for s in (5, 4, 3)]
    assert len(store.query(limit=4)) == 4 and len(store.query(limit=4, offset=8)) == 2
    assert [a for _, a, _, _ in store.activations_since(0)] == [f"a{i % 3}:H" for i in range(10)]


def test_states_are_replaced_not_duplicated(db):
    store = JournalStore(db.engine)
    store.write([], [{"alarm_id": "x:H", "active": True, "acked": False}], 1)
    store.write([], [{"alarm_id": "x:H", "active": True, "acked": True}, {"alarm_id": "y:L", "active": False}], 2)
    states = sorted(store.load_states(), key=lambda s: s["alarm_id"])
    assert states == [{"alarm_id": "x:H", "active": True, "acked": True}, {"alarm_id": "y:L", "active": False}]


def test_engine_journal_and_restart_on_the_backend(db, tmp_path, clock):
    site = make_site(tmp_path / "site")
    h = Harness(site, clock, db.engine).start()
    h.put(TEMP, 9.6)
    h.engine.acknowledge(f"{TEMP}:H", "alice", "seen")
    h.system.stop()
    h2 = Harness(site, clock, db.engine).start()
    assert h2.state(f"{TEMP}:H") == "ack_active"
    kinds = [r["kind"] for r in h2.system.store.query(alarm_id=f"{TEMP}:H")]
    assert kinds == ["ack", "activate"]
    h2.system.stop()


def test_journal_keeps_transitions_while_the_database_is_down(db, clock):
    store = JournalStore(db.engine)
    broken = JournalStore(create_engine("sqlite:////nonexistent-dir/x.db"))
    j = Journal(broken, clock)
    j(_tr(0))
    clock.advance(0)
    assert j._transitions  # kept for retry
    j.store = store
    clock.advance(5)
    assert len(store.query()) == 1 and not j._transitions


def test_outbox_on_the_backend(db, clock):
    ch = RecordingChannel("mail")
    ch.up = False
    ob = Outbox(db.engine, clock, {"mail": ch}, retry_initial=1, retry_max=1)
    ob.start()
    mid = ob.enqueue(Message("mail", "a@example.test", "s", "b", payload={"k": [1, 2]}, source="src"))
    clock.advance(0)
    ch.up = True
    clock.advance(1)
    entry = ob.entries(source="src")[0]
    assert entry.status == "sent" and entry.attempts == 2 and entry.message.payload == {"k": [1, 2]}
    assert [a["ok"] for a in ob.attempts(mid)] == [False, True]
    ob.stop()


def test_journal_with_a_worker_runner_keeps_order_and_waits_at_stop(db, clock):
    """One write in flight at a time; queued items follow; stop waits for the write in flight."""
    from twisted.internet import defer

    jobs: list[tuple] = []

    def runner(fn):
        d = defer.Deferred()
        jobs.append((fn, d))
        return d

    def finish(i):
        fn, d = jobs[i]
        try:
            d.callback(fn())
        except Exception as exc:
            d.errback(exc)

    written: list = []
    store = JournalStore(db.engine)
    j = Journal(store, clock, on_written=lambda trs: written.extend(t.ts for t in trs), runner=runner)
    j(_tr(0))
    clock.advance(0)
    j(_tr(1))
    j(_tr(2))
    clock.advance(0)
    assert len(jobs) == 1                      # the second batch waits for the first write
    finish(0)
    clock.advance(0)
    assert len(jobs) == 2
    j(_tr(3))
    stopped = j.stop()
    assert not stopped.called                  # the write in flight is not done yet
    finish(1)
    assert stopped.called
    assert [r["ts"] for r in store.query()][::-1] == [(T0 + timedelta(seconds=i)).isoformat() for i in range(4)]
    assert written == [T0 + timedelta(seconds=i) for i in range(4)]
