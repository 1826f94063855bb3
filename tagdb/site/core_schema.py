"""Schemas of the site's own keys: site, buildings, devices, tags, templates, equipment.

Sections owned by other packages (server, historian, alarms, ...) are declared in
those packages and found through :mod:`tagdb.site.sections`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .errors import ConfigError, Loc
from .model import DATA_TYPES, Deadband
from .schema import (AnyValue, Bool, Duration, Errors, Field, Int, ListOf, MapOf, Obj, OneOf, Schema, Str,
                     _err, _join, _tname)

PATH_PATTERN = r"[a-z0-9_-]+(?:/[a-z0-9_-]+)*"
PATH_HINT = "segments of a-z, 0-9, '_' and '-' separated by '/'"
SEGMENT_PATTERN = r"[a-z0-9_-]+"
RESERVED_PREFIX = "_system"
PROTOCOLS = ("modbus", "opcua")
BUILDING_USES = ("residential", "commercial", "office", "mixed", "plant", "parking", "other")
ENDPOINT_PREFIX = {"modbus": ("tcp://",), "opcua": ("opc.tcp://",)}


def path_problem(path: str) -> str | None:
    """Why ``path`` is not a valid tag path or equipment id, or None when it is."""
    if not re.fullmatch(PATH_PATTERN, path):
        return f"{path!r} is not a valid tag path ({PATH_HINT})"
    if path.split("/", 1)[0] == RESERVED_PREFIX:
        return f"{path!r}: paths under '{RESERVED_PREFIX}/' are reserved for the server's own tags"
    return None


@dataclass
class TagPath(Schema):
    """A tag path or equipment id: lower-case segments, '_system/' reserved."""

    def check(self, value, field, loc):
        if not isinstance(value, str):
            return None, _err(loc, field, f"expected a string, got {_tname(value)} {value!r}")
        problem = path_problem(value)
        return (None, _err(loc, field, problem)) if problem else (value, [])


@dataclass
class Pair(Schema):
    """``[lo, hi]``: a list of exactly two numbers."""

    def check(self, value, field, loc):
        if (not isinstance(value, list) or len(value) != 2
                or any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value)):
            return None, _err(loc, field, f"expected [lo, hi], a list of two numbers, got {value!r}")
        return (value[0], value[1]), []


_PERCENT = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*%\s*$")


@dataclass
class DeadbandSchema(Schema):
    """An absolute deadband (a number >= 0) or a percent of the tag's range ("2%")."""

    def check(self, value, field, loc):
        if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
            return Deadband(float(value)), []
        if isinstance(value, str) and (m := _PERCENT.match(value)):
            percent = float(m.group(1))
            return (Deadband(percent, percent=True) if percent else Deadband()), []
        return None, _err(loc, field, f"expected a number >= 0 or a percent such as \"2%\", got {value!r}")


@dataclass
class TimeZone(Schema):
    """An IANA time zone name such as Asia/Shanghai."""

    def check(self, value, field, loc):
        if not isinstance(value, str):
            return None, _err(loc, field, f"expected a time zone name, got {_tname(value)} {value!r}")
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            return None, _err(loc, field, f"unknown time zone {value!r} (use an IANA name such as Asia/Shanghai)")
        return value, []


SITE = Obj({
    "name": Field(Str(min_len=1), required=True),
    "timezone": Field(TimeZone(), required=True),
    "data_dir": Field(Str(min_len=1), default="var", doc="relative to the site folder"),
})

AREA = Obj({
    "id": Field(Str(pattern=SEGMENT_PATTERN, hint="a-z, 0-9, '_', '-'"), required=True),
    "name": Field(Str(min_len=1), required=True),
})

BUILDING = Obj({
    "id": Field(Str(pattern=SEGMENT_PATTERN, hint="a-z, 0-9, '_', '-'"), required=True),
    "name": Field(Str(min_len=1), required=True),
    "use": Field(Str(choices=BUILDING_USES), default="residential"),
    "floors": Field(Int(min=0), default=1),
    "basement_floors": Field(Int(min=0), default=0),
    "areas": Field(ListOf(AREA), default=[]),
})


def _check_device(d: dict, field: str, raw) -> Errors:
    prefixes = ENDPOINT_PREFIX[d["protocol"]]
    if not d["endpoint"].startswith(prefixes):
        loc = raw.loc_of("endpoint") if raw is not None else Loc("<none>")
        return [ConfigError(loc, _join(field, "endpoint"),
                            f"{d['protocol']} endpoint must start with {' or '.join(prefixes)}, "
                            f"got {d['endpoint']!r}")]
    return []


DEVICE = Obj({
    "protocol": Field(Str(choices=PROTOCOLS), required=True),
    "endpoint": Field(Str(min_len=1), required=True),
    "unit_id": Field(Int(min=0, max=255), default=1),
    "timeout": Field(Duration(allow_zero=False), default=2.0),
    "retries": Field(Int(min=0, max=100), default=1),
    "scan_groups": Field(MapOf(Duration(allow_zero=False)), default={"default": 1.0}),
    "building": Field(Str(min_len=1)),
    "enabled": Field(Bool(), default=True),
    "options": Field(MapOf(AnyValue()), default={}),
}, check_fn=_check_device)

NAME_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*"
# Device names may hold '/' like equipment ids: an equipment's own device is named by its id,
# and a CSV export of its tags must be importable into a site that names the device that way.
DEVICE_NAME_PATTERN = rf"{NAME_PATTERN}(?:/{NAME_PATTERN})*"
DEVICES = MapOf(DEVICE, key_pattern=DEVICE_NAME_PATTERN)

