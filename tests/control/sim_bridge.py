"""Drive the collectors' simulator physics models directly on an injected clock.

``ModelBridge`` plays the collector for one simulated Modbus model: every
``scan`` seconds it steps the model's physics and publishes every point into
the real TagDatabase (quantized exactly as the device registers hold them),
and it is the model's ``TagWriter``: a write lands in the model's registers
and reads back on the next scan, like a polled device.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from twisted.internet.task import LoopingCall

from collectors.sim.clock import seeded
from collectors.sim.points import ModbusModel
from tagdb.site.model import TagSpec
from tagdb.values import BAD_COMM_FAILURE, GOOD, TagValue, WriteResult, WriteStatus


def model_specs(model: ModbusModel, prefix: str, device: str) -> list[TagSpec]:
    """Tag specs for every point of ``model`` under ``prefix``."""
    out = []
    for p in model.points.values():
        dt = p.data_type if p.data_type in ("bool", "string") or p.scale == 1.0 else "float64"
        out.append(TagSpec(path=f"{prefix}/{p.name}", data_type=dt, device=device, address=p.address,
                           access="rw" if p.writable else "r"))
    return out


class ModelBridge:
    """A fake collector for one simulator model (see the module docstring)."""

    def __init__(self, db: Any, clock: Any, model: ModbusModel, prefix: str, device: str,
                 scan: float = 1.0, hour: float = 14.0, names: dict[str, str] | None = None) -> None:
        self.db, self.clock, self.model, self.prefix = db, clock, model, prefix
        self.scan, self.hour = scan, hour
        self.names = names or {}
        self.reachable = True
        self.writes: list[tuple[str, Any, float]] = []
        db.register_writer(device, self)
        self._call = LoopingCall(self.tick)
        self._call.clock = clock

    def path(self, point: str) -> str:
        """The tag path of a model point."""
        return f"{self.prefix}/{self.names.get(point, point)}"

    def start(self) -> None:
        """Step once and publish now, then step and publish every ``scan`` seconds."""
        self.model.step(0.0, self.hour)
        self.publish()
        self._call.start(self.scan, now=False)

    def stop(self) -> None:
        """Stop stepping."""
        if self._call.running:
            self._call.stop()

    def tick(self) -> None:
        """One scan: advance the physics, then poll every point."""
        self.model.step(self.scan, self.hour)
        self.publish()

    def publish(self) -> None:
        """Copy every point into the tag database (Bad comm failure while unreachable)."""
        ts = datetime.fromtimestamp(self.clock.seconds(), tz=timezone.utc)
        if not self.reachable:
            self.db.set_quality([self.path(n) for n in self.model.points], BAD_COMM_FAILURE.with_detail("timeout"))
        else:
            self.db.update([TagValue(self.path(n), self.model.get(n), GOOD, ts, ts) for n in self.model.points])
        self.db.flush()

    async def write_tag(self, spec: TagSpec, value: Any) -> WriteResult:
        """Write into the model's registers (read back on the next scan)."""
        if not self.reachable:
            return WriteResult(spec.path, value, WriteStatus.DEVICE_UNREACHABLE, "timeout")
        point = spec.path[len(self.prefix) + 1:]
        point = {v: k for k, v in self.names.items()}.get(point, point)
        self.model.set(point, value)
        self.writes.append((spec.path, value, self.clock.seconds()))
        # Like the Modbus collector: read the device back right after a write.
        self.clock.callLater(0, self.publish)
        return WriteResult(spec.path, value, WriteStatus.OK)


def rng(name: str, seed: int = 20260301):
    """The seeded generator the simulator hub would give ``name``."""
    return seeded(seed, name)
