"""The display hierarchy built from the site: buildings → equipment classes → equipment.

Nothing here is drawn per instance: pages are generated from the equipment
templates' classes (elevator, chiller, ahu, lighting, parking, meter ...).
Normal ranges for analog bars come from the tag's configured range and the
alarm limits of the alarm engine (a value between the low and high limits is
normal).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from .i18n import tr

CLASS_NAMES = {"elevator": "Elevators", "chiller": "Chillers", "ahu": "Air handling units", "lighting": "Lighting",
               "parking": "Parking", "parking-space": "Parking spaces", "meter": "Meters"}
CLASS_ORDER = ("elevator", "chiller", "ahu", "lighting", "parking", "parking-space", "meter")
SITE_WIDE = "site"

# Bar scales by units when the tag has no configured range.
UNIT_SCALES = {"°C": (0.0, 40.0), "%": (0.0, 100.0), "Pa": (0.0, 500.0), "V": (0.0, 260.0), "lx": (0.0, 1000.0)}


def class_name(cls: str, lang: str = "en") -> str:
    """Display name of an equipment class (a class without a template name shows its id)."""
    if cls in CLASS_NAMES:
        return tr(lang, f"cls.{cls}")
    return cls.replace("-", " ").capitalize()


class SiteIndex:
    """Lookups over the site used by every page."""

    def __init__(self, site: Any, alarms: Any = None) -> None:
        self.site = site
        self.alarms = alarms
        self.buildings = {b.id: b for b in site.buildings}
        self.equipment = {e.id: e for e in site.equipment}
        tree: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for eq in site.equipment:
            tree[eq.building or SITE_WIDE][eq.equipment_class].append(eq)
        self.tree = {b: dict(sorted(classes.items(), key=lambda kv: _class_rank(kv[0]))) for b, classes in tree.items()}
        self._normal = self._normal_ranges(alarms)

    def building_name(self, building: str, lang: str = "en") -> str:
        """Display name of a building id (the site-wide group in ``lang``)."""
        b = self.buildings.get(building)
        return b.name if b is not None else (tr(lang, "site_wide") if building == SITE_WIDE else building)

    def building_ids(self) -> list[str]:
        """Buildings in site order, then the site-wide group when it has equipment."""
        ids = [b.id for b in self.site.buildings]
        return ids + [SITE_WIDE] if SITE_WIDE in self.tree else ids

    def classes(self, building: str) -> dict[str, list]:
        """Equipment of a building by class."""
        return self.tree.get(building, {})

    def of_class(self, cls: str, building: str | None = None) -> list:
        """Equipment of one class (in one building or everywhere)."""
        if building is not None:
            return list(self.classes(building).get(cls, []))
        return [e for e in self.site.equipment if e.equipment_class == cls]

    @staticmethod
    def point(eq: Any, name: str) -> str:
        """Tag path of an equipment point (``<equipment id>/<name>``)."""
        return f"{eq.id}/{name}"

    @staticmethod
    def has(eq: Any, name: str) -> bool:
        """True when the equipment has that point."""
        return f"{eq.id}/{name}" in eq.tags

    def normal(self, path: str) -> tuple[float | None, float | None]:
        """The normal range of a tag from the alarm limits (None where no limit is set)."""
        return self._normal.get(path, (None, None))

    def scale(self, path: str) -> tuple[float, float] | None:
        """The bar scale of a numeric tag: its range, else by units, else around its limits."""
        try:
            spec = self.site.tag(path)
        except KeyError:
            return None
        if spec.eu_lo is not None and spec.eu_hi is not None and spec.eu_hi > spec.eu_lo:
            return float(spec.eu_lo), float(spec.eu_hi)
        if spec.units in UNIT_SCALES:
            return UNIT_SCALES[spec.units]
        lo, hi = self.normal(path)
        if lo is not None and hi is not None and hi > lo:
            pad = (hi - lo) * 0.5
            return lo - pad, hi + pad
        return None

    @staticmethod
    def _normal_ranges(engine: Any) -> dict[str, tuple[float | None, float | None]]:
        out: dict[str, list] = {}
        if engine is None:
            return {}
        for rec in getattr(engine, "records", {}).values():
            d = rec.definition
            if d.rule_type != "limit" or d.tag is None or not isinstance(d.limit, (int, float)):
                continue
            lo_hi = out.setdefault(d.tag, [None, None])
            if d.direction >= 0:
                lo_hi[1] = d.limit if lo_hi[1] is None else min(lo_hi[1], d.limit)
            else:
                lo_hi[0] = d.limit if lo_hi[0] is None else max(lo_hi[0], d.limit)
        return {k: (v[0], v[1]) for k, v in out.items()}


def _class_rank(cls: str) -> tuple[int, str]:
    return (CLASS_ORDER.index(cls) if cls in CLASS_ORDER else len(CLASS_ORDER), cls)
