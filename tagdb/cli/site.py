"""``spms check SITE``: validate a site and print every error, or a one-line summary."""

from __future__ import annotations

import sys

from .helpers import checked_site


def register(subparsers) -> None:
    """Add the ``check`` command."""
    p = subparsers.add_parser(
        "check", help="validate a site and print every error with file, line and field",
        description="Validate a site (a YAML file or a folder of YAML files, with its CSV tag lists). "
                    "Prints every error as FILE:LINE: FIELD: MESSAGE and exits 1, or prints a "
                    "one-line summary and exits 0.")
    p.add_argument("site", metavar="SITE", help="site YAML file, or a folder of YAML files merged into one site")
    p.set_defaults(func=cmd_check)


def summary(site) -> str:
    """``ok: N buildings, N devices, N equipment, N tags, N alarm rules``."""
    rules = sum(len(t.alarms) for t in site.tags) + sum(len(e.alarms) for e in site.equipment)
    alarms = site.section("alarms")
    if isinstance(alarms, dict):
        rules += len(alarms.get("rules") or [])
    return (f"ok: {len(site.buildings)} buildings, {len(site.devices)} devices, {len(site.equipment)} equipment, "
            f"{len(site.tags)} tags, {rules} alarm rules")


def cmd_check(args) -> int:
    """Print the errors (exit 1) or the summary (exit 0)."""
    site = checked_site(args.site, out=sys.stdout,
                        summary=lambda count: f"spms check: {args.site}: {count} error(s)")
    if site is None:
        return 1
    print(summary(site))
    return 0
