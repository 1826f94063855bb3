"""Valid sites: multi-file merging, template expansion with overrides, sections, hooks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagdb.site import hooks, sections
from tagdb.site.errors import SiteConfigError
from tagdb.site.loader import check_site, load_site

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo"

PLANT = """
devices:
  plant-plc:
    protocol: modbus
    endpoint: tcp://127.0.0.1:5030
    unit_id: 3
    timeout: 500ms
    retries: 2
    building: tower-a
    scan_groups: {default: 2s, fast: 200ms}
    options: {max_registers: 60}
  lifts-ua:
    protocol: opcua
    endpoint: opc.tcp://127.0.0.1:4840/lifts
tags:
  - path: tower-a/plant/supply_temp
    type: int16
    device: plant-plc
    address: hr:100
    units: degC
    scaling: {raw: [0, 1000], eng: [0, 100], clamp: true}
    deadband: 1%
    scan_group: fast
  - {path: tower-a/plant/mode, type: int16, access: rw}
"""

LIFTS = """
templates:
  elevator:
    class: elevator
    description: Traction lift with an OPC UA controller
    parameters: {car: null, floors: 30}
    tags:
      - {name: current_floor, type: int16, address: "nsu=urn:lifts;s=Car{car}.Floor",
         description: "{name} floor (of {floors})", range: [0, 30]}
      - {name: speed, type: float32, address: "nsu=urn:lifts;s=Car{car}.Speed", units: m/s, deadband: 0.05}
      - name: door_open
        type: bool
        address: "nsu=urn:lifts;s=Car{car}.Door"
        alarms:
          - {type: digital, state: true, on_delay: 60s, priority: low}
    alarms:
      - {type: stale, tag: current_floor, after: 10m}
equipment:
  - id: tower-a/elevator-{n}
    name: "Tower A lift {n}"
    count: 3
    template: elevator
    building: tower-a
    area: lift-room
    device: lifts-ua
    parameters: {car: "A{n}"}
  - id: tower-a/service-lift
    template: elevator
    device: lifts-ua
    parameters: {car: S, floors: 34}
    overrides:
      current_floor: {range: [-2, 34], description: "Service lift floor (car {car})"}
      speed: {units: ft/s, deadband: null}
"""

SITE = """
site: {name: Multi, timezone: Asia/Shanghai, data_dir: data}
buildings:
  - id: tower-a
    name: Tower A
    floors: 34
    basement_floors: 2
    areas: [{id: lift-room, name: Lift machine room}]
server:
  api: {port: 9090, tokens: {abcdefghijklmnop0123: {user: gw, permissions: [tags.read]}}}
