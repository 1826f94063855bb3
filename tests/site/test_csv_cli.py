"""CSV tag lists, ``spms tags export/import`` and ``spms check``."""

from __future__ import annotations

import argparse
import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tagdb.cli import site as site_cli
from tagdb.cli import tags as tags_cli
from tagdb.site.csvio import parse_tags_csv
from tagdb.site.loader import load_site

REPO = Path(__file__).resolve().parents[2]

DEVICES = """
site: {name: Estate, timezone: UTC}
buildings:
  - {id: mall, name: Mall, use: commercial, areas: [{id: atrium, name: Atrium}]}
devices:
  plc-1:
    protocol: modbus
    endpoint: tcp://127.0.0.1:5020
    scan_groups: {default: 1s, fast: 250ms}
  ua-1: {protocol: opcua, endpoint: "opc.tcp://127.0.0.1:4840"}
"""

TAGS = """
templates:
  ahu:
    class: ahu
    parameters: {base: null}
    tags:
      - {name: supply_temp, type: int16, address: "hr:{base}", units: degC,
         scaling: {raw: [0, 1000], eng: [0, 100]}, deadband: 0.5%}
      - {name: fan_cmd, type: bool, address: "co:{base}", access: rw, history: false}
      - {name: "state", type: string, address: "hr:2{base}[8]", description: "Mode, as text"}
equipment:
  - {id: mall/ahu-1, template: ahu, device: plc-1, parameters: {base: 10},
     overrides: {state: {scan_group: default}}}
tags:
  - {path: mall/atrium/co2, type: float32, device: plc-1, address: "ir:5", units: ppm, range: [400, 2000],
     deadband: 25, scan_group: fast, word_order: little, description: "CO2, atrium"}
  - {path: mall/setpoint, type: float64, access: rw, range: [16, 28]}
  - {path: mall/label, type: string, device: ua-1, address: "nsu=urn:x;s=Label", access: rw}
"""


def run(register, argv: list[str]) -> int:
    """Run one command through its module's ``register`` with a bare argparse parser."""
    parser = argparse.ArgumentParser(prog="spms")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def _fields(t):
    return (t.path, t.data_type, t.device, t.address, t.units, t.description, t.scaling, t.deadband,
            t.eu_lo, t.eu_hi, t.scan_group, t.access, t.word_order, t.byte_order, t.history)


@pytest.fixture
def source(make_site, tmp_path):
    return make_site({"site.yaml": DEVICES, "tags.yaml": TAGS}, base=False, root=tmp_path / "a")


@pytest.fixture
def target(make_site, tmp_path):
    return make_site({"site.yaml": DEVICES}, base=False, root=tmp_path / "b")


def test_round_trip_export_import_gives_the_same_tags(source, target, tmp_path, capsys):
    out = tmp_path / "export.csv"
    assert run(tags_cli.register, ["tags", "export", str(source), "--csv", str(out)]) == 0
    assert "exported 6 tags" in capsys.readouterr().err
    assert run(tags_cli.register, ["tags", "import", str(out), "--site", str(target)]) == 0
    assert (target / "export.csv").read_bytes() == out.read_bytes()
    assert "tag_files:\n- export.csv" in (target / "tag-files.yaml").read_text()
    before, after = load_site(source), load_site(target)
    assert after.files == (str(target / "site.yaml"), str(target / "tag-files.yaml"), str(target / "export.csv"))
    assert sorted(map(_fields, after.tags)) == sorted(map(_fields, before.tags))
    assert after.tag("mall/ahu-1/supply_temp").scaling.to_eng(250) == 25.0


