"""Child process of the crash test: streams values through the buffer into the embedded store.

Prints ``ACK <n>`` after the buffer committed sample ``n`` of every tag; the
test SIGKILLs it mid-stream and checks that every acknowledged sample survives.
"""

from __future__ import annotations

import asyncio
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

TAGS = [f"plant/meter-{i}/energy" for i in range(5)]
T0 = datetime(2026, 11, 1, tzinfo=timezone.utc)


def main(data_dir: str) -> None:
    from twisted.internet import asyncioreactor

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    asyncioreactor.install(loop)
    from twisted.internet import reactor
    from twisted.internet.task import LoopingCall

    from tagdb.historian.buffer import PointBuffer
    from tagdb.historian.forwarder import SinkForwarder
    from tagdb.historian.sinks.embedded import EmbeddedSink
    from tagdb.values import GOOD, TagValue

    sink = EmbeddedSink("embedded", Path(data_dir) / "history.sqlite", reactor=reactor)
    buf = PointBuffer(Path(data_dir) / "buffer.sqlite", ["embedded"], now=reactor.seconds)
    fwd = SinkForwarder(sink, buf, reactor, batch_size=200)
    state = {"n": 0}

    def produce() -> None:
        for _ in range(10):
            n = state["n"]
            ts = T0 + timedelta(milliseconds=n)
            buf.append([TagValue(p, float(n), GOOD, ts, ts) for p in TAGS])
            fwd.notify()
            sys.stdout.write(f"ACK {n}\n")
            state["n"] = n + 1
        sys.stdout.flush()

    def go() -> None:
        fwd.start()
        loop_call = LoopingCall(produce)
        loop_call.clock = reactor
        loop_call.start(0.005)

    reactor.callWhenRunning(go)
    reactor.run()


if __name__ == "__main__":
    main(sys.argv[1])
