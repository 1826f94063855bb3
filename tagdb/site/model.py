"""The validated site model: frozen dataclasses built by the site loader.

Everything downstream (collectors, historian, alarms, control, HMI, business)
reads the site through these types, never through raw YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

from .errors import Loc

DATA_TYPES = ("bool", "int16", "uint16", "int32", "uint32", "int64", "uint64",
              "float32", "float64", "string")
NUMERIC_TYPES = tuple(t for t in DATA_TYPES if t != "string")


@dataclass(frozen=True, slots=True)
class Scaling:
    """Linear raw→engineering scaling; ``clamp`` limits engineering values to the eng range."""

    raw_lo: float
    raw_hi: float
    eng_lo: float
    eng_hi: float
    clamp: bool = False

    def to_eng(self, raw: float) -> float:
        """Raw device value to engineering units."""
        eng = self.eng_lo + (raw - self.raw_lo) * (self.eng_hi - self.eng_lo) / (self.raw_hi - self.raw_lo)
        if self.clamp:
            lo, hi = sorted((self.eng_lo, self.eng_hi))
            eng = min(max(eng, lo), hi)
        return eng

    def to_raw(self, eng: float) -> float:
        """Engineering value to the raw device value (used by writes)."""
        return self.raw_lo + (eng - self.eng_lo) * (self.raw_hi - self.raw_lo) / (self.eng_hi - self.eng_lo)


@dataclass(frozen=True, slots=True)
class Deadband:
    """Absolute deadband in engineering units, or percent of the tag's eng range."""

    value: float = 0.0
    percent: bool = False

    def absolute(self, eu_lo: float | None, eu_hi: float | None) -> float:
        """The deadband in engineering units (percent needs the tag's range)."""
        if not self.percent:
            return self.value
        if eu_lo is None or eu_hi is None:
            return 0.0
        return abs(eu_hi - eu_lo) * self.value / 100.0


@dataclass(frozen=True, slots=True)
class TagSpec:
    """One configured tag."""

    path: str
    data_type: str
    device: str | None
    address: str | None
    units: str = ""
    description: str = ""
    scaling: Scaling | None = None
    deadband: Deadband = Deadband()
    eu_lo: float | None = None       # normal engineering range (for % deadband, HMI bars)
    eu_hi: float | None = None
    scan_group: str = "default"
    access: str = "r"               # "r" or "rw"
    word_order: str | None = None   # per-tag override of the device's ("big"/"little")
    byte_order: str | None = None
    equipment: str | None = None    # equipment instance id this tag belongs to
    history: bool = True            # historize changes
    alarms: tuple[Mapping[str, Any], ...] = ()   # raw validated rules, owned by alarms/
    loc: Loc = Loc("<none>")

    @property
    def writable(self) -> bool:
        """True when operators and control may write this tag."""
        return self.access == "rw"

    @property
    def is_numeric(self) -> bool:
        """True for every type but string."""
        return self.data_type != "string"


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """One device (a Modbus unit at an endpoint, or an OPC UA server)."""

    name: str
    protocol: str                    # "modbus" | "opcua" | "internal"
    endpoint: str                    # "tcp://host:port" or "opc.tcp://host:port/path"
    unit_id: int = 1
    timeout: float = 2.0
    retries: int = 1
    scan_groups: Mapping[str, float] = field(default_factory=lambda: MappingProxyType({"default": 1.0}))
    building: str | None = None
    enabled: bool = True
    options: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    loc: Loc = Loc("<none>")


@dataclass(frozen=True, slots=True)
class Area:
    """An area of a building (lobby, plant room, car park level)."""

    id: str
    name: str


@dataclass(frozen=True, slots=True)
class Building:
    """A building of the site."""

    id: str
    name: str
    use: str = "residential"         # residential | commercial | office | mixed | plant
    floors: int = 1
    basement_floors: int = 0
    areas: tuple[Area, ...] = ()


@dataclass(frozen=True, slots=True)
class Equipment:
    """An instantiated equipment template (e.g. one elevator)."""

    id: str                          # also the path prefix of its tags
    template: str
    equipment_class: str             # elevator | chiller | ahu | lighting | parking | meter | ...
    name: str
    building: str | None
    area: str | None
    device: str | None
    parameters: Mapping[str, Any]
    tags: tuple[str, ...]            # full tag paths
    alarms: tuple[Mapping[str, Any], ...] = ()   # template-level (expression) rules, raw
    loc: Loc = Loc("<none>")


@dataclass(frozen=True)
class SiteModel:
    """A whole validated site."""

    name: str
    timezone: str
    files: tuple[str, ...]
    buildings: tuple[Building, ...]
    devices: Mapping[str, DeviceSpec]
    tags: tuple[TagSpec, ...]
    equipment: tuple[Equipment, ...]
    sections: Mapping[str, Any]      # validated sections owned by other packages: server, historian, alarms, ...
    data_dir: str = "var"

    def tag(self, path: str) -> TagSpec:
        """The tag with this path (KeyError when absent)."""
        return self._tag_index()[path]

    def section(self, name: str) -> Any:
        """A package's validated config section, or None when the site has none."""
        return self.sections.get(name)

    def _tag_index(self) -> dict[str, TagSpec]:
        idx = self.__dict__.get("_idx")
        if idx is None:
            idx = {t.path: t for t in self.tags}
            object.__setattr__(self, "_idx", idx)
        return idx
