"""Whatever a site file holds, the loader reports errors and never crashes."""

from __future__ import annotations

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagdb.site.loader import check_site

KEYS = ["site", "name", "timezone", "buildings", "id", "areas", "devices", "protocol", "endpoint", "unit_id",
        "scan_groups", "default", "options", "templates", "class", "parameters", "device", "tags", "path",
        "type", "address", "scaling", "raw", "eng", "deadband", "range", "access", "alarms", "equipment",
        "template", "overrides", "count", "building", "area", "tag_files", "server", "api", "port", "plc-1",
        "meter", "energy", "n", "base"]
TEXTS = st.sampled_from(["modbus", "opcua", "tcp://127.0.0.1:1", "opc.tcp://h:1", "hr:1", "hr:{base}", "{n}",
                         "{base}", "a/b", "tower-a", "float32", "string", "bool", "rw", "2%", "1s", "UTC",
                         "meter", "plc-1", "_system/x", "{", "}", "x.csv", ""])
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-3, 300), st.floats(allow_nan=False, width=32), TEXTS)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)), max_leaves=25)
SITES = st.dictionaries(st.sampled_from(["site", "buildings", "devices", "templates", "equipment", "tags",
                                         "tag_files", "server"]), VALUES, max_size=6)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(SITES)
def test_random_sites_give_errors_not_exceptions(tmp_path, data):
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(data))
    site, errors = check_site(tmp_path)
    assert (site is None) == bool(errors)
    for e in errors:
        assert e.loc.file.endswith("site.yaml") or e.loc.file.endswith(".csv") or "/" not in e.loc.file


VALID = yaml.safe_load("""
site: {name: F, timezone: UTC}
buildings:
  - {id: tower-a, name: A, areas: [{id: roof, name: Roof}]}
devices:
  plc-1: {protocol: modbus, endpoint: "tcp://127.0.0.1:5020", scan_groups: {default: 1s, fast: 1s}}
templates:
  meter:
    class: meter
    parameters: {base: 0, unit: 1}
    device: {protocol: modbus, endpoint: "tcp://127.0.0.1:5021", unit_id: "{unit}"}
    tags:
      - {name: energy, type: float32, address: "hr:{base}", scaling: {raw: [0, 10], eng: [0, 1]}, deadband: 1%}
      - {name: alarm, type: bool, address: "co:{base}", alarms: [{type: digital}]}
    alarms: [{type: stale, tag: energy, after: 1m}]
equipment:
  - {id: "tower-a/m-{n}", count: 2, template: meter, building: tower-a, area: roof,
     parameters: {base: "{n}", unit: "{n}"}, overrides: {energy: {units: kWh, range: [0, 5]}}}
  - {id: tower-a/m-x, template: meter, device: plc-1}
  - {id: tower-a/m-y, template: meter, device: {protocol: modbus, endpoint: "tcp://127.0.0.1:5022", unit_id: 4},
     overrides: {alarm: {alarms: [{type: digital, state: false}]}}}
tags:
  - {path: tower-a/t, type: int16, device: plc-1, address: "hr:9", range: [0, 5], deadband: 5%, scan_group: fast}
""")


def _mutate(data, draw):
    """Replace, or delete, one randomly chosen node of a copy of ``data``."""
    import copy
    root = copy.deepcopy(data)
    node = root
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            return root
        key = draw(st.sampled_from(keys))
        child = node[key]
        if isinstance(child, (dict, list)) and child and draw(st.booleans()):
            node = child
            continue
        if isinstance(node, dict) and draw(st.integers(0, 4)) == 0:
            del node[key]
        else:
            node[key] = draw(VALUES)
        return root


def test_valid_fuzz_base_is_valid(tmp_path):
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(VALID))
    site, errors = check_site(tmp_path)
    assert errors == [] and len(site.tags) == 9


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_mutated_valid_site_gives_errors_not_exceptions(tmp_path, data):
    mutated = _mutate(VALID, data.draw)
    (tmp_path / "site.yaml").write_text(yaml.safe_dump(mutated))
    site, errors = check_site(tmp_path)
    assert (site is None) == bool(errors)
    assert all(e.loc.line > 0 or e.field in ("site", "") or e.loc.file.endswith("site.yaml") for e in errors)


# ---- CSV round trip of arbitrary tags ----------------------------------------------------------

from tagdb.site.build import make_tag  # noqa: E402
from tagdb.site.csvio import parse_tags_csv, write_tags_csv  # noqa: E402
from tagdb.site.model import NUMERIC_TYPES, Deadband  # noqa: E402

FINITE = st.one_of(st.integers(-10**9, 10**9), st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False))
CELL_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20) \
    .map(str.strip)


@st.composite
def csv_tags(draw):
    """A validated tag dict of a numeric memory tag, as the loader would build it."""
    lo, hi = sorted(draw(st.lists(FINITE, min_size=2, max_size=2, unique=True)))
    scaled = draw(st.booleans())
    raw = tuple(draw(st.lists(FINITE, min_size=2, max_size=2, unique=True)))
    eng = (lo, hi)
    deadband = float(draw(st.integers(0, 50))) / 4
    percent = draw(st.booleans()) and deadband > 0          # "0%" loads as no deadband
    return {
        "type": draw(st.sampled_from([t for t in NUMERIC_TYPES if t != "bool"])), "address": None,
        "units": draw(CELL_TEXT), "description": draw(CELL_TEXT),
        "scaling": {"raw": raw, "eng": eng, "clamp": draw(st.booleans())} if scaled else None,
        "deadband": Deadband(deadband, percent=percent),
        "range": None if scaled and draw(st.booleans()) else (lo, hi),
        "scan_group": draw(st.sampled_from(["default", "fast", "slow_1"])),
        "access": draw(st.sampled_from(["r", "rw"])),
        "word_order": draw(st.sampled_from([None, "big", "little"])), "byte_order": None,
        "history": draw(st.booleans()),
    }


@settings(max_examples=200, deadline=None)
@given(st.lists(csv_tags(), min_size=1, max_size=5))
def test_csv_write_then_parse_gives_the_same_tags(tags):
    import io

    specs = [make_tag(t, f"a/t{i}", None, None, None) for i, t in enumerate(tags)]
    out = io.StringIO()
    write_tags_csv(specs, out)
    rows, errors = parse_tags_csv(out.getvalue(), "t.csv")
    assert errors == []
    back = [make_tag(r.tag, r.path, r.device, None, None) for r in rows]
    key = lambda t: (t.path, t.data_type, t.units, t.description, t.scaling, t.deadband, t.eu_lo, t.eu_hi,  # noqa: E731
                     t.scan_group, t.access, t.word_order, t.history)
    assert list(map(key, back)) == list(map(key, specs))
