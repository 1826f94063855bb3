"""InfluxDB 2.x/3.x native API through influxdb-client, with every failure wired back.

influxdb-client's batching ``write_api`` returns at once and, left alone, only
logs failures: data would be lost silently. Here each historian batch is handed
to it as one record with ``batch_size=1`` (so one record is exactly one HTTP
request), its own retries are off (store-and-forward retries, durably), and the
success / error / retry callbacks resolve the Deferred the forwarder awaits:
a batch is acknowledged to the buffer only from the success callback, and every
error callback puts it back into store-and-forward as ``SinkUnavailable`` or
``SinkRejected``. The callbacks run on the client's writer thread and hop back
onto the reactor with ``callFromThread``.
"""

from __future__ import annotations

import logging
from typing import Any, Sequence

from twisted.internet.defer import Deferred

from ..errors import SinkAuthError, SinkRejected, SinkUnavailable
from ..points import PointSchema

log = logging.getLogger("spms.historian.influx2")

_PRECISION = {"ns": "ns", "u": "us", "ms": "ms", "s": "s"}


def classify(exc: BaseException, where: str) -> Exception:
    """Map an influxdb-client / urllib3 exception to the historian's sink errors."""
    status = getattr(exc, "status", None)
    body = getattr(exc, "body", None) or getattr(exc, "message", None) or str(exc)
    msg = f"{where}: {type(exc).__name__} {status or ''} {str(body).strip()[:400]}".strip()
    if status in (400, 413, 422):
        return SinkRejected(msg)
    if status in (401, 403):
        return SinkAuthError(msg)
    return SinkUnavailable(msg)


class InfluxV2Sink:
    """Writes to ``/api/v2/write`` with influxdb-client; not used for queries (see docs)."""

    def __init__(self, name: str, url: str, token: str, org: str, bucket: str, *, reactor: Any,
                 schema: PointSchema, precision: str = "u", gzip: bool = True, timeout: float = 10.0) -> None:
        from influxdb_client import InfluxDBClient, WriteOptions
        from influxdb_client.client.write_api import WriteType

        self.name = name
        self.url = url
        self.org = org
        self.bucket = bucket
        self.reactor = reactor
        self.schema = schema
        self.precision = precision
        self._pending: dict[bytes, Deferred] = {}
        self._client = InfluxDBClient(url=url, token=token, org=org, timeout=int(timeout * 1000),
                                      enable_gzip=gzip)
        options = WriteOptions(write_type=WriteType.batching, batch_size=1, flush_interval=50,
                               max_retries=0, max_retry_time=0, max_close_wait=int(timeout * 1000))
        self._write_api = self._client.write_api(write_options=options, success_callback=self._on_success,
                                                 error_callback=self._on_error, retry_callback=self._on_retry)
        self.retries_seen = 0

    async def write_points(self, rows: Sequence[tuple]) -> None:
        """Hand the batch to the client and wait for its success or error callback."""
        body = "\n".join(self.schema.encode(rows, self.precision)).encode()
        while body in self._pending:
            # Callbacks are matched by body: keep bodies in flight distinct (a blank line is harmless).
            body += b"\n"
        d = Deferred()
        self._pending[body] = d
        try:
            self._write_api.write(bucket=self.bucket, org=self.org, record=body,
                                  write_precision=_PRECISION[self.precision])
        except Exception as exc:
            self._pending.pop(body, None)
            raise classify(exc, self.url) from exc
        try:
            await d
        finally:
            self._pending.pop(body, None)

    # The three callbacks run on influxdb-client's writer thread.

    def _on_success(self, conf: tuple, data: bytes) -> None:
        self.reactor.callFromThread(self._settle, bytes(data), None)

    def _on_error(self, conf: tuple, data: bytes, exc: Exception) -> None:
        self.reactor.callFromThread(self._settle, bytes(data), classify(exc, self.url))

    def _on_retry(self, conf: tuple, data: bytes, exc: Exception) -> None:
        # Only reached if someone re-enables client retries: make each one visible anyway.
        self.retries_seen += 1
        log.debug("influxdb-client retrying a write to %s: %s", self.url, exc)

    def _settle(self, data: bytes, error: Exception | None) -> None:
        d = self._pending.get(data)
        if d is None or d.called:
            log.debug("influxdb-client callback for a batch nobody waits for (%d bytes)", len(data))
            return
        if error is None:
            d.callback(None)
        else:
            d.errback(error)

    async def close(self) -> None:
        """Flush and close the client on a thread (closing waits for the writer thread)."""
        from twisted.internet.threads import deferToThreadPool

        def _close():
            self._write_api.close()
            self._client.close()

        await deferToThreadPool(self.reactor, self.reactor.getThreadPool(), _close)

