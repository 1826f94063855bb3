"""Checks the site loader borrows from other packages.

- ``collectors.schema``: ``DEVICE_OPTIONS: dict[protocol, Schema]`` validates a
  device's ``options``; ``check_address(protocol, address, data_type) -> str | None``
  explains why a tag address is wrong (None when it is fine).
- ``alarms.schema``: ``TAG_RULE`` validates one item of a tag's ``alarms:`` list,
  ``EQUIPMENT_RULE`` one item of a template's ``alarms:`` list.

A hook whose module does not exist yet is reported as an error wherever the site
needs it, never silently skipped; an address with no checker is accepted as written.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


def _optional_module(name: str) -> ModuleType | None:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name in (name, name.split(".")[0]):
            return None
        raise


def collectors_schema() -> ModuleType | None:
    """``collectors.schema``, or None while the collectors package does not provide it."""
    return _optional_module("collectors.schema")


def device_options_schema(protocol: str) -> tuple[Any, str | None]:
    """(schema for ``options`` of a ``protocol`` device, or None; why there is none)."""
    mod = collectors_schema()
    if mod is None or not hasattr(mod, "DEVICE_OPTIONS"):
        return None, "device options cannot be checked: collectors.schema.DEVICE_OPTIONS is not available"
    schema = mod.DEVICE_OPTIONS.get(protocol)
    if schema is None:
        return None, f"the {protocol} collector takes no options"
    return schema, None


def address_problem(protocol: str, address: str, data_type: str) -> str | None:
    """Why ``address`` is not a valid ``protocol`` address for a ``data_type`` tag (None: fine)."""
    mod = collectors_schema()
    check = getattr(mod, "check_address", None) if mod is not None else None
    return check(protocol, address, data_type) if check is not None else None


def alarm_rule_schema(kind: str) -> tuple[Any, str | None]:
    """(``alarms.schema.<kind>``, or None; why it is missing). ``kind``: TAG_RULE or EQUIPMENT_RULE."""
    mod = _optional_module("alarms.schema")
    schema = getattr(mod, kind, None) if mod is not None else None
    if schema is None:
        return None, f"alarm rules cannot be checked: alarms.schema.{kind} is not available yet"
    return schema, None