SCALING = Obj({
    "raw": Field(Pair(), required=True),
    "eng": Field(Pair(), required=True),
    "clamp": Field(Bool(), default=False),
})

# Fields every tag has, however it is declared (explicit, template or CSV).
TAG_BODY: dict[str, Field] = {
    "type": Field(Str(choices=DATA_TYPES), required=True),
    "address": Field(Str(min_len=1)),
    "units": Field(Str(), default=""),
    "description": Field(Str(), default=""),
    "scaling": Field(SCALING),
    "deadband": Field(DeadbandSchema(), default=Deadband()),
    "range": Field(Pair()),
    "scan_group": Field(Str(min_len=1), default="default"),
    "access": Field(Str(choices=("r", "rw")), default="r"),
    "word_order": Field(Str(choices=("big", "little"))),
    "byte_order": Field(Str(choices=("big", "little"))),
    "history": Field(Bool(), default=True),
    "alarms": Field(ListOf(AnyValue()), default=[]),
}

Where = Callable[[str, str], ConfigError]


def tag_cross_errors(t: dict, where: Where) -> Errors:
    """Checks between a tag's fields: scaling, range and deadband must make sense together.

    ``where(key, message)`` builds the error for one key (``scaling.raw``, ``range``, ...),
    so YAML tags, template overrides and CSV rows each name their own place.
    """
    errors: Errors = []
    numeric = t["type"] not in ("string", "bool")
    scaling, rng, deadband = t.get("scaling"), t.get("range"), t.get("deadband") or Deadband()
    if scaling is not None:
        if not numeric:
            errors.append(where("scaling", f"a {t['type']} tag cannot be scaled"))
        if scaling["raw"][0] == scaling["raw"][1]:
            errors.append(where("scaling.raw", f"impossible scaling: raw low and high are both {scaling['raw'][0]}"))
        if scaling["eng"][0] == scaling["eng"][1]:
            errors.append(where("scaling.eng", f"impossible scaling: eng low and high are both {scaling['eng'][0]}"))
    if rng is not None:
        if not numeric:
            errors.append(where("range", f"a {t['type']} tag has no range"))
        elif rng[0] >= rng[1]:
            errors.append(where("range", f"range low {rng[0]} must be below high {rng[1]}"))
    if deadband.value:
        if not numeric:
            errors.append(where("deadband", f"a {t['type']} tag has no deadband"))
        elif deadband.percent and rng is None and scaling is None:
            errors.append(where("deadband", "a percent deadband needs a range (or a scaling) to be a percent of"))
    return errors


def yaml_where(field: str, raw) -> Where:
    """The ``where`` of a tag written in YAML: errors point at the key's own line."""
    def where(key: str, message: str) -> ConfigError:
        loc = raw.loc_of(key.split(".")[0]) if raw is not None else Loc("<none>")
        return ConfigError(loc, _join(field, key), message)
    return where


def _tag_check_fn(t: dict, field: str, raw) -> Errors:
    return tag_cross_errors(t, yaml_where(field, raw))


TAG = Obj({"path": Field(TagPath(), required=True), "device": Field(Str(min_len=1)), **TAG_BODY},
          check_fn=_tag_check_fn)

TEMPLATE_TAG = Obj({"name": Field(TagPath(), required=True), **TAG_BODY}, check_fn=_tag_check_fn)

TEMPLATE = Obj({
    "class": Field(Str(pattern=SEGMENT_PATTERN, hint="a-z, 0-9, '_', '-'"), required=True),
    "description": Field(Str(), default=""),
    "parameters": Field(MapOf(AnyValue(), key_pattern=r"[A-Za-z_][A-Za-z0-9_]*",
                              key_hint="a Python-style identifier"), default={}),
    "device": Field(AnyValue()),           # an inline device, validated per instance after substitution
    "tags": Field(ListOf(TEMPLATE_TAG), default=[]),
    "alarms": Field(ListOf(AnyValue()), default=[]),
})

TEMPLATES = MapOf(TEMPLATE, key_pattern=r"[A-Za-z0-9_][A-Za-z0-9_.\-]*")

EQUIPMENT = Obj({
    "id": Field(Str(min_len=1), required=True),       # path syntax checked after {n} expansion
    "template": Field(Str(min_len=1), required=True),
    "name": Field(Str(min_len=1)),
    "building": Field(Str(min_len=1)),
    "area": Field(Str(min_len=1)),
    "device": Field(OneOf((Str(min_len=1), MapOf(AnyValue())))),
    "parameters": Field(MapOf(AnyValue(), key_pattern=r"[A-Za-z_][A-Za-z0-9_]*",
                              key_hint="a Python-style identifier"), default={}),
    "overrides": Field(MapOf(MapOf(AnyValue(), key_pattern=r".+"), key_pattern=r".+"), default={}),
    "count": Field(Int(min=1, max=10000)),
    "start": Field(Int(min=0), default=1),
})

TAG_FILES = ListOf(Str(min_len=1))

# The site's own top-level keys and their schemas; lists and mappings may be split across files.
CORE_KEYS: dict[str, Schema] = {
    "site": SITE,
    "buildings": ListOf(BUILDING),
    "devices": DEVICES,
    "templates": TEMPLATES,
    "equipment": ListOf(EQUIPMENT),
    "tags": ListOf(TAG),
    "tag_files": TAG_FILES,
}
MERGED_LISTS = ("buildings", "equipment", "tags", "tag_files")
MERGED_MAPS = ("devices", "templates")
