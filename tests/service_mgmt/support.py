"""Helpers shared by the service-management tests: the business suite's fixtures module
(world, PostgreSQL databases, fake clock) and principals of each kind."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from business.permissions import principal_for

_spec = importlib.util.spec_from_file_location("business_conftest", Path(__file__).parents[1] / "business" / "conftest.py")
bc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bc)

ADMIN = bc.ADMIN
FakeClock = bc.FakeClock


def technician(world, key="sA"):
    """A technician principal linked to a staff record."""
    return principal_for("tech", [("technician", "property:demo")], staff_id=world[key])


def resident(world, key="pA", unit="uA"):
    """A resident principal (owner of a unit)."""
    return principal_for("res", [("owner", f"unit:{world[unit]}")], person_id=world[key])


def manager(scope="property:demo"):
    """A property manager."""
    return principal_for("mgr", [("manager", scope)])
