"""The ``service:`` section: defaults, every error named, the demo's file valid; notice routing."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

from business.service_mgmt.notices import _target
from business.service_mgmt.schema import SECTION, defaults, kind_defaults, validate_site
from collectors.sim.demo import load_demo
from tagdb.site.errors import Loc


def test_defaults_and_kind_overrides():
    section = defaults({"kinds": {"repair": {"response": "30m"}}})
    kinds = kind_defaults(section)
    assert kinds["repair"]["response"] == 1800.0 and kinds["repair"]["completion"] == 86400.0
    assert kinds["emergency"]["priority"] == "critical" and kinds["cleaning"]["skills"] == ["cleaning"]


def test_bad_section_names_every_field():
    _, errors = SECTION.check({"tick": "soon", "kinds": {"repair": {"priority": "urgent"}},
                               "alarm_rules": [{"kind": "repair"}],
                               "plans": [{"code": "p", "name": "P", "trigger": "usage", "category": "lift"}]},
                              "service", Loc("service.yaml", 3))
    fields = {e.field for e in errors}
    assert {"service.tick", "service.kinds.repair.priority", "service.alarm_rules[0].alarms",
            "service.plans[0]"} <= fields
    assert any("needs 'tag' and 'threshold'" in e.message for e in errors)


def test_demo_section_is_valid_and_cross_checked():
    site = load_demo(0)
    assert validate_site(site) == []
    service = dict(site.section("service"))
    service["plans"] = [dict(service["plans"][0], asset="tower-a/elevator-9"),
                        dict(service["plans"][1], asset="tower-a/elevator-1", tag="odometer")]
    service["alarm_rules"] = [dict(service["alarm_rules"][0], alarms=["*/elevator-*/fault_code"])]
    bad = dataclasses.replace(site, sections={**site.sections, "service": service})
    messages = {e.field: e.message for e in validate_site(bad)}
    assert "unknown equipment" in messages["service.plans[0].asset"]
    assert "has no tag 'odometer'" in messages["service.plans[1].tag"]
    assert "matches no alarm" in messages["service.alarm_rules[0].alarms[0]"]


def test_preferred_channel_then_any_channel_with_an_address():
    channels = {"sms": "sms", "email": "email"}
    both = SimpleNamespace(phone="138", email="a@b.cn")
    assert _target(both, "email", channels) == ("email", "a@b.cn")
    assert _target(both, "sms", channels) == ("sms", "138")
    assert _target(SimpleNamespace(phone="", email="a@b.cn"), "sms", channels) == ("email", "a@b.cn")
    assert _target(SimpleNamespace(phone="", email=""), "sms", channels) is None
    assert _target(both, "wechat", {"email": "email"}) == ("email", "a@b.cn")
