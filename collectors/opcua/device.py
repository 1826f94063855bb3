"""One OPC UA server as a device: a supervised session, one subscription, writes.

The supervisor connects, resolves every tag's node (namespaces by URI), creates
one subscription with a monitored item per tag (sampling interval, queue size,
absolute deadband) and then consumes notifications until the connection or the
subscription is lost. Then every tag of the device goes Bad (comm failure), the
session is dropped, and after a capped exponential backoff on the injected clock
a new session and subscription are made, so no operator action is ever needed.

Notifications are consumed in iterator mode and applied in batches: each
notification is appended to a pending list and one ``call_soon`` flush per
burst turns the list into a single ``ingest`` (numeric tags) and ``update``
(strings) call, keeping every DataValue's status code and source timestamp.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import numpy as np
from asyncua import ua
from asyncua.common.subscription import DataChangeEvent, StatusChangeEvent

from tagdb.columns import ns_to_utc
from tagdb.site.model import DeviceSpec, TagSpec
from tagdb.values import BAD_COMM_FAILURE, BAD_CONFIG_ERROR, Quality, TagValue, WriteResult, WriteStatus

from ..errors import EncodeError
from ..modbus.codec import Linear
from .nodes import VARIANTS, NamespaceError, browse_path, coerce, node_id
from .session import open_client

log = logging.getLogger(__name__)
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
CHUNK = 1000     # monitored items per CreateMonitoredItems request


def clock_sleep(clock: Any, seconds: float) -> asyncio.Future:
    """An asyncio future resolved after ``seconds`` on the injected clock."""
    fut = asyncio.get_running_loop().create_future()
    call = clock.callLater(seconds, lambda: fut.done() or fut.set_result(None))
    fut.add_done_callback(lambda f: call.active() and f.cancelled() and call.cancel())
    return fut


def _ns(ts: datetime | None) -> int:
    if ts is None:
        return 0
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    d = ts - _EPOCH
    return ((d.days * 86_400 + d.seconds) * 1_000_000 + d.microseconds) * 1000


class OpcUaDevice:
    """Collects one OPC UA server's tags (a ``tagdb.contracts.TagWriter`` too)."""

    def __init__(self, spec: DeviceSpec, tags: list[TagSpec], db: Any, clock: Any, data_dir: Path,
                 endpoint: str, reporter: Callable[..., None] | None = None) -> None:
        self.spec, self.name, self.endpoint = spec, spec.name, endpoint
        self.options = dict(spec.options or {})
        self.tags = list(tags)
        self._db, self._clock, self._data_dir, self._reporter = db, clock, Path(data_dir), reporter
        self._ids = np.asarray(db.ids([t.path for t in self.tags]), dtype=np.intp) if self.tags else np.empty(0, np.intp)
        self._is_str = np.array([t.data_type == "string" for t in self.tags], bool)
        lin = [Linear.of(t.scaling) for t in self.tags]
        self._a = np.array([x.a for x in lin]) if lin else np.empty(0)
        self._b = np.array([x.b for x in lin]) if lin else np.empty(0)
        self._scaled = bool(np.any(self._a != 1.0) or np.any(self._b != 0.0))
        self._linear = {t.path: x for t, x in zip(self.tags, lin)}
        self._row = {t.path: i for i, t in enumerate(self.tags)}
        self.client = None
        self.nodes: dict[str, Any] = {}
        self._vtypes: dict[str, ua.VariantType] = {}
        self._pending: list = []
        self._flush_handle = None
        self._task: asyncio.Task | None = None
        self._stopping = False
        self._down = False
        self.connected = asyncio.Event()
        self.sessions = 0
        self.notifications = 0
        self.last_error = ""

    # ------------------------------------------------------------------ supervision

    def start(self) -> None:
        """Start the supervisor task."""
        self._stopping = False
        self._task = asyncio.ensure_future(self._supervise())

    async def stop(self) -> None:
        """Stop the supervisor and close the session."""
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
        await self._drop()

    async def _supervise(self) -> None:
        delay = float(self.options.get("backoff_initial") or 0.5)
        cap = float(self.options.get("backoff_max") or 30.0)
        while not self._stopping:
            try:
                await self._session()
                delay = float(self.options.get("backoff_initial") or 0.5)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure of a session is an outage, never a crash
                self._outage(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            else:
                self._outage("connection lost")
            await self._drop()
            if self._stopping:
                return
            await clock_sleep(self._clock, delay)
            delay = min(delay * 2, cap)

    async def _drop(self) -> None:
        self.connected.clear()
        client, self.client = self.client, None
        if client is not None:
            try:
                await asyncio.wait_for(client.disconnect(), 2.0)
            except Exception:
                client.disconnect_socket()

    def _outage(self, reason: str) -> None:
        self.last_error = reason
        if not self._down:
            self._down = True
            log.error("OPC UA device %s (%s) is unreachable: %s", self.name, self.endpoint, reason)
            self._db.set_quality(self.name, BAD_COMM_FAILURE.with_detail(reason))
            self._report(False, reason)
        else:
            log.debug("OPC UA device %s still unreachable: %s", self.name, reason)

    def _report(self, up: bool, error: str) -> None:
        if self._reporter is not None:
            try:
                self._reporter(self.name, up, error)
            except Exception:
                log.exception("device health report of %s failed", self.name)

    # ------------------------------------------------------------------ one session

    async def _session(self) -> None:
        timeout = float(self.spec.timeout or 4.0)
        self.client = client = await open_client(self.endpoint, self.options, max(timeout, 2.0), self._data_dir)
        lost = asyncio.get_running_loop().create_future()

        async def on_lost(exc: Exception) -> None:
            if not lost.done():
                lost.set_result(exc)
        client.connection_lost_callback = on_lost
        namespaces = await client.get_namespace_array()
        missing = [u for u in self.options.get("namespace_uris") or () if u not in namespaces]
        if missing:
            raise NamespaceError(f"the server offers no namespace {', '.join(missing)}")
        await self._resolve(client, namespaces)
        period = float(self.options.get("publishing_interval") or 1.0) * 1000
        n = max(len(self.nodes), 1)
        sub = await client.create_subscription(period, None, queue_maxsize=max(100_000, 20 * n))
        await self._monitor(sub)
        self.sessions += 1
        self.connected.set()
        if self._down:
            self._down = False
            log.info("OPC UA device %s (%s) recovered", self.name, self.endpoint)
        self._report(True, "")
        consumer = asyncio.ensure_future(self._consume(sub))
        try:
            await asyncio.wait({consumer, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            consumer.cancel()
            self._flush()

    async def _resolve(self, client, namespaces: list[str]) -> None:
        self.nodes.clear()
        bad: list[int] = []
        details: dict[int, str] = {}
        for i, t in enumerate(self.tags):
            addr = (t.address or "").strip()
            try:
                if addr.startswith("/"):
                    node = await client.nodes.root.get_child(
                        browse_path(addr, namespaces, self.options.get("namespace_uri")))
                else:
                    node = client.get_node(node_id(addr, namespaces))
            except Exception as exc:
                bad.append(i)
                details[i] = f"cannot resolve {addr!r}: {exc}"
                continue
            self.nodes[t.path] = node
        for i in bad:
            self._db.set_quality(self._ids[[i]], BAD_CONFIG_ERROR.with_detail(details[i]))
        if bad:
            log.error("OPC UA device %s: %d tag(s) cannot be resolved, e.g. %s", self.name, len(bad), details[bad[0]])

    async def _monitor(self, sub) -> None:
        sampling = float(self.options.get("sampling_interval", 0.5)) * 1000
        queue = int(self.options.get("queue_size") or 10)
        requests = []
        for t in self.tags:
            node = self.nodes.get(t.path)
            if node is None:
                continue
            params = ua.MonitoringParameters()
            params.ClientHandle = self._row[t.path] + 1
            params.SamplingInterval = sampling
            params.QueueSize = queue
            params.DiscardOldest = True
            db = t.deadband.absolute(t.eu_lo, t.eu_hi) if t.is_numeric and t.data_type != "bool" else 0.0
            if db > 0:
                f = ua.DataChangeFilter()
                f.Trigger = ua.DataChangeTrigger.StatusValue
                f.DeadbandType = ua.DeadbandType.Absolute
                f.DeadbandValue = db / (self._linear[t.path].a or 1.0)   # the server sees raw values
                params.Filter = f
            req = ua.MonitoredItemCreateRequest()
            req.ItemToMonitor = ua.ReadValueId(NodeId=node.nodeid, AttributeId=ua.AttributeIds.Value)
            req.MonitoringMode = ua.MonitoringMode.Reporting
            req.RequestedParameters = params
            requests.append((t, req))
        for start in range(0, len(requests), CHUNK):
            chunk = requests[start:start + CHUNK]
            results = await sub.create_monitored_items([r for _, r in chunk])
            for (t, _), res in zip(chunk, results):
                if isinstance(res, ua.StatusCode):
                    self._db.set_quality(self._ids[[self._row[t.path]]],
                                         BAD_CONFIG_ERROR.with_detail(f"cannot monitor: {res.name}"))

    # ------------------------------------------------------------------ notifications

    async def _consume(self, sub) -> None:
        loop = asyncio.get_running_loop()
        pending = self._pending
        async for ev in sub:
            if isinstance(ev, DataChangeEvent):
                mi = ev.data.monitored_item
                pending.append((mi.ClientHandle - 1, mi.Value))
                if self._flush_handle is None:
                    self._flush_handle = loop.call_soon(self._flush)
            elif isinstance(ev, StatusChangeEvent) and not ev.notification.Status.is_good():
                self._flush()
                return

    def _flush(self) -> None:
        self._flush_handle = None
        if not self._pending:
            return
        batch, self._pending[:] = list(self._pending), []
        self.notifications += len(batch)
        n = len(batch)
        rows = np.empty(n, np.intp)
        vals = np.empty(n, np.float64)
        codes = np.empty(n, np.uint32)
        src = np.empty(n, np.int64)
        keep = np.ones(n, bool)
        strings = []
        is_str = self._is_str
        for k, (row, dv) in enumerate(batch):
            rows[k] = row
            code = dv.StatusCode.value if dv.StatusCode is not None else 0
            codes[k] = code
            src[k] = _ns(dv.SourceTimestamp or dv.ServerTimestamp)
            v = dv.Value.Value if dv.Value is not None else None
            if is_str[row] or v is None or isinstance(v, str):
                keep[k] = False
                strings.append((row, v, code, src[k]))
                continue
            try:
                vals[k] = v
            except (TypeError, ValueError):
                # An array or structure where the site expects a scalar: a configuration problem.
                keep[k] = False
                strings.append((row, None, BAD_CONFIG_ERROR.code, src[k]))
        if not keep.all():
            rows, vals, codes, src = rows[keep], vals[keep], codes[keep], src[keep]
        if len(rows):
            if self._scaled:
                vals = vals * self._a[rows] + self._b[rows]
            src = np.where(src == 0, self._db.now_ns(), src)
            self._db.ingest(self._ids[rows], vals, codes, src)
        if strings:
            self._apply_objects(strings)

    def _apply_objects(self, items) -> None:
        now = self._db.now_ns()
        values, quality_only = [], []
        for row, v, code, src in items:
            if not self._is_str[row]:
                # No value (or a string for a numeric tag): keep the last value, take the status.
                quality_only.append((row, code if v is None else BAD_CONFIG_ERROR.code))
                continue
            if v is not None and not isinstance(v, str):
                v = str(v)              # a string tag fed another type: keep it readable
            ts = ns_to_utc(int(src) or now)
            values.append(TagValue(self.tags[row].path, v, Quality(int(code)), ts, ts))
        if values:
            try:
                self._db.update(values)
            except Exception:
                log.exception("OPC UA device %s: values not applied", self.name)
        for row, code in quality_only:
            self._db.set_quality(self._ids[[row]], Quality(int(code)))

    # ------------------------------------------------------------------ writes

    async def write_tag(self, spec: TagSpec, value) -> WriteResult:
        """Write ``value`` coerced to the node's data type; returns the server's status, never raises."""
        if not spec.writable:
            return WriteResult(spec.path, value, WriteStatus.READ_ONLY, f"{spec.path} is read-only")
        node = self.nodes.get(spec.path)
        if self.client is None or not self.connected.is_set() or node is None:
            return WriteResult(spec.path, value, WriteStatus.DEVICE_UNREACHABLE,
                               f"{self.name} is not connected ({self.last_error or 'connecting'})")
        raw = value
        if spec.scaling is not None and not isinstance(value, (bool, str)):
            raw = self._linear[spec.path].to_raw(float(value))
        try:
            vt = self._vtypes.get(spec.path)
            if vt is None:
                vt = self._vtypes[spec.path] = await node.read_data_type_as_variant_type()
            variant = coerce(raw, vt if vt in VARIANTS.values() else VARIANTS[spec.data_type])
            await node.write_attribute(ua.AttributeIds.Value, ua.DataValue(variant))
        except EncodeError as exc:
            return WriteResult(spec.path, value, WriteStatus.OUT_OF_RANGE if "range" in str(exc) else WriteStatus.BAD_TYPE,
                               f"{spec.path}: {exc}")
        except ua.UaStatusCodeError as exc:
            name = ua.StatusCode(exc.code).name if hasattr(exc, "code") else type(exc).__name__
            status = {"BadUserAccessDenied": WriteStatus.NOT_AUTHORIZED, "BadNotWritable": WriteStatus.READ_ONLY,
                      "BadTypeMismatch": WriteStatus.BAD_TYPE, "BadOutOfRange": WriteStatus.OUT_OF_RANGE,
                      "BadTimeout": WriteStatus.TIMEOUT}.get(name, WriteStatus.DEVICE_EXCEPTION)
            return WriteResult(spec.path, value, status, f"{spec.path}: server refused: {name}", name)
        except (asyncio.TimeoutError, TimeoutError) as exc:
            return WriteResult(spec.path, value, WriteStatus.TIMEOUT, f"{spec.path}: no answer ({exc})")
        except (ConnectionError, OSError) as exc:
            return WriteResult(spec.path, value, WriteStatus.DEVICE_UNREACHABLE, f"{spec.path}: {exc}")
        return WriteResult(spec.path, value, WriteStatus.OK, device_status="Good")
