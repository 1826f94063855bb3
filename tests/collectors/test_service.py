"""The collectors' and simulators' factories: opting out, disabled devices, writers registered."""

from __future__ import annotations

from twisted.internet.task import Clock

import collectors.service
import collectors.simulators_service
from tagdb.database import TagDatabase
from tagdb.server.context import ServerContext
from tagdb.site.model import DeviceSpec, SiteModel, TagSpec
from tagdb.values import WriteStatus
from collectors.testing import aio_test


def _ctx(devices, tags, sections=None):
    site = SiteModel("t", "UTC", (), (), devices, tuple(tags), (), sections or {})
    clock = Clock()
    clock.advance(1_772_352_000)
    ctx = ServerContext(site=site, reactor=clock, data_dir="/tmp/spms-test-collectors")
    ctx.tags = TagDatabase(site.tags, clock)
    return ctx


def test_no_field_devices_no_service():
    ctx = _ctx({}, [])
    assert collectors.service.from_config(ctx) is None
    assert collectors.simulators_service.from_config(ctx) is None     # no simulators: section


def test_disabled_devices_are_out_of_service_and_not_polled():
    devices = {"a": DeviceSpec("a", "modbus", "tcp://127.0.0.1:1", enabled=False),
               "b": DeviceSpec("b", "modbus", "tcp://127.0.0.1:2"),
               "c": DeviceSpec("c", "opcua", "opc.tcp://127.0.0.1:3/x")}
    tags = [TagSpec("x/a", "int16", "a", "hr:0"), TagSpec("x/b", "int16", "b", "hr:0", access="rw"),
            TagSpec("x/c", "int16", "c", "nsu=urn:x;s=C", access="rw")]
    ctx = _ctx(devices, tags)
    svc = collectors.service.from_config(ctx)
    assert svc.name == "collectors"
    q = ctx.tags.get("x/a").quality
    assert q.name == "BadOutOfService" and "disabled" in q.detail
    assert list(svc.modbus.devices) == ["b"] and list(svc.opcua.devices) == ["c"]


@aio_test
async def test_writes_route_to_the_owning_collector():
    devices = {"b": DeviceSpec("b", "modbus", "tcp://127.0.0.1:2"),
               "c": DeviceSpec("c", "opcua", "opc.tcp://127.0.0.1:3/x")}
    tags = [TagSpec("x/b", "int16", "b", "hr:0", access="rw"), TagSpec("x/c", "int16", "c", "nsu=urn:x;s=C", access="rw")]
    ctx = _ctx(devices, tags)
    collectors.service.from_config(ctx)               # registers the writers; not started
    rb = await ctx.tags.write("x/b", 5, user="t")
    rc = await ctx.tags.write("x/c", 5, user="t")
    assert rb.status is WriteStatus.DEVICE_UNREACHABLE and "not running" in rb.message
    assert rc.status is WriteStatus.DEVICE_UNREACHABLE and "not connected" in rc.message
