"""The registry of top-level site sections owned by other packages.

Each entry maps a top-level key to the module declaring it. The module must
define ``SECTION`` (a :mod:`tagdb.site.schema` schema, usually an ``Obj``) and
may define ``validate_site(site: SiteModel) -> list[ConfigError]`` for checks
that need the whole site (e.g. an alarm rule naming an unknown tag). Modules are
imported only when a site uses their key, so adding a package is one line here.
"""

from __future__ import annotations

import importlib
from types import ModuleType

SECTIONS: dict[str, str] = {
    "server": "tagdb.server.schema",
    "historian": "tagdb.historian.schema",
    "alarms": "alarms.schema",
    "simulators": "collectors.schema",
    "control": "control.schema",
    "business": "business.schema",
    "finance": "business.finance.schema",
    "service": "business.service_mgmt.schema",
    "hmi": "hmi.schema",
}


class SectionUnavailable(Exception):
    """A registered section's module cannot be imported or lacks ``SECTION``."""


def section_module(key: str) -> ModuleType:
    """The module declaring section ``key`` (KeyError when ``key`` is not registered)."""
    name = SECTIONS[key]
    try:
        module = importlib.import_module(name)
    except ImportError as exc:
        raise SectionUnavailable(f"section '{key}' is registered to {name}, which cannot be imported "
                                 f"({exc}); is that package installed?") from exc
    if not hasattr(module, "SECTION"):
        raise SectionUnavailable(f"section '{key}': {name} defines no SECTION schema")
    return module
