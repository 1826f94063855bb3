"""Rule kinds, delays and deadband: conditions from tag changes with an injected clock."""

from __future__ import annotations

import numpy as np

from .conftest import TEMP

H = f"{TEMP}:H"

EXTRA_TAGS = """
tags:
  - path: plant/ahu-1/supply_air
    device: plc-1
    address: hr:10
    type: float32
    units: degC
    alarms:
      - {type: deviation, setpoint: supply_air_sp, high: 2.0, low: 3.0, deadband: 0.5, name: DEV}
      - {type: rate, rate: 3.0, per: 1m, direction: rise, name: ROC}
  - path: plant/ahu-1/supply_air_sp
    device: plc-1
    address: hr:12
    type: float32
  - path: plant/ahu-1/filter_dp
    device: plc-1
    address: hr:14
    type: float32
    alarms:
      - {type: stale, after: 10m, priority: low}
  - path: plant/ahu-1/mode
    device: plc-1
    address: "hr:16[8]"
    type: string
    alarms:
      - {type: digital, state: FIRE, priority: critical, name: FIRE_MODE}
"""

ALARMS = """
alarms:
  comm_alarms: false
  rules:
    - type: expression
      name: both_pumps_off
      equipment: plant/pumps
      expression: "not p1 and not p2 and demand > 10"
      inputs: {p1: plant/chiller-1/running, p2: plant/ahu-1/filter_dp, demand: plant/ahu-1/supply_air}
      priority: high
      on_delay: 30s
    - {type: limit, tag: "plant/*/*_sp", h: 15, name: SP, on_delay: 5s, off_delay: 20s}
"""


def test_on_delay_needs_the_condition_to_hold(harness):
    h = harness(ALARMS, EXTRA_TAGS)
    sp = "plant/chiller-1/supply_temp_sp:SP_H"
    h.put("plant/chiller-1/supply_temp_sp", 16.0)
    h.advance(4.9)
    assert h.state(sp) == "normal"
    h.put("plant/chiller-1/supply_temp_sp", 14.0)   # back before the on-delay: nothing happens
    h.advance(10)
    assert h.state(sp) == "normal"
    h.put("plant/chiller-1/supply_temp_sp", 16.0)
    h.advance(5)
    assert h.state(sp) == "unack_active"
    h.put("plant/chiller-1/supply_temp_sp", 14.0)
    h.advance(19)
    assert h.state(sp) == "unack_active"             # off-delay 20 s
    h.advance(1)
    assert h.state(sp) == "rtn_unack"


def test_deadband_and_delays_stop_chattering_on_a_noisy_signal(harness):
    """A value hovering around the limit: raw crossings would alarm dozens of times."""
    rng = np.random.default_rng(7)
    # 10 min of 1 s samples around H = 9.0, as the float32 tags store them.
    noisy = (9.0 + rng.normal(0.0, 0.15, 600)).astype(np.float32).astype(float)
    above = noisy > 9.0
    raw_crossings = int(above[0]) + int(np.sum(above[1:] & ~above[:-1]))
    assert raw_crossings > 50

    h = harness()                                       # H: deadband 0.5, no delays
    for v in noisy:
        h.put(TEMP, float(v))
        h.advance(1)
    activations = [k for k, _ in h.kinds(H) if k == "activate"]
    assert len(activations) == 1                       # 0.5 deadband > noise: it latches on once

    h2 = harness("""
tags: []
alarms:
  comm_alarms: false
  rules:
    - {type: limit, tag: plant/chiller-1/supply_temp_sp, h: 9.0, name: NODB}
    - {type: limit, tag: plant/chiller-1/supply_temp_sp, h: 9.0, name: DELAYED, on_delay: 10s, off_delay: 10s}
""")
    for v in noisy:
        h2.put("plant/chiller-1/supply_temp_sp", float(v))
        h2.advance(1)
    no_db = [k for k, _ in h2.kinds("plant/chiller-1/supply_temp_sp:NODB_H") if k == "activate"]
    delayed = [k for k, _ in h2.kinds("plant/chiller-1/supply_temp_sp:DELAYED_H") if k == "activate"]
    assert len(no_db) == raw_crossings
    assert len(delayed) <= 3 < len(no_db) / 10


def test_digital_state_on_a_string_tag(harness):
    h = harness(ALARMS, EXTRA_TAGS)
    aid = "plant/ahu-1/mode:FIRE_MODE"
    h.put("plant/ahu-1/mode", "AUTO")
    assert h.state(aid) == "normal"
    h.put("plant/ahu-1/mode", "FIRE")
    assert h.state(aid) == "unack_active"
    assert h.engine.get(aid).definition.priority == "critical"