"""


@pytest.fixture
def multi(make_site):
    return make_site({"00-site.yaml": SITE, "10-plant.yaml": PLANT, "20-lifts.yml": LIFTS}, base=False)


def test_multi_file_site_merges_everything(multi):
    site = load_site(multi)
    assert site.name == "Multi" and site.timezone == "Asia/Shanghai"
    assert [Path(f).name for f in site.files] == ["00-site.yaml", "10-plant.yaml", "20-lifts.yml"]
    assert site.data_dir == str((multi / "data").resolve())
    assert set(site.devices) == {"plant-plc", "lifts-ua"}
    plc = site.devices["plant-plc"]
    assert (plc.unit_id, plc.timeout, plc.retries, plc.building) == (3, 0.5, 2, "tower-a")
    assert dict(plc.scan_groups) == {"default": 2.0, "fast": 0.2}
    assert plc.options["max_registers"] == 60 and plc.options["word_order"] == "big"   # collectors defaults
    assert len(site.tags) == 2 + 4 * 3
    temp = site.tag("tower-a/plant/supply_temp")
    assert temp.scaling.to_eng(500) == 50.0 and temp.scaling.clamp
    assert (temp.eu_lo, temp.eu_hi) == (0, 100)                 # range taken from the scaling
    assert temp.deadband.absolute(temp.eu_lo, temp.eu_hi) == 1.0
    assert temp.loc.file.endswith("10-plant.yaml") and temp.loc.line == 15
    mode = site.tag("tower-a/plant/mode")
    assert mode.device is None and mode.writable
    api = site.section("server")["api"]
    assert api["port"] == 9090 and api["address"] == "127.0.0.1"
    assert api["tokens"]["abcdefghijklmnop0123"]["permissions"] == ["tags.read"]


def test_template_expansion_with_count_and_overrides(multi):
    site = load_site(multi)
    ids = [e.id for e in site.equipment]
    assert ids == ["tower-a/elevator-1", "tower-a/elevator-2", "tower-a/elevator-3", "tower-a/service-lift"]
    lift2 = site.equipment[1]
    assert (lift2.name, lift2.equipment_class, lift2.building, lift2.area) == \
        ("Tower A lift 2", "elevator", "tower-a", "lift-room")
    assert dict(lift2.parameters) == {"car": "A2", "floors": 30}
    assert lift2.tags == ("tower-a/elevator-2/current_floor", "tower-a/elevator-2/speed",
                          "tower-a/elevator-2/door_open")
    assert lift2.alarms[0]["type"] == "stale" and lift2.alarms[0]["tag"] == "current_floor"
    floor = site.tag("tower-a/elevator-2/current_floor")
    assert floor.address == "nsu=urn:lifts;s=CarA2.Floor"
    assert floor.description == "Tower A lift 2 floor (of 30)"
    assert (floor.device, floor.equipment) == ("lifts-ua", "tower-a/elevator-2")
    door = site.tag("tower-a/elevator-2/door_open")
    assert door.alarms[0]["type"] == "digital" and door.alarms[0]["on_delay"] == 60.0
    service_floor = site.tag("tower-a/service-lift/current_floor")
    assert (service_floor.eu_lo, service_floor.eu_hi) == (-2, 34)
    assert service_floor.description == "Service lift floor (car S)"
    service_speed = site.tag("tower-a/service-lift/speed")
    assert service_speed.units == "ft/s" and service_speed.deadband.value == 0.0
    assert site.tag("tower-a/elevator-1/speed").deadband.value == 0.05      # the others keep the template's


def test_inline_template_device_per_instance(make_site):
    root = make_site({"x.yaml": """
        templates:
          submeter:
            class: meter
            parameters: {unit: null, port: 5020}
            device:
              protocol: modbus
              endpoint: "tcp://127.0.0.1:{port}"
              unit_id: "{unit}"
              scan_groups: {default: 5s}
            tags:
              - {name: energy, type: uint32, address: "ir:0", units: kWh}
        equipment:
          - {id: "tower-a/meter-{n:02d}", count: 12, template: submeter, building: tower-a, parameters: {unit: "{n}"}}
        """})
    site = load_site(root)
    assert len(site.equipment) == 12
    dev = site.devices["tower-a/meter-07"]
    assert (dev.unit_id, dev.endpoint, dev.building, dict(dev.scan_groups)) == \
        (7, "tcp://127.0.0.1:5020", "tower-a", {"default": 5.0})
    assert site.tag("tower-a/meter-12/energy").device == "tower-a/meter-12"


def test_load_site_raises_all_errors_at_once(make_site):
    root = make_site({"x.yaml": """
        tags:
          - {path: tower-a/a, type: float32, device: nope, address: "hr:1"}
          - {path: tower-a/b, type: float33}
        """})
    with pytest.raises(SiteConfigError) as info:
        load_site(root)
    assert [(e.loc.line, e.field) for e in info.value.errors] == [(2, "tags[0].device"), (3, "tags[1].type")]
    assert "x.yaml:2: tags[0].device: unknown device 'nope'" in str(info.value)


def test_single_file_site(tmp_path):
    f = tmp_path / "one.yaml"
    f.write_text("site: {name: One, timezone: UTC}\ntags:\n  - {path: a/b, type: bool, access: rw}\n")
    site = load_site(f)
    assert site.files == (str(f),) and site.tag("a/b").writable
    assert site.data_dir == str(tmp_path / "var")


def test_missing_path_and_empty_folder(tmp_path):
    assert [str(e) for e in check_site(tmp_path / "nope")[1]] == [f"{tmp_path / 'nope'}: no such file or folder"]
    assert [e.message for e in check_site(tmp_path)[1]] == ["no *.yaml files in this site folder"]


def test_unavailable_section_module_is_a_clear_error(make_site, site_errors, monkeypatch):
    monkeypatch.setitem(sections.SECTIONS, "business", "business.no_such_schema")
    root = make_site({"x.yaml": "business: {}\n"})
    [error] = site_errors(root)
    assert error.startswith("x.yaml:1: business: section 'business' is registered to business.no_such_schema, "
                            "which cannot be imported")


def test_section_validate_site_hook_runs(make_site, site_errors, monkeypatch, tmp_path):
    mod = tmp_path / "mods" / "fake_section_mod.py"
    mod.parent.mkdir()
    mod.write_text(
        "from tagdb.site.schema import Obj, Field, Str\n"
        "from tagdb.site.errors import ConfigError, Loc\n"
        "SECTION = Obj({'tag': Field(Str(), required=True)})\n"
        "def validate_site(site):\n"
        "    tag = site.section('fake')['tag']\n"
        "    return [] if any(t.path == tag for t in site.tags) else "
        "[ConfigError(Loc('fake'), 'fake.tag', f'unknown tag {tag}')]\n")
    monkeypatch.syspath_prepend(str(mod.parent))
    monkeypatch.setitem(sections.SECTIONS, "fake", "fake_section_mod")
    root = make_site({"x.yaml": "fake: {tag: a/b}\n"})
    assert site_errors(root) == ["fake: fake.tag: unknown tag a/b"]
    (root / "y.yaml").write_text("tags: [{path: a/b, type: bool}]\n")
    assert site_errors(root) == []


def test_a_crashing_section_hook_is_reported_not_raised(make_site, site_errors, monkeypatch, tmp_path):
    mod = tmp_path / "mods" / "crashing_section_mod.py"
    mod.parent.mkdir()
    mod.write_text("from tagdb.site.schema import AnyValue\nSECTION = AnyValue()\n"
                   "def validate_site(site):\n    return 1 / 0\n")
    monkeypatch.syspath_prepend(str(mod.parent))
    monkeypatch.setitem(sections.SECTIONS, "crashy", "crashing_section_mod")
    root = make_site({"x.yaml": "tags: [{path: a/b, type: bool, device: nope}]\ncrashy: 1\n"})
    assert site_errors(root) == [
        "x.yaml:1: tags[0].device: unknown device 'nope' (known: plc-1)",
        "x.yaml:2: crashy: crashing_section_mod.validate_site failed: "
        "ZeroDivisionError('division by zero') (a bug)"]


def test_tag_alarms_without_alarm_schema_are_an_error(make_site, site_errors, monkeypatch):
    real = hooks._optional_module
    monkeypatch.setattr(hooks, "_optional_module", lambda name: None if name == "alarms.schema" else real(name))
    root = make_site({"x.yaml": """
        tags:
          - path: a/b
            type: bool
            alarms: [{type: digital}]
        """})
    assert site_errors(root) == ["x.yaml:4: tags[0].alarms: alarm rules cannot be checked: "
                                 "alarms.schema.TAG_RULE is not available yet"]


def test_device_options_without_collectors_schema_are_an_error(make_site, site_errors, monkeypatch):
    monkeypatch.setattr(hooks, "collectors_schema", lambda: None)
    root = make_site({"x.yaml": """
        devices:
          plc-2: {protocol: modbus, endpoint: "tcp://127.0.0.1:1502", options: {max_gap: 2}}
        """})
    assert site_errors(root) == ["x.yaml:2: devices.plc-2.options: device options cannot be checked: "
                                 "collectors.schema.DEVICE_OPTIONS is not available"]


def test_site_model_is_frozen(multi):
    site = load_site(multi)
    with pytest.raises(TypeError):
        site.devices["x"] = None
    with pytest.raises(TypeError):
        site.devices["plant-plc"].options["max_gap"] = 3


def test_demo_site_loads():
    site = load_site(DEMO)
    ids = {b.id for b in site.buildings}
    assert {"tower-a", "tower-b", "mall", "plant", "car-park"} <= ids
    assert {b.use for b in site.buildings if b.id in ("tower-a", "tower-b")} == {"residential"}
    assert next(b for b in site.buildings if b.id == "mall").use == "commercial"
    assert all(b.areas for b in site.buildings)
