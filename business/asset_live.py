"""The live side of an asset: SCADA values, active alarms and run hours of its linked equipment.

Read on the reactor thread from the tag database (``ctx.tags``) and the alarm
engine (``ctx.provides["alarms"]``, when present): both are in-memory, so this
never blocks. Run hours come from the equipment's first tag whose name ends in
``_hours`` (``run_hours``, ``fan_hours``: counters kept by the equipment).
"""

from __future__ import annotations

from typing import Any

from .audit import jsonable


def _equipment(site, equipment_id: str):
    for eq in getattr(site, "equipment", ()) or ():
        if eq.id == equipment_id:
            return eq
    return None


def _alarm_json(rec: Any) -> dict:
    d = getattr(rec, "definition", None)
    state = getattr(rec, "state", None)
    return {"id": getattr(rec, "id", str(rec)), "state": getattr(state, "value", str(state)),
            "priority": getattr(d, "priority", None), "message": getattr(d, "message", None),
            "tag": getattr(d, "tag", None), "acked": getattr(rec, "acked", None), "since": getattr(rec, "since", None)}


def live_view(ctx: Any, asset: dict) -> dict:
    """Live values, active alarms and run hours for an asset (JSON-ready)."""
    eq_id = asset.get("equipment_id")
    out: dict[str, Any] = {"asset_id": asset["id"], "equipment_id": eq_id, "linked": False, "values": [],
                           "alarms": [], "alarms_available": False, "run_hours": None}
    if not eq_id or ctx is None:
        return out
    eq = _equipment(ctx.site, eq_id)
    if eq is None:
        out["error"] = f"equipment {eq_id!r} is not in the site configuration"
        return out
    out.update(linked=True, name=eq.name, equipment_class=eq.equipment_class, building=eq.building)
    tags = getattr(ctx, "tags", None)
    if tags is not None:
        for path in eq.tags:
            try:
                tv = tags.get(path)
            except KeyError:
                continue
            q = tv.quality
            out["values"].append({"path": path, "value": tv.value, "good": bool(getattr(q, "is_good", False)),
                                  "quality": str(q), "source_ts": tv.source_ts})
            if path.rsplit("/", 1)[-1].endswith("_hours") and isinstance(tv.value, (int, float)) \
                    and out["run_hours"] is None:
                out["run_hours"] = tv.value
    engine = ctx.provides.get("alarms") if getattr(ctx, "provides", None) else None
    if engine is not None and hasattr(engine, "select"):
        out["alarms_available"] = True
        try:
            records = engine.select(equipment=eq_id)
        except TypeError:
            records = [r for r in engine.select() if str(getattr(r, "id", "")).startswith(eq_id + "/")]
        out["alarms"] = [_alarm_json(r) for r in records]
    return jsonable(out)
