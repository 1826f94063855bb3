"""Test helpers: the real TagDatabase on an injected clock, with a fake device behind it.

``FakeDevice`` is a ``TagWriter`` that accepts writes and makes the written
value read back after ``delay`` seconds of the injected clock (like a device
that is polled again), or refuses them when told to.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from twisted.internet.task import Clock

from tagdb.database import TagDatabase
from tagdb.site.model import TagSpec
from tagdb.values import GOOD, Quality, TagValue, WriteResult, WriteStatus

T0 = 1_790_000_000.0   # 2026-09-21 (a Monday) 14:13:20 UTC


def spec(path: str, data_type: str = "float64", access: str = "rw", device: str = "dev", **kw) -> TagSpec:
    """A TagSpec for tests."""
    return TagSpec(path=path, data_type=data_type, device=device, address="hr:0", access=access, **kw)


def make_db(specs: list[TagSpec], start: float = T0) -> tuple[TagDatabase, Clock]:
    """A real TagDatabase on a task.Clock set to ``start``."""
    clock = Clock()
    clock.advance(start)
    return TagDatabase(specs, clock), clock


def put(db: TagDatabase, clock: Clock, values: dict[str, Any], quality: Quality = GOOD) -> None:
    """Set tag values as a collector would, and deliver them to subscribers."""
    ts = datetime.fromtimestamp(clock.seconds(), tz=timezone.utc)
    db.update([TagValue(p, v, quality, ts, ts) for p, v in values.items()])
    db.flush()


class FakeDevice:
    """A TagWriter whose writes read back after ``delay`` seconds (None: never)."""

    def __init__(self, db: TagDatabase, clock: Clock, delay: float | None = 0.0,
                 devices: tuple[str, ...] = ("dev",)) -> None:
        self.db, self.clock, self.delay = db, clock, delay
        self.writes: list[tuple[str, Any, float]] = []
        self.refuse: WriteStatus | None = None
        self.on_write = None
        for d in devices:
            db.register_writer(d, self)

    async def write_tag(self, spec: TagSpec, value: Any) -> WriteResult:
        """Accept (or refuse) the write; schedule its read-back."""
        if self.refuse is not None:
            return WriteResult(spec.path, value, self.refuse, "refused by the fake device")
        self.writes.append((spec.path, value, self.clock.seconds()))
        if self.on_write is not None:
            self.on_write(spec.path, value)
        elif self.delay is not None:
            if self.delay == 0:
                put(self.db, self.clock, {spec.path: value})
            else:
                self.clock.callLater(self.delay, put, self.db, self.clock, {spec.path: value})
        return WriteResult(spec.path, value, WriteStatus.OK)

    def last(self, path: str) -> Any:
        """The last value written to ``path``."""
        for p, v, _ in reversed(self.writes):
            if p == path:
                return v
        raise KeyError(path)


def section(yaml_text: str) -> dict:
    """A validated ``control:`` section from YAML text (fails the test on any error)."""
    from control.schema import SECTION
    from tagdb.site.errors import Loc
    from tagdb.site.located import load_yaml

    data, errs = load_yaml(yaml_text, "control.yaml")
    assert not errs, errs
    clean, errs = SECTION.check(data, "control", Loc("control.yaml", 1))
    assert not errs, [str(e) for e in errs]
    return clean


# The heating zone's PID loop (pv z/temp, out z/valve); tests append their own loop options or sections.
ZONE_LOOP = """
loops:
  zone:
    pv: z/temp
    out: z/valve
    sp: 21.0
    kp: 8
    ti: 40s
    action: reverse
    out_min: 0
    out_max: 100
"""


def loop_rig(yaml_text: str, extra_specs=(), events=None):
    """(db, clock, fake device, ControlEngine) for the ``control:`` YAML over z/temp, z/valve and ``extra_specs``."""
    from control.engine import ControlEngine

    db, clock = make_db([spec("z/temp", access="r"), spec("z/valve"), *extra_specs])
    dev = FakeDevice(db, clock)
    engine = ControlEngine(section(yaml_text), db, clock, "Asia/Shanghai", events=events)
    return db, clock, dev, engine


# A one-PLC site with a zone's temperature, valve and fan, for site-validation tests of control.yaml.
PLC_SITE = """
site: {name: t, timezone: Asia/Shanghai}
devices:
  plc: {protocol: modbus, endpoint: "tcp://127.0.0.1:1502"}
tags:
  - {path: z/temp, type: float32, device: plc, address: "ir:0"}
  - {path: z/valve, type: float32, device: plc, address: "hr:0", access: rw}
  - {path: z/fan, type: bool, device: plc, address: "co:0", access: rw}
"""


def check_control(tmp_path, control: str, site_yaml: str = PLC_SITE):
    """Validate a site folder of ``site_yaml`` and ``control`` (control.yaml); returns (site, error strings)."""
    from tagdb.site.loader import check_site

    (tmp_path / "site.yaml").write_text(site_yaml)
    (tmp_path / "control.yaml").write_text(control)
    site, errors = check_site(tmp_path)
    return site, [str(e) for e in errors]