def test_export_to_stdout_has_header_and_rows(source, capsys):
    assert run(tags_cli.register, ["tags", "export", str(source), "--csv", "-"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    co2 = next(r for r in rows if r["path"] == "mall/atrium/co2")
    assert (co2["deadband"], co2["range_lo"], co2["range_hi"], co2["scan_group"], co2["description"]) == \
        ("25", "400", "2000", "fast", "CO2, atrium")
    temp = next(r for r in rows if r["path"] == "mall/ahu-1/supply_temp")
    assert (temp["raw_hi"], temp["eng_hi"], temp["clamp"], temp["deadband"]) == ("1000", "100", "false", "0.5%")


def test_export_match_selects_tags(source, capsys):
    argv = ["tags", "export", str(source), "--csv", "-", "--match", "mall/ahu-1/", "--match", "mall/label"]
    assert run(tags_cli.register, argv) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert [r["path"] for r in rows] == ["mall/ahu-1/supply_temp", "mall/ahu-1/fan_cmd", "mall/ahu-1/state",
                                         "mall/label"]


def test_import_writes_nothing_when_a_row_is_bad(target, tmp_path, capsys):
    bad = tmp_path / "new.csv"
    bad.write_text("path,type,device,address,scan_group\n"
                   "mall/a,int16,plc-1,hr:1,\n"
                   "mall/b,int16,plc-9,hr:2,\n"
                   "mall/c,int16,plc-1,hr:3,slow\n"
                   "mall/a,int16,plc-1,hr:4,\n")
    before = sorted(p.name for p in target.iterdir())
    assert run(tags_cli.register, ["tags", "import", str(bad), "--site", str(target)]) == 1
    out = capsys.readouterr()
    assert out.out.splitlines() == [
        f"{bad}:3: device: unknown device 'plc-9'; did you mean 'plc-1'?",
        f"{bad}:4: scan_group: device 'plc-1' has no scan group 'slow' (known: default, fast)",
        f"{bad}:5: path: duplicate tag path 'mall/a' (also defined at {bad}:2)",
    ]
    assert "nothing written" in out.err
    assert sorted(p.name for p in target.iterdir()) == before


def test_import_refuses_paths_the_site_already_has(source, tmp_path, capsys):
    dup = tmp_path / "dup.csv"
    dup.write_text("path,type\nmall/setpoint,float64\n")
    assert run(tags_cli.register, ["tags", "import", str(dup), "--site", str(source)]) == 1
    assert "dup.csv:2: path: duplicate tag path 'mall/setpoint'" in capsys.readouterr().out
    assert not (source / "dup.csv").exists() and not (source / "tag-files.yaml").exists()


def test_import_is_idempotent_and_replaces_the_copy(target, tmp_path):
    f = tmp_path / "lights.csv"
    f.write_text("path,type,device,address,access\nmall/lights/l1,bool,plc-1,co:1,rw\n")
    argv = ["tags", "import", str(f), "--site", str(target)]
    assert run(tags_cli.register, argv) == 0
    assert run(tags_cli.register, argv) == 0          # the copy in the site is replaced, not duplicated
    f.write_text("path,type,device,address,access\n"
                 "mall/lights/l1,bool,plc-1,co:1,rw\nmall/lights/l2,bool,plc-1,co:2,rw\n")
    assert run(tags_cli.register, argv) == 0
    assert (target / "tag-files.yaml").read_text().count("lights.csv") == 1
    assert [t.path for t in load_site(target).tags] == ["mall/lights/l1", "mall/lights/l2"]
    # importing the copy already inside the site is a no-op too
    assert run(tags_cli.register, ["tags", "import", str(target / "lights.csv"), "--site", str(target)]) == 0


def test_csv_parsing_details():
    text = ("\ufeffpath,type,description,clamp,raw_lo,raw_hi,eng_lo,eng_hi,history\n"
            ",,,,,,,,\n"
            'tower-a/x,uint16,"Flow, main ""A""",yes,4,20,0,1.5,no\n'
            "tower-a/y,int16,,maybe,,,,,\n"
            "tower-a/z,int16,,,,,,,,extra\n")
    tags, errors = parse_tags_csv(text.lstrip("\ufeff"), "t.csv")
    assert [str(e) for e in errors] == [
        "t.csv:4: clamp: expected true or false, got 'maybe'",
        "t.csv:5: 10 cells but the header has 9 columns",
    ]
    [x] = tags
    assert x.loc.line == 3 and x.tag["description"] == 'Flow, main "A"'
    assert x.tag["scaling"] == {"raw": (4, 20), "eng": (0, 1.5), "clamp": True} and x.tag["history"] is False


def test_gbk_tag_list_from_chinese_excel(make_site, site_errors):
    root = make_site({"x.yaml": "tag_files: [t.csv]\n"})
    (root / "t.csv").write_bytes("path,type,description,units\ntower-a/temp,float32,一号楼室外温度,°C\n"
                                 .encode("gbk"))
    assert site_errors(root) == []
    tag = load_site(root).tag("tower-a/temp")
    assert (tag.description, tag.units) == ("一号楼室外温度", "°C")


def test_export_file_has_a_bom_for_excel_unless_asked(source, tmp_path):
    out = tmp_path / "e.csv"
    assert run(tags_cli.register, ["tags", "export", str(source), "--csv", str(out)]) == 0
    assert out.read_bytes().startswith("\ufeffpath,type".encode())
    assert run(tags_cli.register, ["tags", "export", str(source), "--csv", str(out), "--no-bom"]) == 0
    assert out.read_bytes().startswith(b"path,type")


def test_semicolon_and_tab_separated_lists():
    for sep in ";\t":
        tags, errors = parse_tags_csv(f"path{sep}type{sep}description\na/b{sep}int16{sep}x, y\n", "t.csv")
        assert errors == [] and tags[0].path == "a/b" and tags[0].tag["description"] == "x, y"


def test_check_command_exit_codes(make_site, site_errors, capsys):
    good = make_site({})
    assert run(site_cli.register, ["check", str(good)]) == 0
    assert capsys.readouterr().out == "ok: 1 buildings, 1 devices, 0 equipment, 0 tags, 0 alarm rules\n"
    (good / "x.yaml").write_text("tags:\n  - {path: a/b, type: int16, device: nope, address: 'hr:1'}\n")
    assert run(site_cli.register, ["check", str(good)]) == 1
    assert capsys.readouterr().out == f"{good}/x.yaml:2: tags[0].device: unknown device 'nope' (known: plc-1)\n"


def test_tags_subcommand_hook(monkeypatch, tmp_path, capsys):
    mod = tmp_path / "extra_tags_cmd.py"
    mod.write_text("def register_tags(sub):\n"
                   "    p = sub.add_parser('hello')\n"
                   "    p.set_defaults(func=lambda args: print('hello from a plug-in') or 0)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(tags_cli, "TAGS_SUBCOMMANDS", ["extra_tags_cmd"])
    assert run(tags_cli.register, ["tags", "hello"]) == 0
    assert capsys.readouterr().out == "hello from a plug-in\n"


def _spms(*argv: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "tagdb.cli.main", *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=60)


def test_spms_check_subprocess(source, make_site, tmp_path):
    ok = _spms("check", str(source))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip() == "ok: 1 buildings, 2 devices, 1 equipment, 6 tags, 0 alarm rules"
    (source / "zz.yaml").write_text("devices:\n  plc-1: {protocol: modbus, endpoint: 'tcp://x:1'}\n")
    bad = _spms("check", str(source))
    assert bad.returncode == 1
    assert bad.stdout.splitlines() == [f"{source}/zz.yaml:2: devices.plc-1: is also defined at {source}/site.yaml:5"]
    assert "1 error(s)" in bad.stderr


def _plain(value):
    if hasattr(value, "items"):                 # dict or MappingProxyType
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def test_demo_round_trip_through_csv(tmp_path, capsys):
    """Every tag of the demo (templates expanded) survives export and import into a tag-less copy."""
    import yaml

    demo = load_site(REPO / "examples" / "demo")
    target = tmp_path / "copy"
    target.mkdir()
    (target / "site.yaml").write_text((REPO / "examples" / "demo" / "site.yaml").read_text())
    devices = {name: {"protocol": d.protocol, "endpoint": d.endpoint, "unit_id": d.unit_id, "timeout": d.timeout,
                      "retries": d.retries, "scan_groups": _plain(d.scan_groups), "building": d.building,
                      "enabled": d.enabled, "options": {k: v for k, v in _plain(d.options).items() if v is not None}}
               for name, d in demo.devices.items()}
    (target / "devices.yaml").write_text(yaml.safe_dump({"devices": devices}, allow_unicode=True))
    out = tmp_path / "demo.csv"
    assert run(tags_cli.register, ["tags", "export", str(REPO / "examples" / "demo"), "--csv", str(out)]) == 0
    assert run(tags_cli.register, ["tags", "import", str(out), "--site", str(target)]) == 0, capsys.readouterr()
    copy = load_site(target)
    assert len(copy.tags) == len(demo.tags) > 500
    assert sorted(map(_fields, copy.tags)) == sorted(map(_fields, demo.tags))
