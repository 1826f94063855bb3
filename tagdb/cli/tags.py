"""``spms tags export|import``: tag lists as CSV, the way SCADA engineers keep them.

Other packages add ``spms tags <name>`` commands by listing a module in
``TAGS_SUBCOMMANDS``; the module exposes ``register_tags(subparsers)`` and adds
its parsers to the ``tags`` subparsers like any command module.
"""

from __future__ import annotations

import importlib
import logging
import sys

from .helpers import checked_site, command_group

#: Modules adding ``spms tags`` sub-subcommands (each exposes ``register_tags(subparsers)``).
TAGS_SUBCOMMANDS: list[str] = ["collectors.cli"]

log = logging.getLogger("spms.cli")


def register(subparsers) -> None:
    """Add the ``tags`` command with ``export``, ``import`` and any registered extras."""
    _, sub = command_group(subparsers, "tags", help="tag lists: export to CSV, import from CSV",
                           description="Work with a site's tag lists.", dest="tags_command")

    exp = sub.add_parser("export", help="write every tag of a site (templates expanded) to CSV",
                         description="Write every tag of a site, equipment templates expanded, to a CSV file "
                                     "(one row a tag). Alarm rules are not part of the CSV.")
    exp.add_argument("site", metavar="SITE", help="site YAML file or folder")
    exp.add_argument("--csv", metavar="FILE", required=True, help="CSV file to write ('-' for stdout)")
    exp.add_argument("--no-bom", action="store_true",
                     help="write plain UTF-8; by default a file starts with a byte-order mark so that "
                          "Excel shows units such as °C and Chinese descriptions correctly")
    exp.add_argument("--match", metavar="PATTERN", action="append",
                     help="only tags matching this glob or prefix (tower-a/, */elevator-*/**); repeatable")
    exp.set_defaults(func=cmd_export)

    imp = sub.add_parser("import", help="check a CSV tag list against a site and add it to the site",
                         description="Validate every row of a CSV tag list against the site (devices, scan "
                                     "groups, addresses, duplicate paths). Only when every row is good is the "
                                     "file copied into the site folder and listed in tag_files (in "
                                     "tag-files.yaml); otherwise nothing is written and every bad row is "
                                     "printed as FILE:ROW: COLUMN: MESSAGE. Importing the same file again "
                                     "replaces the earlier copy.")
    imp.add_argument("csv", metavar="FILE.csv", help="the CSV tag list")
    imp.add_argument("--site", metavar="SITE_DIR", required=True, help="the site folder to add the list to")
    imp.set_defaults(func=cmd_import)

    for name in TAGS_SUBCOMMANDS:
        try:
            importlib.import_module(name).register_tags(sub)
        except Exception as exc:  # one broken package must not take `spms tags` down
            log.warning("tags subcommands of %s are unavailable: %s", name, exc)


def cmd_export(args) -> int:
    """Write the site's tags to CSV (exit 1 when the site does not load)."""
    from ..site.csvio import write_tags_csv
    site = checked_site(args.site,
                        summary=lambda count: f"spms tags export: {args.site} has {count} error(s); nothing written")
    if site is None:
        return 1
    tags = site.tags
    if args.match:
        from ..errors import PatternError
        from ..patterns import compile_pattern

        try:
            matchers = [compile_pattern(p) for p in args.match]
        except PatternError as exc:
            print(f"spms tags export: {exc}", file=sys.stderr)
            return 2
        tags = [t for t in tags if any(m(t.path) for m in matchers)]
    if args.csv == "-":
        n = write_tags_csv(tags, sys.stdout)
    else:
        with open(args.csv, "w", encoding="utf-8" if args.no_bom else "utf-8-sig", newline="") as out:
            n = write_tags_csv(tags, out)
    skipped = sum(1 for t in tags if t.alarms)
    note = f" ({skipped} tags have alarm rules, which CSV does not carry)" if skipped else ""
    print(f"exported {n} tags to {args.csv}{note}", file=sys.stderr)
    return 0


def cmd_import(args) -> int:
    """Check the CSV against the site; write it and list it in tag_files only if every row is good."""
    from ..site.tagimport import import_tag_file

    errors, message = import_tag_file(args.csv, args.site)
    for e in errors:
        print(e)
    print(f"spms tags import: {message}", file=sys.stderr)
    return 1 if errors else 0
