"""Alarm-system KPIs (EEMUA 191 / ISA-18.2) from real transitions, and their system tags."""

from __future__ import annotations

from tagdb.system_tags import SystemTags


ZONES = "tags:\n" + "".join(
    f"  - {{path: plant/zone-{i:02d}/temp, device: plc-1, address: 'hr:{100 + 2 * i}', type: float32,"
    f" alarms: [{{type: limit, h: 30, priority: {'low' if i % 4 else 'critical'}, area: zone-{i % 2}}}]}}\n"
    for i in range(20))

POSITIONS = """
alarms:
  comm_alarms: false
  positions:
    east: {areas: [zone-0]}
    west: {areas: [zone-1]}
"""


def _flap(h, path, times, gap=1.0):
    for _ in range(times):
        h.put(path, 35.0)
        h.advance(gap)
        h.put(path, 20.0)
        h.advance(gap)


def test_rates_flood_periods_and_positions(harness):
    h = harness(POSITIONS, ZONES)
    h.put_many({f"plant/zone-{i:02d}/temp": 35.0 for i in range(15)})     # 15 alarms in one 10-min period
    k = h.system.kpi.snapshot()
    assert k["alarms_10min"] == 15 and k["alarms_hour"] == 15
    assert k["positions"]["east"]["alarms_10min"] == 8 and k["positions"]["west"]["alarms_10min"] == 7
    assert k["flood_periods_pct"] == 100.0                 # the only period so far is flooded (> 10)
    h.advance(3 * 600)
    k = h.system.kpi.snapshot()
    assert k["alarms_10min"] == 0 and k["alarms_hour"] == 15
    assert 0 < k["flood_periods_pct"] < 100.0
    assert k["active"] == 15 and k["unacknowledged"] == 15


def test_chattering_top10_priorities_stale_and_shelved(harness):
    h = harness(POSITIONS, ZONES)
    _flap(h, "plant/zone-03/temp", 3)                     # 3 activations within a minute
    _flap(h, "plant/zone-05/temp", 2, gap=40.0)           # 2 activations: not chattering
    h.put("plant/zone-00/temp", 35.0)                     # stays active
    h.engine.shelve("plant/zone-05/temp:H", "op", "nuisance", 3600)
    k = h.system.kpi.snapshot()
    assert k["chattering"] == ["plant/zone-03/temp:H"]
    assert k["top10"][0] == {"alarm_id": "plant/zone-03/temp:H", "count": 3, "share_pct": 50.0}
    assert k["top10_share_pct"] == 100.0
    assert k["priority_distribution"] == {"critical": {"count": 1, "pct": 16.67}, "low": {"count": 5, "pct": 83.33}}
    assert k["shelved"] == 1 and k["stale_count"] == 0
    h.advance(86400 + 1)
    k = h.system.kpi.snapshot()
    assert k["stale"] == ["plant/zone-00/temp:H"]          # active for more than 24 h
    assert k["activations"] == 0                           # older than the 24 h window


def test_kpis_reload_from_the_journal_after_a_restart(harness, clock, tmp_path):
    from sqlalchemy import create_engine

    from alarms.tables import create_tables

    url = f"sqlite:///{tmp_path / 'j.db'}"
    engine = create_engine(url)
    create_tables(engine)
    h = harness(POSITIONS, ZONES, db_engine=engine, folder=tmp_path / "a")
    _flap(h, "plant/zone-03/temp", 4)
    h.system.stop()
    h2 = harness(POSITIONS, ZONES, db_engine=create_engine(url), folder=tmp_path / "b")
    k = h2.system.kpi.snapshot()
    assert k["activations"] == 4 and k["chattering"] == ["plant/zone-03/temp:H"]


def test_kpis_become_system_tags(harness, clock):
    h = harness(POSITIONS, ZONES)
    h.system.system_tags = SystemTags(h.tags, clock)
    h.put_many({f"plant/zone-{i:02d}/temp": 35.0 for i in range(3)})
    h.system.publish_kpis()
    clock.advance(0)
    assert h.tags.get("_system/alarms/alarms_10min").value == 3
    assert h.tags.get("_system/alarms/unacknowledged").value == 3
    assert h.tags.get("_system/alarms/position_east_10min").value == 2
    assert h.tags.get("_system/alarms/priority_critical").value == 1
    assert h.tags.get("_system/alarms/flood_periods_pct").value == 0.0


