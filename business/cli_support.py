"""Plumbing shared by the business command-line modules (``business.cli``, ``business.finance.cli``).

Every such command takes ``--site``/``--data-dir``, opens the site's business
database migrated, and prints a :class:`~business.errors.BusinessError` as one
``spms: message`` line on stderr.
"""

from __future__ import annotations

import argparse
import functools
import sys
from pathlib import Path
from typing import Callable


def site_args(p: argparse.ArgumentParser) -> None:
    """Add the ``--site`` and ``--data-dir`` options."""
    p.add_argument("--site", metavar="SITE", help="site YAML file or folder (default: the demo site)")
    p.add_argument("--data-dir", metavar="DIR", help="data folder (default: the site's data_dir)")


def data_dir(args, site) -> Path:
    """The data folder: ``--data-dir``, else the site's ``data_dir`` beside ``--site``, else the demo's."""
    from tagdb.cli.run import DEMO_DATA_DIR
    if args.data_dir:
        return Path(args.data_dir)
    if args.site:
        p = Path(args.site)
        return (p if p.is_dir() else p.parent) / site.data_dir
    return DEMO_DATA_DIR


def open_site(args):
    """(db, site) for the command's site, migrated; None after printing errors."""
    from tagdb.cli.helpers import load_or_report
    from tagdb.cli.run import DEMO_SITE

    from .database import Database, default_url

    site = load_or_report(Path(args.site) if args.site else DEMO_SITE)
    if site is None:
        return None
    section = site.section("business") or {}
    url = (section.get("database") or {}).get("url") or default_url(data_dir(args, site))
    db = Database(url)
    db.migrate()
    return db, site


def with_site(cmd: Callable[..., int]) -> Callable[..., int]:
    """Make ``cmd(args, db, site)`` a command ``cmd(args)`` that opens the site first (exit 1 if it cannot)."""
    @functools.wraps(cmd)
    def run(args) -> int:
        opened = open_site(args)
        if opened is None:
            return 1
        db, site = opened
        return cmd(args, db, site)
    return run


def print_error(exc, prefix: str = "spms", fields: bool = False) -> None:
    """Print a business error on stderr as ``PREFIX: message`` (plus one line per field if asked)."""
    extra = "".join(f"\n  {k}: {v}" for k, v in exc.fields.items()) if fields else ""
    print(f"{prefix}: {exc.message}{extra}", file=sys.stderr)
