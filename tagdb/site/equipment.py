"""Instantiating equipment from templates: parameters, device, overrides, tags.

Errors in a tag that comes from a template point at the template's line and say
which equipment instance they arose in; errors in an override point at the override.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Mapping

from .build import Where, check_alarm_rules, check_device, freeze, known_names, make_tag
from .core_schema import TAG_BODY, path_problem, tag_cross_errors
from .errors import ConfigError, Loc
from .located import LDict
from .model import Building, DeviceSpec, Equipment, TagSpec
from .schema import Errors
from .templates import SubstitutionError, substitute


@dataclass
class Template:
    """A validated template with the raw YAML its errors point at."""

    name: str
    clean: dict
    raw: LDict
    field: str
    tag_alarms: list[tuple] = field(default_factory=list)   # validated alarms of each template tag
    alarms: tuple = ()                                         # validated equipment-level rules


@dataclass
class TagEntry:
    """A tag with the function that names its places in error messages."""

    spec: TagSpec
    where: Where


@dataclass
class Instance:
    """What one equipment entry produced."""

    equipment: Equipment
    device: DeviceSpec | None               # its own (inline) device, if any
    tags: list[TagEntry]


def _sub_loc(raw: Any, key: str, fallback: Loc) -> Loc:
    return raw.loc_of(key) if isinstance(raw, LDict) else fallback


def _check_place(item: dict, raw: LDict, fld: str, buildings: Mapping[str, Building]) -> Errors:
    b, a = item["building"], item["area"]
    if b is not None and b not in buildings:
        return [ConfigError(raw.loc_of("building"), f"{fld}.building",
                            f"unknown building {b!r}{known_names(buildings, b)}")]
    if a is None:
        return []
    if b is None:
        return [ConfigError(raw.loc_of("area"), f"{fld}.area", "an area needs the equipment's building")]
    areas = {x.id for x in buildings[b].areas}
    if a not in areas:
        return [ConfigError(raw.loc_of("area"), f"{fld}.area", f"building {b!r} has no area {a!r}{known_names(areas, a)}")]
    return []


def _parameters(item: dict, raw: LDict, fld: str, tpl: Template) -> tuple[dict, Errors]:
    declared, given = tpl.clean["parameters"], item["parameters"]
    praw = raw.get("parameters")
    errors = [ConfigError(_sub_loc(praw, k, raw.loc), f"{fld}.parameters.{k}",
                          f"template {tpl.name!r} has no parameter {k!r}{known_names(declared, k)}")
              for k in given if k not in declared]
    errors += [ConfigError(_sub_loc(raw, "parameters", raw.loc), f"{fld}.parameters.{k}",
                           f"is required by template {tpl.name!r}")
               for k, default in declared.items() if default is None and given.get(k) is None]
    values = {k: v for k, v in declared.items()}
    values.update({k: v for k, v in given.items() if v is not None})
    return values, errors


def _device(item: dict, raw: LDict, fld: str, tpl: Template, eid: str, values: dict,
            devices: Mapping[str, DeviceSpec], building_ids: set[str]) -> tuple[str | None, DeviceSpec | None, Errors]:
    dev = item["device"]
    if isinstance(dev, str):
        if dev not in devices:
            return None, None, [ConfigError(raw.loc_of("device"), f"{fld}.device",
                                            f"unknown device {dev!r}{known_names(devices, dev)}")]
        return dev, None, []
    if dev is not None:
        spec, errors = check_device(eid, item.get("device_raw", raw.get("device")), f"{fld}.device",
                                    raw.loc_of("device"), building_ids)
    elif tpl.clean["device"] is not None:
        dloc = tpl.raw.loc_of("device")
        try:
            dev_raw = substitute(tpl.raw["device"], values)
        except SubstitutionError as exc:
            return None, None, [ConfigError(dloc, f"{tpl.field}.device", f"{exc} (in equipment {eid})")]
        spec, errors = check_device(eid, dev_raw, f"{tpl.field}.device", dloc, building_ids,
                                    suffix=f" (in equipment {eid})")
    else:
        return None, None, []
    if spec is not None and spec.building is None and item["building"] is not None:
        spec = dataclasses.replace(spec, building=item["building"])
    return (spec.name if spec else None), spec, errors


def _overrides(item: dict, raw: LDict, fld: str, tpl: Template) -> tuple[dict, Errors]:
    """{tag name: {field: (clean value, loc)}} from the entry's ``overrides``."""
    names = [t["name"] for t in tpl.clean["tags"]]
    oraw, errors, out = raw.get("overrides"), [], {}
    for tname, fields in item["overrides"].items():
        tloc, tfield = _sub_loc(oraw, tname, raw.loc), f"{fld}.overrides.{tname}"
        if tname not in names:
            errors.append(ConfigError(tloc, tfield, f"template {tpl.name!r} has no tag {tname!r}{known_names(names, tname)}"))
            continue
        fraw = oraw.get(tname) if isinstance(oraw, LDict) else None
        for key, value in fields.items():
            kloc = _sub_loc(fraw, key, tloc)
            if key not in TAG_BODY:
                errors.append(ConfigError(kloc, f"{tfield}.{key}", f"cannot override {key!r}: not a tag field"
                                          f"{known_names(TAG_BODY, key)}"))
                continue
            if value is None:
                clean, errs = TAG_BODY[key].default, []
            elif key == "alarms":
                clean, errs = check_alarm_rules(value, f"{tfield}.alarms", kloc)
            else:
                clean, errs = TAG_BODY[key].schema.check(value, f"{tfield}.{key}", kloc)
            errors += errs
            if not errs:
                out.setdefault(tname, {})[key] = (clean, kloc)
    return out, errors


