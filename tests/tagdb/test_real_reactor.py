"""The database on the real (asyncio) reactor: one fan-out per turn, writes from both worlds."""

from __future__ import annotations

import asyncio

import pytest_twisted
from twisted.internet import defer

from tagdb.database import TagDatabase
from tagdb.values import WriteResult, WriteStatus

from .conftest import spec


def _reactor():
    from twisted.internet import reactor   # installed by pytest-twisted (--reactor=asyncio)
    return reactor


@pytest_twisted.ensureDeferred
async def test_changes_of_one_turn_arrive_in_one_batch_on_the_real_reactor():
    reactor = _reactor()
    db = TagDatabase([spec(f"r/t{i}") for i in range(3)], reactor)
    got = defer.Deferred()
    batches = []

    def on_changes(batch):
        batches.append([tv.path for tv in batch])
        if not got.called:
            got.callback(None)

    db.subscribe("r/", on_changes)

    def one_turn():
        for i in range(3):
            db.ingest(db.ids([f"r/t{i}"]), [float(i + 1)])

    reactor.callLater(0, one_turn)
    await got.addTimeout(5, reactor)
    await defer.Deferred.fromFuture(asyncio.ensure_future(asyncio.sleep(0.05)))
    assert batches == [["r/t0", "r/t1", "r/t2"]]


class AsyncioWriter:
    """A collector whose write awaits asyncio I/O (as pymodbus and asyncua clients do)."""

    async def write_tag(self, spec, value):
        await asyncio.sleep(0.01)
        return WriteResult(spec.path, value, WriteStatus.OK)


@pytest_twisted.ensureDeferred
async def test_write_awaited_from_asyncio_code_reaches_an_asyncio_collector(tmp_path):
    from tagdb.audit import JsonlAuditSink

    db = TagDatabase([spec("w/sp", access="rw")], _reactor(), audit=JsonlAuditSink(tmp_path / "a.jsonl"))
    db.register_writer("plc-1", AsyncioWriter())
    # The asyncio side (e.g. the HMI) awaits the coroutine inside an asyncio task.
    result = await defer.Deferred.fromFuture(asyncio.ensure_future(db.write("w/sp", 3.5, "hmi-user")))
    assert result.ok
    assert JsonlAuditSink(tmp_path / "a.jsonl").recent(1)[0].user == "hmi-user"
