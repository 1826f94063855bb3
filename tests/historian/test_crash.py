"""Crash: a process writing through the buffer is SIGKILLed mid-stream; nothing it acknowledged is lost."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest_twisted
from twisted.internet import defer, protocol, reactor

from tagdb.historian.buffer import PointBuffer
from tagdb.historian.forwarder import SinkForwarder
from tagdb.historian.sinks.embedded import EmbeddedSink

from .helpers import T0, wait_for

HERE = Path(__file__).parent
ROOT = HERE.parent.parent
TAGS = [f"plant/meter-{i}/energy" for i in range(5)]


class Writer(protocol.ProcessProtocol):
    def __init__(self) -> None:
        self.acked = -1
        self.buf = b""
        self.ended = defer.Deferred()
        self.err = b""

    def outReceived(self, data: bytes) -> None:
        self.buf += data
        *lines, self.buf = self.buf.split(b"\n")
        for line in lines:
            if line.startswith(b"ACK "):
                self.acked = int(line[4:])

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason) -> None:
        self.ended.callback(reason.value)


@pytest_twisted.ensureDeferred
async def test_sigkill_mid_stream_loses_nothing_acknowledged(tmp_path):
    proto = Writer()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    transport = reactor.spawnProcess(proto, sys.executable, [sys.executable, str(HERE / "crash_writer.py"),
                                                             str(tmp_path)], env=env, path=str(ROOT))
    await wait_for(reactor, lambda: proto.acked >= 3000 or proto.ended.called, timeout=60,
                   what="the writer to stream")
    assert not proto.ended.called, proto.err.decode()[-2000:]
    transport.signalProcess("KILL")
    await proto.ended
    acked = proto.acked
    assert acked >= 3000

    # Restart: the same buffer and store, as the tag server would after the crash.
    sink = EmbeddedSink("embedded", tmp_path / "history.sqlite", reactor=reactor)
    buf = PointBuffer(tmp_path / "buffer.sqlite", ["embedded"], now=reactor.seconds)
    assert buf.next_seq - 1 >= (acked + 1) * len(TAGS)
    fwd = SinkForwarder(sink, buf, reactor, batch_size=1000)
    fwd.start()
    try:
        await wait_for(reactor, lambda: buf.depth("embedded") == 0, timeout=60, what="catch-up after restart")
        end = T0.replace(year=2027)
        got = await sink.raw(TAGS, T0, end)
        for path in TAGS:
            values = [p.value for p in got[path]]
            # Every acknowledged sample is there, once, in order, with no gap.
            assert values[:acked + 1] == [float(n) for n in range(acked + 1)], path
            assert values == [float(n) for n in range(len(values))], path
    finally:
        await fwd.stop()
        await sink.close()
        buf.close()
