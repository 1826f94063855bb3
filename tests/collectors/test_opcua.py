"""The OPC UA collector against the simulator's asyncua server over loopback."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from types import MappingProxyType

from twisted.internet import reactor

from collectors.opcua.collector import OpcUaCollector
from collectors.sim.opcua_server import OpcUaSimServer
from collectors.testing import aio_test, free_port, wait_until
from tagdb.database import TagDatabase
from tagdb.site.model import Deadband, DeviceSpec, SiteModel, TagSpec
from tagdb.values import WriteStatus

NS = "urn:test:plant"


def _site(port: int, **options) -> SiteModel:
    dev = DeviceSpec(name="ua", protocol="opcua", endpoint=f"opc.tcp://127.0.0.1:{port}/spms/sim", timeout=3.0,
                     options=MappingProxyType({"namespace_uri": NS, "publishing_interval": 0.1,
                                               "sampling_interval": 0.05, "backoff_initial": 0.2,
                                               "backoff_max": 1.0, **options}))
    tags = (
        TagSpec("p/temp", "float64", "ua", f"nsu={NS};s=Pump1.Temp", deadband=Deadband(0.0)),
        TagSpec("p/speed", "int16", "ua", f"nsu={NS};s=Pump1.Speed", access="rw"),
        TagSpec("p/running", "bool", "ua", "/Objects/Plant/Pump1/Running"),
        TagSpec("p/mode", "string", "ua", f"nsu={NS};s=Pump1.Mode", access="rw"),
        TagSpec("p/missing", "float64", "ua", f"nsu={NS};s=Pump1.Nope"),
        TagSpec("p/temp_db", "float64", "ua", f"nsu={NS};s=Pump1.Temp", deadband=Deadband(1.0)),
    )
    return SiteModel(name="t", timezone="UTC", files=(), buildings=(), devices={"ua": dev}, tags=tags,
                     equipment=(), sections={})


def _server(port: int, tmp_path, **kw) -> OpcUaSimServer:
    s = OpcUaSimServer("127.0.0.1", port, NS, path="/spms/sim", cert_dir=tmp_path / "server-certs", **kw)
    s.add_variable("Plant", "Pump1", "Temp", "float64", 20.5)
    s.add_variable("Plant", "Pump1", "Speed", "int16", 1200, writable=True)
    s.add_variable("Plant", "Pump1", "Running", "bool", True)
    s.add_variable("Plant", "Pump1", "Mode", "string", "auto", writable=True)
    return s


@asynccontextmanager
async def _rig(tmp_path, server_kw=None, **options):
    """A started simulator server and collector: (server, site, db, collector, device); both stopped after."""
    port = free_port()
    server = _server(port, tmp_path, **(server_kw or {}))
    await server.start()
    try:
        site = _site(port, **options)
        db = TagDatabase(site.tags, reactor)
        coll = OpcUaCollector(site, db, reactor, tmp_path / "data")
        await coll.start()
        try:
            yield server, site, db, coll, coll.devices["ua"]
        finally:
            await coll.stop()
    finally:
        await server.stop()


@aio_test
async def test_subscription_keeps_values_status_and_source_timestamps(tmp_path):
    async with _rig(tmp_path) as (server, site, db, coll, dev):
        await wait_until(lambda: db.get("p/mode").value == "auto" and db.get("p/temp").quality.is_good,
                         timeout=15, what="initial values")
        assert db.get("p/temp").value == 20.5
        assert db.get("p/speed").value == 1200
        assert db.get("p/running").value in (1, True)
        miss = db.get("p/missing").quality
        assert miss.is_bad and "BadNodeIdUnknown" in miss.detail
        from datetime import datetime, timezone
        ts = datetime(2026, 3, 1, 8, 0, 1, 250000, tzinfo=timezone.utc)
        await server.publish({"Pump1.Temp": 21.75}, source_ts=ts)
        await wait_until(lambda: db.get("p/temp").value == 21.75, what="change delivered")
        assert db.get("p/temp").source_ts == ts
        await server.set_status("Pump1.Temp", 0x808C0000)          # BadSensorFailure from the server
        await wait_until(lambda: db.get("p/temp").quality.code == 0x808C0000, what="status kept")


@aio_test
async def test_writes_coerce_to_the_node_type_and_report_status(tmp_path):
    async with _rig(tmp_path) as (server, site, db, coll, dev):
        await wait_until(dev.connected.is_set, timeout=15, what="connected")
        ok = await dev.write_tag(site.tag("p/speed"), 1500.0)       # a float into an Int16 node
        assert ok.ok and ok.device_status == "Good"
        assert server.read("Pump1.Speed") == 1500
        big = await dev.write_tag(site.tag("p/speed"), 70000)
        assert big.status is WriteStatus.OUT_OF_RANGE
        ro = await dev.write_tag(site.tag("p/temp"), 1.0)
        assert ro.status is WriteStatus.READ_ONLY
        assert (await dev.write_tag(site.tag("p/mode"), "manual")).ok
        await wait_until(lambda: db.get("p/mode").value == "manual", what="write seen")


@aio_test
async def test_server_restart_restores_subscription_without_action(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="collectors")
    async with _rig(tmp_path) as (server, site, db, coll, dev):
        await wait_until(lambda: db.get("p/temp").quality.is_good, timeout=15, what="good")
        await server.stop()
        await wait_until(lambda: db.get("p/temp").quality.name == "BadCommunicationError", timeout=15,
                         what="bad after server stop")
        assert db.get("p/temp").value == 20.5           # last value kept
        await server.start()
        await wait_until(lambda: dev.sessions == 2 and db.get("p/temp").quality.is_good, timeout=20,
                         what="subscription restored")
        await server.publish({"Pump1.Temp": 30.0})
        await wait_until(lambda: db.get("p/temp").value == 30.0, what="new changes flow")
        msgs = [r.getMessage() for r in caplog.records if r.name.startswith("collectors")]
        assert sum("unreachable" in m for m in msgs) == 1 and sum("recovered" in m for m in msgs) == 1


@aio_test
async def test_sign_and_encrypt_with_username(tmp_path):
    async with _rig(
        tmp_path, server_kw={"users": {"operator": "s3cret"}, "anonymous": False},
        security_mode="SignAndEncrypt", security_policy="Basic256Sha256", username="operator", password="s3cret") as (server, site, db, coll, dev):
        await wait_until(lambda: db.get("p/temp").quality.is_good, timeout=20, what="secure session")
        assert (tmp_path / "data" / "opcua" / "client-cert.der").exists()    # generated on first use
        assert dev.client.security_policy.Mode == 3          # ua.MessageSecurityMode.SignAndEncrypt


@aio_test
async def test_wrong_password_is_an_outage_not_a_crash(tmp_path):
    async with _rig(
        tmp_path, server_kw={"users": {"operator": "s3cret"}, "anonymous": False},
        username="operator", password="wrong") as (server, site, db, coll, dev):
        await wait_until(lambda: db.get("p/temp").quality.name == "BadCommunicationError", timeout=15,
                         what="bad")
        assert "BadUserAccessDenied" in dev.last_error or "Identity" in dev.last_error


@aio_test
async def test_deadband_is_applied_by_the_server(tmp_path):
    async with _rig(tmp_path) as (server, site, db, coll, dev):
        await wait_until(lambda: db.get("p/temp_db").quality.is_good and db.get("p/speed").quality.is_good,
                         timeout=15, what="initial values")
        assert db.get("p/temp_db").value == 20.5
        await server.publish({"Pump1.Temp": 20.9})
        await wait_until(lambda: db.get("p/temp").value == 20.9, what="undeadbanded item sees the change")
        await server.publish({"Pump1.Speed": 1234})
        await wait_until(lambda: db.get("p/speed").value == 1234, what="a later publish cycle")
        assert db.get("p/temp_db").value == 20.5          # 0.4 < 1.0: filtered at the server
        await server.publish({"Pump1.Temp": 22.0})
        await wait_until(lambda: db.get("p/temp_db").value == 22.0, what="change beyond the deadband")
