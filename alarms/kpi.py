"""Alarm-system performance KPIs (EEMUA 191 / ISA-18.2), computed continuously.

The tracker listens to transitions and keeps the annunciated activations of
the last ``horizon`` (24 h) in memory (reloaded from the journal at start-up).
:meth:`KpiTracker.snapshot` computes, per operator position and overall:
alarms per 10 minutes and per hour, the share of 10-minute periods in flood,
chattering alarms, stale alarms, the top 10 contributors and their share, the
priority distribution and the shelved/suppressed/out-of-service counts.
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .events import AlarmState, AlarmTransition, TransitionKind

PERIOD = 600.0


@dataclass(frozen=True, slots=True)
class Activation:
    """One annunciated activation."""

    ts: float
    alarm_id: str
    priority: str
    area: str | None
    building: str | None


class KpiTracker:
    """Rolling alarm statistics; an engine listener."""

    def __init__(self, clock, engine, positions: Mapping[str, Mapping[str, Any]] | None = None,
                 flood_threshold: int = 10, chatter_count: int = 3, chatter_window: float = 60.0,
                 stale_after: float = 86400.0, horizon: float = 86400.0) -> None:
        self.clock = clock
        self.engine = engine
        self.positions = dict(positions or {}) or {"all": {"areas": [], "buildings": []}}
        self.flood_threshold = flood_threshold
        self.chatter_count = chatter_count
        self.chatter_window = chatter_window
        self.stale_after = stale_after
        self.horizon = horizon
        self.started = clock.seconds()
        self._acts: deque[Activation] = deque()

    def __call__(self, tr: AlarmTransition) -> None:
        """Count annunciated activations (engine listener)."""
        if tr.kind is TransitionKind.ACTIVATE and tr.state_after is AlarmState.UNACK_ACTIVE:
            self._acts.append(Activation(tr.ts.timestamp(), tr.alarm_id, tr.priority, tr.area, tr.building))

    def load(self, rows: Iterable[tuple[int, str, str, str | None]]) -> None:
        """Seed from journal rows (ts_ns, alarm_id, priority, area), oldest first."""
        defs = self.engine.rules.defs
        for ts_ns, aid, pri, area in rows:
            d = defs.get(aid)
            self._acts.append(Activation(ts_ns / 1e9, aid, pri, area, d.building if d else None))
        if self._acts:
            self.started = min(self.started, self._acts[0].ts)

    def _trim(self, now: float) -> None:
        while self._acts and now - self._acts[0].ts > self.horizon:
            self._acts.popleft()

    def _in_position(self, a: Activation, pos: Mapping[str, Any]) -> bool:
        areas, buildings = pos.get("areas") or [], pos.get("buildings") or []
        return (not areas or a.area in areas) and (not buildings or a.building in buildings)

    def snapshot(self) -> dict[str, Any]:
        """Every KPI as a JSON-ready dict."""
        now = self.clock.seconds()
        self._trim(now)
        acts = list(self._acts)
        ts = [a.ts for a in acts]
        positions = {}
        for name, pos in self.positions.items():
            mine = [a for a in acts if self._in_position(a, pos)]
            positions[name] = self._rates(mine, now)
        overall = self._rates(acts, now)
        counts = Counter(a.alarm_id for a in acts)
        total = len(acts)
        top = counts.most_common(10)
        top_n = sum(n for _, n in top)
        by_priority = Counter(a.priority for a in acts)
        records = list(self.engine.records.values())
        states = Counter(r.state for r in records)
        stale = sorted(r.id for r in records if r.active and r.activated_at is not None
                       and not r.hidden and now - r.activated_at > self.stale_after)
        chattering = self._chattering(acts, now)
        return {
            "window_s": self.horizon,
            "alarms_10min": overall["alarms_10min"],
            "alarms_hour": overall["alarms_hour"],
            "avg_per_10min": overall["avg_per_10min"],
            "flood_periods_pct": overall["flood_periods_pct"],
            "positions": positions,
            "chattering": chattering,
            "chattering_count": len(chattering),
            "stale": stale,
            "stale_count": len(stale),
            "top10": [{"alarm_id": a, "count": n, "share_pct": round(100.0 * n / total, 2)} for a, n in top],
            "top10_share_pct": round(100.0 * top_n / total, 2) if total else 0.0,
            "priority_distribution": {p: {"count": n, "pct": round(100.0 * n / total, 2)}
                                      for p, n in sorted(by_priority.items())},
            "activations": total,
            "active": sum(1 for r in records if r.state in (AlarmState.UNACK_ACTIVE, AlarmState.ACK_ACTIVE)),
            "unacknowledged": states[AlarmState.UNACK_ACTIVE] + states[AlarmState.RTN_UNACK],
            "latched": states[AlarmState.LATCHED],
            "shelved": states[AlarmState.SHELVED],
            "suppressed": states[AlarmState.SUPPRESSED],
            "out_of_service": states[AlarmState.OUT_OF_SERVICE],
        }

    def _rates(self, acts: list[Activation], now: float) -> dict[str, Any]:
        ts = [a.ts for a in acts]
        n10 = len(ts) - bisect.bisect_right(ts, now - PERIOD)
        nh = len(ts) - bisect.bisect_right(ts, now - 3600.0)
        span = max(PERIOD, min(self.horizon, now - self.started))
        # Periods are aligned to the clock; count only those the system has seen.
        first_period = int(max(now - self.horizon, self.started) // PERIOD)
        last_period = int(now // PERIOD)
        periods = max(1, last_period - first_period + 1)
        buckets = Counter(int(t // PERIOD) for t in ts if t >= now - span)
        flooded = sum(1 for n in buckets.values() if n > self.flood_threshold)
        return {"alarms_10min": n10, "alarms_hour": nh,
                "avg_per_10min": round(len([t for t in ts if t >= now - span]) / periods, 3),
                "flood_periods_pct": round(100.0 * flooded / periods, 2)}

    def _chattering(self, acts: list[Activation], now: float) -> list[str]:
        by_alarm: dict[str, list[float]] = {}
        for a in acts:
            if now - a.ts <= 3600.0:
                by_alarm.setdefault(a.alarm_id, []).append(a.ts)
        out = []
        k = self.chatter_count
        for aid, ts in by_alarm.items():
            if any(ts[i + k - 1] - ts[i] <= self.chatter_window for i in range(len(ts) - k + 1)):
                out.append(aid)
        return sorted(out)

    def system_values(self) -> dict[str, Any]:
        """The flat values published as ``_system/alarms/...`` tags."""
        s = self.snapshot()
        values: dict[str, Any] = {k: float(s[k]) if isinstance(s[k], float) else int(s[k]) for k in (
            "alarms_10min", "alarms_hour", "avg_per_10min", "flood_periods_pct", "chattering_count",
            "stale_count", "top10_share_pct", "activations", "active", "unacknowledged", "latched",
            "shelved", "suppressed", "out_of_service")}
        for p, v in s["priority_distribution"].items():
            values[f"priority_{p}"] = v["count"]
        for name, r in s["positions"].items():
            values[f"position_{name}_10min"] = r["alarms_10min"]
            values[f"position_{name}_hour"] = r["alarms_hour"]
        return values