def test_deviation_from_a_setpoint_tag_with_deadband(harness):
    h = harness(ALARMS, EXTRA_TAGS)
    aid = "plant/ahu-1/supply_air:DEV"
    h.put_many({"plant/ahu-1/supply_air_sp": 18.0, "plant/ahu-1/supply_air": 19.0})
    assert h.state(aid) == "normal"
    h.put("plant/ahu-1/supply_air", 20.5)
    assert h.state(aid) == "unack_active"
    h.put("plant/ahu-1/supply_air", 19.7)      # 1.7 above: inside the 0.5 deadband, holds
    assert h.state(aid) == "unack_active"
    h.put("plant/ahu-1/supply_air", 19.4)
    assert h.state(aid) == "rtn_unack"
    h.put("plant/ahu-1/supply_air_sp", 23.0)   # the setpoint moves: 19.4 is 3.6 below
    assert h.state(aid) == "unack_active"


def test_rate_of_change(harness):
    h = harness(ALARMS, EXTRA_TAGS)
    aid = "plant/ahu-1/supply_air:ROC"
    h.put("plant/ahu-1/supply_air", 18.0)
    h.advance(10)
    h.put("plant/ahu-1/supply_air", 18.4)      # 2.4 /min
    assert h.state(aid) == "normal"
    h.advance(10)
    h.put("plant/ahu-1/supply_air", 19.0)      # 3.6 /min
    assert h.state(aid) == "unack_active"
    h.advance(10)
    h.put("plant/ahu-1/supply_air", 18.0)      # falling: direction is rise only
    assert h.state(aid) == "rtn_unack"


def test_rate_alarm_clears_when_the_value_stops_moving(harness):
    h = harness(ALARMS, EXTRA_TAGS)
    aid = "plant/ahu-1/supply_air:ROC"
    h.put("plant/ahu-1/supply_air", 18.0)
    h.advance(10)
    h.put("plant/ahu-1/supply_air", 20.0)
    assert h.state(aid) == "unack_active"
    h.advance(60)
    assert h.state(aid) == "rtn_unack"


def test_stale_value(harness):
    h = harness(ALARMS, EXTRA_TAGS)
    aid = "plant/ahu-1/filter_dp:stale"
    h.put("plant/ahu-1/filter_dp", 120.0)
    h.advance(599)
    h.put("plant/ahu-1/filter_dp", 121.0)
    h.advance(599)
    assert h.state(aid) == "normal"
    h.advance(2)
    assert h.state(aid) == "unack_active"
    h.put("plant/ahu-1/filter_dp", 119.0)
    assert h.state(aid) == "rtn_unack"


def test_expression_alarm_over_several_tags(harness):
    h = harness(ALARMS, EXTRA_TAGS)
    aid = "plant/pumps:both_pumps_off"
    h.put_many({"plant/chiller-1/running": False, "plant/ahu-1/filter_dp": 0, "plant/ahu-1/supply_air": 5.0})
    h.advance(60)
    assert h.state(aid) == "normal"            # demand 5 is below 10
    h.put("plant/ahu-1/supply_air", 25.0)
    h.advance(29)
    assert h.state(aid) == "normal"            # on-delay 30 s
    h.advance(1)
    assert h.state(aid) == "unack_active"
    assert h.engine.get(aid).definition.priority == "high"
    h.put("plant/chiller-1/running", True)
    assert h.state(aid) == "rtn_unack"


def test_glob_site_rule_applies_to_every_matching_tag(harness):
    h = harness(ALARMS, EXTRA_TAGS)
    assert "plant/chiller-1/supply_temp_sp:SP_H" in h.engine.records
    assert "plant/ahu-1/supply_air_sp:SP_H" in h.engine.records


TEMPLATE = """
templates:
  ahu:
    class: ahu
    tags:
      - {name: filter_dp, type: uint16, address: "ir:3", units: Pa}
      - {name: fan_status, type: bool, address: "di:0"}
    alarms:
      - {tag: filter_dp, type: limit, h: 250, priority: low}
      - {type: expression, name: FAN_FAIL, expression: "not fan and dp > 50", inputs: {fan: fan_status, dp: filter_dp}}
equipment:
  - {id: plant/ahu-9, template: ahu, name: AHU 9, building: plant, area: chiller-hall, device: plc-1}
"""


def test_equipment_template_rules_with_relative_tags(harness):
    h = harness("alarms: {comm_alarms: false}\n", TEMPLATE)
    fail = h.engine.get("plant/ahu-9:FAN_FAIL").definition
    assert fail.equipment == "plant/ahu-9" and fail.area == "chiller-hall" and fail.building == "plant"
    h.put_many({"plant/ahu-9/fan_status": True, "plant/ahu-9/filter_dp": 120})
    assert h.state("plant/ahu-9:FAN_FAIL") == "normal"
    h.put("plant/ahu-9/fan_status", False)
    assert h.state("plant/ahu-9:FAN_FAIL") == "unack_active"
    h.put("plant/ahu-9/filter_dp", 260)
    assert h.state("plant/ahu-9/filter_dp:H") == "unack_active"
