"""Turning validated config dicts into model objects, with the checks that need other parts.

A tag's ``where(key, message)`` callable builds the error for one of its keys, so
the same checks serve YAML tags, template instances and CSV rows.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Any, Callable, Mapping

from . import hooks
from .core_schema import DEVICE
from .errors import ConfigError, Loc
from .model import Deadband, DeviceSpec, Scaling, TagSpec
from .schema import Errors, _join, did_you_mean

Where = Callable[[str, str], ConfigError]


def freeze(value: Any) -> Any:
    """A read-only copy: mappings become MappingProxyType, lists tuples (for frozen model objects)."""
    if isinstance(value, dict):
        return MappingProxyType({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def check_device(name: str, raw: Any, field: str, loc: Loc, building_ids: set[str],
                 suffix: str = "") -> tuple[DeviceSpec | None, Errors]:
    """Validate one device (named or inline) including its protocol options and building."""
    clean, errors = DEVICE.check(raw, field, loc)
    if clean is None:
        return None, errors
    key_loc = raw.loc_of if hasattr(raw, "loc_of") else (lambda k: loc)
    options = clean["options"]
    if clean["building"] is not None and clean["building"] not in building_ids:
        errors.append(ConfigError(key_loc("building"), _join(field, "building"),
                                  f"unknown building {clean['building']!r}{known_names(building_ids, clean['building'])}"))
    if options and clean["protocol"] is not None:
        schema, why = hooks.device_options_schema(clean["protocol"])
        if schema is None:
            errors.append(ConfigError(key_loc("options"), _join(field, "options"), why))
        else:
            options, errs = schema.check(raw["options"], _join(field, "options"), key_loc("options"))
            errors += errs
    if suffix:
        errors = [ConfigError(e.loc, e.field, e.message + suffix) for e in errors]
    if errors:
        return None, errors
    return DeviceSpec(
        name=name, protocol=clean["protocol"], endpoint=clean["endpoint"], unit_id=clean["unit_id"],
        timeout=clean["timeout"], retries=clean["retries"],
        scan_groups=MappingProxyType(dict(clean["scan_groups"])), building=clean["building"],
        enabled=clean["enabled"], options=freeze(options or {}), loc=loc), []


def known_names(names, word: Any = None) -> str:
    """`` (known: a, b, c)`` for error messages (at most 12 names shown), after a
    ``; did you mean 'x'?`` when ``word`` is a near miss of one of them."""
    names = sorted(names)
    if not names:
        return " (none are defined)"
    if word is not None and (hint := did_you_mean(word, names)):
        return hint
    shown = ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
    return f" (known: {shown})"


def check_alarm_rules(items: Any, field: str, key_loc: Loc, kind: str = "TAG_RULE") -> tuple[tuple, Errors]:
    """Validate a list of alarm rules with ``alarms.schema.<kind>``; error when it is unavailable."""
    if not items:
        return (), []
    schema, why = hooks.alarm_rule_schema(kind)
    if schema is None:
        return (), [ConfigError(key_loc, field, why)]
    clean, errors = [], []
    for i, item in enumerate(items):
        loc = items.loc_of(i) if hasattr(items, "loc_of") else key_loc
        value, errs = schema.check(item, f"{field}[{i}]", loc)
        errors += errs
        clean.append(value)
    return freeze(clean), errors


def make_tag(t: Mapping[str, Any], path: str, device: str | None, equipment: str | None, loc: Loc,
             alarms: tuple = ()) -> TagSpec:
    """A TagSpec from a validated tag dict (keys of ``core_schema.TAG_BODY``)."""
    sc = t.get("scaling")
    scaling = Scaling(sc["raw"][0], sc["raw"][1], sc["eng"][0], sc["eng"][1], sc["clamp"]) if sc else None
    rng = t.get("range")
    if rng is None and scaling is not None:
        rng = sorted((scaling.eng_lo, scaling.eng_hi))
    return TagSpec(
        path=path, data_type=t["type"], device=device, address=t.get("address"),
        units=t.get("units") or "", description=t.get("description") or "", scaling=scaling,
        deadband=t.get("deadband") or Deadband(), eu_lo=rng[0] if rng else None, eu_hi=rng[1] if rng else None,
        scan_group=t.get("scan_group") or "default", access=t.get("access") or "r",
        word_order=t.get("word_order"), byte_order=t.get("byte_order"),
        history=t.get("history", True) is not False, equipment=equipment, alarms=alarms, loc=loc)


def tag_device_errors(spec: TagSpec, devices: Mapping[str, DeviceSpec], where: Where) -> Errors:
    """Checks of a tag against its device: it exists, has the scan group, accepts the address."""
    if spec.device is None:
        if spec.address is not None:
            return [where("address", "a tag with an address needs a device")]
        return []                               # a memory tag, written by control or the API
    dev = devices.get(spec.device)
    if dev is None:
        return [where("device", f"unknown device {spec.device!r}{known_names(devices, spec.device)}")]
    errors: Errors = []
    if spec.address is None:
        errors.append(where("address", f"a tag on device {spec.device!r} needs an address"))
    else:
        problem = hooks.address_problem(dev.protocol, spec.address, spec.data_type)
        if problem:
            errors.append(where("address", problem))
    if spec.scan_group not in dev.scan_groups:
        errors.append(where("scan_group", f"device {spec.device!r} has no scan group {spec.scan_group!r}"
                                          f"{known_names(dev.scan_groups, spec.scan_group)}"))
    if spec.writable and spec.data_type == "string" and dev.protocol == "modbus":
        errors.append(where("access", "writable string tags are not supported on modbus devices"))
    return errors
