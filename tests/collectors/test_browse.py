"""``spms tags browse``: the printed configuration, fed back into a site, passes ``spms check``."""

from __future__ import annotations

import argparse

from collectors.cli import browse_to_text, default_device
from collectors.opcua.browse import snake
from collectors.sim.elevators import VARIABLES, Car
from collectors.sim.opcua_server import OpcUaSimServer
from collectors.testing import aio_test, free_port
from tagdb.site.loader import check_site

NS = "urn:spms:sim:elevators"
SITE = "site:\n  name: Browse test\n  timezone: UTC\n"


async def _server(tmp_path):
    import random

    port = free_port()
    server = OpcUaSimServer("127.0.0.1", port, NS, path="/spms/elevators", cert_dir=None)
    for name in ("tower-a-car1", "tower-a-car2"):
        car = Car(name, -2, 30, random.Random(1))
        for var, (_, dtype, writable, _) in VARIABLES.items():
            server.add_variable("Elevators", name, var, dtype, car.values()[var], writable)
    await server.start()
    return server


def _args(endpoint, tmp_path, **kw):
    base = dict(endpoint=endpoint, root=None, format="yaml", device=None, prefix=None, output="-",
                username=None, password="", security_mode="None", data_dir=str(tmp_path / "var"), max_depth=12)
    base.update(kw)
    return argparse.Namespace(**base)


def test_names_become_tag_path_segments():
    assert snake("CurrentFloor") == "current_floor"
    assert snake("tower-a-car1") == "tower-a-car1"
    assert snake("Temp (°C)") == "temp_c"
    assert default_device("opc.tcp://127.0.0.1:4840/x") == "opcua-127-0-0-1-4840"


@aio_test
async def test_browse_yaml_round_trips_through_check(tmp_path):
    server = await _server(tmp_path)
    try:
        text, count = await browse_to_text(_args(server.endpoint, tmp_path, device="lifts", prefix="tower-a"))
    finally:
        await server.stop()
    assert count == 2 * len(VARIABLES)
    assert "ns=" not in text and f"nsu={NS};s=tower-a-car1.CurrentFloor" in text
    (tmp_path / "site").mkdir()
    (tmp_path / "site" / "site.yaml").write_text(SITE)
    (tmp_path / "site" / "browsed.yaml").write_text(text)
    site, errors = check_site(tmp_path / "site")
    assert errors == [], [str(e) for e in errors]
    floor = site.tag("tower-a/elevators/tower-a-car1/current_floor")
    assert floor.data_type == "int16" and floor.access == "r" and floor.device == "lifts"
    assert site.tag("tower-a/elevators/tower-a-car2/call_floor").access == "rw"
    assert site.tag("tower-a/elevators/tower-a-car1/running").data_type == "bool"
    assert site.devices["lifts"].options["namespace_uri"] == NS


@aio_test
async def test_browse_csv_with_root_imports_into_a_site(tmp_path):
    server = await _server(tmp_path)
    try:
        text, count = await browse_to_text(_args(server.endpoint, tmp_path, format="csv",
                                                 root=f"nsu={NS};s=tower-a-car2", device="lifts", prefix="lift-2"))
    finally:
        await server.stop()
    assert count == len(VARIABLES)
    folder = tmp_path / "site"
    folder.mkdir()
    (folder / "site.yaml").write_text(SITE + f"devices:\n  lifts: {{protocol: opcua, endpoint: \"{server.endpoint}\"}}\n"
                                      "tag_files: [browsed.csv]\n")
    (folder / "browsed.csv").write_text(text)
    site, errors = check_site(folder)
    assert errors == [], [str(e) for e in errors]
    assert len(site.tags) == len(VARIABLES)
    assert site.tag("lift-2/load_percent").data_type == "float64"


def test_spms_simulate_serves_the_demo_until_sigint(tmp_path):
    """The command runs the simulators alone, answers Modbus on the offset port, stops on SIGINT."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from collectors.sim.demo import free_port_offset, load_demo

    offset = free_port_offset(load_demo(0))
    env = {k: v for k, v in os.environ.items() if k != "SPMS_SIM_PORT_OFFSET"}
    proc = subprocess.Popen([sys.executable, "-m", "tagdb.cli.main", "--log-level", "WARNING", "simulate",
                             "--port-offset", str(offset), "--data-dir", str(tmp_path)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    try:
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "press Ctrl-C" in line:
                break
        text = "".join(lines)
        assert f"tcp://127.0.0.1:{15020 + offset}  chillers" in text, text
        from pymodbus.client import ModbusTcpClient

        client = ModbusTcpClient("127.0.0.1", port=15020 + offset, timeout=3)
        assert client.connect()
        rr = client.read_holding_registers(0, count=2, device_id=1)      # chiller 1 setpoint
        client.close()
        assert not rr.isError() and rr.registers == [0x40E0, 0]            # 7.0 as float32
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
