"""``${NAME}`` environment references in site YAML: substitution, types, errors, no echo of secrets."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tagdb.site.envsubst import EnvStr, substitute
from tagdb.site.loader import check_site, load_site
from tagdb.site.located import load_yaml

REPO = Path(__file__).resolve().parents[2]
TOKEN = "tok-5f0c1e2d9a8b7c6d-SECRET"

SITE = """\
site: {name: "${SITE_NAME:-Harbour View}", timezone: UTC}
buildings:
  - id: tower-a
    name: Tower $${literal}
    areas: [{id: roof, name: Roof}]
devices:
  plc-1:
    protocol: modbus
    endpoint: tcp://${PLC_HOST:-127.0.0.1}:${PLC_PORT:-502}
"""

SERVER = """\
server:
  api:
    port: ${API_PORT}
    anonymous_read: ${ANON_READ:-false}
    tokens:
      ${API_TOKEN}: {user: scada-gateway, permissions: [tags.read]}
"""


def write(root: Path, files: dict[str, str]) -> Path:
    """A site folder holding ``files`` (name -> text)."""
    root.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def errors(root: Path, env: dict) -> list[str]:
    """Every error of the site, file names relative to ``root``."""
    site, errs = check_site(root, env=env)
    assert (site is None) == bool(errs)
    return [str(e).replace(f"{root}/", "") for e in errs]


@pytest.fixture
def site_dir(tmp_path):
    return write(tmp_path / "site", {"site.yaml": SITE, "server.yaml": SERVER})


def test_values_and_keys_come_from_the_injected_environment(site_dir):
    env = {"API_PORT": "8181", "API_TOKEN": TOKEN, "PLC_HOST": "10.0.0.7", "ANON_READ": "true"}
    site = load_site(site_dir, env=env)
    api = site.section("server")["api"]
    assert api["port"] == 8181 and type(api["port"]) is int        # unquoted: typed as if written there
    assert api["anonymous_read"] is True
    assert list(api["tokens"]) == [TOKEN]
    assert api["tokens"][TOKEN]["user"] == "scada-gateway"
    assert site.devices["plc-1"].endpoint == "tcp://10.0.0.7:502"   # PLC_PORT unset: its default
    assert site.name == "Harbour View"
    assert site.buildings[0].name == "Tower ${literal}"               # $${ escapes a reference


def test_an_unset_variable_takes_its_default_and_so_does_an_empty_one(site_dir):
    site = load_site(site_dir, env={"API_PORT": "8080", "API_TOKEN": TOKEN, "SITE_NAME": "", "PLC_PORT": ""})
    assert site.name == "Harbour View"
    assert site.devices["plc-1"].endpoint == "tcp://127.0.0.1:502"
    assert site.section("server")["api"]["anonymous_read"] is False


def test_a_quoted_reference_is_converted_by_numeric_and_boolean_fields(tmp_path):
    # Inside {...} a reference must be quoted (YAML flow syntax): the field still gets its type.
    root = write(tmp_path / "s", {"site.yaml": "site: {name: S, timezone: UTC}\n",
                                  "server.yaml": 'server: {api: {port: "${P}", anonymous_read: "${A}"}}\n'})
    api = load_site(root, env={"P": "9090", "A": "false"}).section("server")["api"]
    assert api["port"] == 9090 and api["anonymous_read"] is False


def test_every_unset_variable_is_an_error_with_file_line_and_field(site_dir):
    assert errors(site_dir, env={}) == [
        "server.yaml:3: server.api.port: environment variable API_PORT is not set "
        "(set it, or give a default: ${API_PORT:-default})",
        "server.yaml:6: server.api.tokens.${API_TOKEN}: key: environment variable API_TOKEN is not set "
        "(set it, or give a default: ${API_TOKEN:-default})",
    ]


def test_unset_variables_in_several_files_are_all_reported_in_file_order(tmp_path):
    root = write(tmp_path / "s", {
        "a.yaml": "site: {name: S, timezone: UTC}\nbuildings:\n  - {id: b, name: \"${B_NAME}\"}\n",
        "b.yaml": "devices:\n  plc:\n    protocol: modbus\n    endpoint: tcp://${HOST}:${PORT}\n"})
    assert errors(root, env={}) == [
        "a.yaml:3: buildings[0].name: environment variable B_NAME is not set (set it, or give a default: "
        "${B_NAME:-default})",
        "b.yaml:4: devices.plc.endpoint: environment variable HOST is not set (set it, or give a default: "
        "${HOST:-default})",
        "b.yaml:4: devices.plc.endpoint: environment variable PORT is not set (set it, or give a default: "
        "${PORT:-default})",
    ]


def test_a_malformed_reference_is_an_error(tmp_path):
    root = write(tmp_path / "s", {"site.yaml": 'site:\n  name: "${UNCLOSED"\n  timezone: UTC\n'})
    (err,) = errors(root, env={})
    assert err.startswith("site.yaml:2: site.name: invalid environment reference '${UNCLOSED'")


def test_a_wrongly_typed_value_is_reported_without_the_value(site_dir):
    out = errors(site_dir, env={"API_PORT": "eighty-80", "API_TOKEN": TOKEN})
    assert out == ["server.yaml:3: server.api.port: expected an integer, got str '${API_PORT}'"]


def test_secrets_are_not_echoed_in_error_messages(tmp_path):
    secret_url = "ftp://gw:hunter2-pass@influx.example"
    short_token = "s3cr3t-short"
    root = write(tmp_path / "s", {
        "site.yaml": "site: {name: S, timezone: UTC}\ntag_files: [\"${LIST}.csv\"]\n",
        "server.yaml": "server:\n  api:\n    tokens:\n      ${SHORT}: {user: gw}\n",
        "historian.yaml": "historian:\n  sinks:\n    influx: {type: influxdb, url: \"${INFLUX_URL}\", "
                          "database: spms}\n"})
    env = {"LIST": "private-list-name", "SHORT": short_token, "INFLUX_URL": secret_url}
    out = errors(root, env)
    text = "\n".join(out)
    for value in env.values():
        assert value not in text, text
    assert out == [                         # files in name order
        "historian.yaml:3: historian.sinks.influx.url: '${INFLUX_URL}' is not valid: an http:// or https:// URL",
        "server.yaml:4: server.api.tokens.${SHORT}: invalid name '${SHORT}' (at least 16 characters of "
        "letters, digits and -._~+/=)",
        "site.yaml:2: tag_files[0]: no such file: ${LIST}.csv",      # a message without repr(): hidden too
    ]


def test_keys_equal_after_substitution_are_duplicates_named_as_written(tmp_path):
    root = write(tmp_path / "s", {"site.yaml": "site: {name: S, timezone: UTC}\n",
                                  "server.yaml": "server:\n  api:\n    tokens:\n      ${A}: {user: one}\n"
                                                 "      ${B}: {user: two}\n"})
    out = errors(root, env={"A": TOKEN, "B": TOKEN})
    assert out == ["server.yaml:5: server.api.tokens.${B}: duplicate key (first at line 4)"]


def test_yaml_written_by_spms_carries_the_reference_not_the_secret():
    data, errs = load_yaml('url: "postgresql://spms:${PG_PW}@db/$${x}"\nname: ${N:-a$b}\n', "f.yaml",
                           env={"PG_PW": "pw-very-secret"})
    assert errs == []
    assert data["url"] == "postgresql://spms:pw-very-secret@db/${x}"
    assert repr(data["url"]) == repr("postgresql://spms:${PG_PW}@db/$${x}")
    dumped = yaml.safe_load(yaml.safe_dump(dict(data)))
    # Grafana's (and compose's) syntax: ${NAME} from its environment, $$ for a literal $.
    assert dumped == {"url": "postgresql://spms:${PG_PW}@db/$${x}", "name": "a$$b"}
    prefixed = "Token " + data["url"]
    assert isinstance(prefixed, EnvStr) and "pw-very-secret" not in yaml.safe_dump(prefixed)
    assert pickle.loads(pickle.dumps(data["url"])).exported == data["url"].exported


def test_grafana_export_writes_references_for_secrets_from_the_environment(tmp_path):
    from tagdb.historian.grafana.provisioning import export

    root = write(tmp_path / "s", {
        "site.yaml": "site: {name: S, timezone: UTC}\n",
        "historian.yaml": "historian:\n  sinks:\n    influx:\n      type: influxdb\n      url: http://influxdb:8086\n"
                          "      database: spms\n      username: grafana\n      password: ${INFLUX_PASSWORD}\n"
                          "      token: ${INFLUX_TOKEN}\n"})
    site = load_site(root, env={"INFLUX_PASSWORD": "pw-hunter2", "INFLUX_TOKEN": TOKEN})
    assert site.section("historian")["sinks"]["influx"]["token"] == TOKEN      # the service uses the value
    export(site, tmp_path / "out")
    written = (tmp_path / "out" / "datasources" / "spms.yaml").read_text()
    assert "pw-hunter2" not in written and TOKEN not in written
    secure = yaml.safe_load(written)["datasources"][0]["secureJsonData"]
    assert secure == {"password": "${INFLUX_PASSWORD}", "httpHeaderValue1": "Token ${INFLUX_TOKEN}"}


def test_csv_tag_lists_are_not_substituted(tmp_path):
    root = write(tmp_path / "s", {
        "site.yaml": "site: {name: S, timezone: UTC}\ndevices:\n  plc-1: {protocol: modbus, "
                     "endpoint: \"tcp://127.0.0.1:5020\"}\ntag_files: [t.csv]\n",
        "t.csv": "path,type,device,address,description\nplant/t1,int16,plc-1,hr:0,cost ${CENTRE}\n"})
    site = load_site(root, env={"CENTRE": "replaced"})
    assert site.tag("plant/t1").description == "cost ${CENTRE}"


def test_substitute_leaves_dollar_signs_that_are_no_reference():
    sub = substitute("a$b $$c $ {x} ${X}$${Y}", {"X": "1"})
    assert (sub.value, sub.problems, sub.from_env) == ("a$b $$c $ {x} 1${Y}", (), (("X", "1"),))


def test_the_demo_needs_no_environment():
    site, errs = check_site(REPO / "examples" / "demo", env={})
    assert errs == [] and site is not None


def _spms(*argv: str, **env: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("API_PORT", "API_TOKEN")}
    full.update(env, PYTHONPATH=str(REPO))
    return subprocess.run([sys.executable, "-m", "tagdb.cli.main", *argv], cwd=REPO, env=full,
                          capture_output=True, text=True, timeout=60)


def test_spms_check_reads_the_process_environment_and_never_prints_a_secret(site_dir):
    ok = _spms("check", str(site_dir), API_PORT="8181", API_TOKEN=TOKEN)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.strip() == "ok: 1 buildings, 1 devices, 0 equipment, 0 tags, 0 alarm rules"
    assert TOKEN not in ok.stdout + ok.stderr
    bad = _spms("check", str(site_dir), API_PORT="not-a-port", API_TOKEN=TOKEN)
    assert bad.returncode == 1
    assert bad.stdout.splitlines() == [f"{site_dir}/server.yaml:3: server.api.port: expected an integer, "
                                       "got str '${API_PORT}'"]
    assert "not-a-port" not in bad.stdout + bad.stderr and TOKEN not in bad.stdout + bad.stderr
    unset = _spms("check", str(site_dir))
    assert unset.returncode == 1
    assert [line.split(": ", 2)[1] for line in unset.stdout.splitlines()] == [
        "server.api.port", "server.api.tokens.${API_TOKEN}"]
    assert "2 error(s)" in unset.stderr
