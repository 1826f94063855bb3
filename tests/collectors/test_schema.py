"""The collectors' config hooks, through the real site loader: every error names file, line, field."""

from __future__ import annotations

import pytest

from collectors.schema import check_address
from tagdb.site.loader import check_site

SITE = """site: {name: T, timezone: UTC}
devices:
  plc: {protocol: modbus, endpoint: "tcp://127.0.0.1:15999", options: {word_order: little, max_gap: 4}}
  ua: {protocol: opcua, endpoint: "opc.tcp://127.0.0.1:15998/x", options: {namespace_uri: "urn:x"}}
"""


@pytest.mark.parametrize("address,dtype,problem", [
    ("hr:100", "float32", None),
    ("ir:30", "int16", None),
    ("co:5", "bool", None),
    ("di:7", "bool", None),
    ("hr:100.3", "bool", None),
    ("hr:200[10]", "string", None),
    ("hr:65534", "uint32", None),
    ("hr:65535", "uint32", "spans past register 65535"),
    ("co:5", "int16", "hold bool values"),
    ("hr:100.16", "bool", "numbered 0..15"),
    ("hr:100.3", "int16", "holds a bool"),
    ("hr:100", "bool", "needs a bit number"),
    ("hr:200", "string", "needs its length"),
    ("hr:200[126]", "string", "at most 125"),
    ("hr:100[2]", "float32", "only strings"),
    ("xr:1", "int16", "invalid Modbus address"),
    ("hr:-1", "int16", "invalid Modbus address"),
])
def test_modbus_addresses(address, dtype, problem):
    got = check_address("modbus", address, dtype)
    assert (got is None) if problem is None else (problem in got), got


@pytest.mark.parametrize("address,problem", [
    ("nsu=urn:x;s=Car1.Floor", None),
    ("nsu=urn:x;i=1001", None),
    ("i=2258", None),
    ("/Objects/Lifts/Car1/Floor", None),
    ("ns=2;s=Car1.Floor", "namespace indexes differ"),
    ("nsu=urn:x;i=abc", "i= takes a number"),
    ("/Objects//Floor", "empty segment"),
    ("Car1.Floor", "invalid OPC UA address"),
])
def test_opcua_addresses(address, problem):
    got = check_address("opcua", address, "float64")
    assert (got is None) if problem is None else (problem in got), got


def _check(tmp_path, extra: str):
    (tmp_path / "site.yaml").write_text(SITE + extra)
    return check_site(tmp_path)


def test_valid_tags_and_simulators_load(tmp_path):
    site, errors = _check(tmp_path, """tags:
  - {path: a/b/t, type: float32, device: plc, address: "hr:10"}
  - {path: a/b/u, type: float64, device: ua, address: "nsu=urn:x;s=T"}
simulators:
  seed: 3
  instances:
    plant: {kind: chillers, devices: [plc]}
""")
    assert errors == [], [str(e) for e in errors]
    assert site.devices["plc"].options["word_order"] == "little"
    assert site.section("simulators")["seed"] == 3


def test_errors_name_file_line_and_field(tmp_path):
    _, errors = _check(tmp_path, """tags:
  - {path: a/b/t, type: int16, device: plc, address: "co:1"}
  - {path: a/b/u, type: float64, device: ua, address: "ns=2;s=T"}
simulators:
  instances:
    both: {kind: meters, endpoint: "tcp://127.0.0.1:1", devices: [plc]}
""")
    text = "\n".join(str(e) for e in errors)
    assert "site.yaml:6: tags[0].address" in text and "hold bool values" in text
    assert "site.yaml:7: tags[1].address" in text and "namespace indexes differ" in text
    assert "site.yaml:10: simulators.instances.both" in text and "give either endpoint" in text


def test_simulator_cross_checks_name_file_line_and_field(tmp_path):
    _, errors = _check(tmp_path, """simulators:
  instances:
    lifts: {kind: elevators, devices: [plc]}
    ghost: {kind: meters, devices: [nope]}
""")
    text = "\n".join(str(e) for e in errors)
    assert "site.yaml:7: simulators.instances.lifts" in text and "serves opcua" in text
    assert "site.yaml:8: simulators.instances.ghost.devices[0]: unknown device 'nope'" in text


def test_bad_device_options_are_reported(tmp_path):
    (tmp_path / "site.yaml").write_text("""site: {name: T, timezone: UTC}
devices:
  plc: {protocol: modbus, endpoint: "tcp://127.0.0.1:1", options: {word_order: middle, max_registers: 200}}
  ua: {protocol: opcua, endpoint: "opc.tcp://127.0.0.1:2", options: {security_mode: Encrypt, username: u}}
""")
    _, errors = check_site(tmp_path)
    text = "\n".join(str(e) for e in errors)
    assert "options.word_order" in text and "options.max_registers" in text
    assert "options.security_mode" in text
    assert all("site.yaml:" in str(e) for e in errors)