def instantiate(item: dict, raw: LDict, fld: str, templates: Mapping[str, Template],
                buildings: Mapping[str, Building], devices: Mapping[str, DeviceSpec]) -> tuple[Instance | None, Errors]:
    """Build one equipment instance and its tags from a validated ``equipment:`` entry."""
    eid = item["id"]
    problem = path_problem(eid)
    if problem:
        return None, [ConfigError(raw.loc_of("id"), f"{fld}.id", problem)]
    tpl = templates.get(item["template"])
    if tpl is None:
        return None, [ConfigError(raw.loc_of("template"), f"{fld}.template",
                                  f"unknown template {item['template']!r}{known_names(templates, item['template'])}")]
    errors = _check_place(item, raw, fld, buildings)
    values, errs = _parameters(item, raw, fld, tpl)
    errors += errs
    name = item["name"] or eid
    values.update(id=eid, name=name, building=item["building"] or "", area=item["area"] or "")
    device_name, device, errs = _device(item, raw, fld, tpl, eid, values, devices, set(buildings))
    errors += errs
    overrides, errs = _overrides(item, raw, fld, tpl)
    errors += errs
    if (item["device"] is None and tpl.clean["device"] is None
            and any(t.get("address") for t in tpl.clean["tags"])):
        errors.append(ConfigError(raw.loc, f"{fld}.device", f"is required: template {tpl.name!r} has tags "
                                                             "with addresses and no device of its own"))
    if errors:
        return None, errors
    entries: list[TagEntry] = []
    for j, t in enumerate(tpl.clean["tags"]):
        traw, over = tpl.raw["tags"][j], overrides.get(t["name"], {})
        where = _tag_where(traw, f"{tpl.field}.tags[{j}]", raw, fld, t["name"], over, eid)
        try:
            merged = substitute({k: v for k, v in t.items() if k != "alarms"}, values)
        except SubstitutionError as exc:
            errors.append(ConfigError(traw.loc, f"{tpl.field}.tags[{j}]", f"{exc} (in equipment {eid})"))
            continue
        bad = False
        for key, (value, kloc) in over.items():     # overrides may use the parameters too (not alarms)
            try:
                merged[key] = value if key == "alarms" else substitute(value, values)
            except SubstitutionError as exc:
                errors.append(ConfigError(kloc, f"{fld}.overrides.{t['name']}.{key}", str(exc)))
                bad = True
        if bad:
            continue
        if over:
            errs = tag_cross_errors(merged, where)
            if errs:
                errors += errs
                continue
        alarms = merged.pop("alarms", None) if "alarms" in over else tpl.tag_alarms[j]
        spec = make_tag(merged, f"{eid}/{t['name']}", device_name, eid, raw.loc, alarms or ())
        entries.append(TagEntry(spec, where))
    equipment = Equipment(
        id=eid, template=tpl.name, equipment_class=tpl.clean["class"], name=name,
        building=item["building"], area=item["area"], device=device_name,
        parameters=freeze({k: v for k, v in values.items() if k in tpl.clean["parameters"]}),
        tags=tuple(e.spec.path for e in entries), alarms=tpl.alarms, loc=raw.loc)
    return Instance(equipment, device, entries), errors


def _tag_where(traw: LDict, tfield: str, raw: LDict, fld: str, tname: str, over: dict, eid: str) -> Where:
    def where(key: str, message: str) -> ConfigError:
        top = key.split(".")[0]
        if top in over:
            return ConfigError(over[top][1], f"{fld}.overrides.{tname}.{key}", message)
        if top == "device":
            return ConfigError(raw.loc_of("device"), f"{fld}.device", message)
        if top == "path":
            return ConfigError(raw.loc_of("id"), f"{fld}.id", f"{message} (tag {tname!r} of the template)")
        return ConfigError(traw.loc_of(top), f"{tfield}.{key}", f"{message} (in equipment {eid})")
    return where
