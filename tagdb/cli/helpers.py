"""What many ``spms`` commands share: loading a site and reporting its errors, subcommand groups.

Every command that reads a site prints each configuration error as
``file:line: field: message`` and exits 1; keeping that here means the commands
cannot drift apart in how they report a bad site.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, TextIO


def checked_site(path: str | Path, *, out: TextIO | None = None,
                 summary: Callable[[int], str] | None = None):
    """The validated site, or None after printing every error of ``path``.

    Errors go one a line to ``out`` (stderr unless given: ``spms check`` prints
    them on stdout because they are its output); ``summary(count)``, when given,
    is printed to stderr after them.
    """
    from ..site.loader import check_site

    site, errors = check_site(path)
    if not errors:
        return site
    stream = sys.stderr if out is None else out
    for error in errors:
        print(error, file=stream)
    if summary is not None:
        print(summary(len(errors)), file=sys.stderr)
    return None


def load_or_report(path: str | Path):
    """The loaded site, or None after printing every error as ``file:line: field: message``."""
    from ..site.errors import SiteConfigError
    from ..site.loader import load_site

    try:
        return load_site(path)
    except SiteConfigError as exc:
        for error in exc.errors:
            print(str(error), file=sys.stderr)
        print(f"spms: {path}: {len(exc.errors)} configuration error(s)", file=sys.stderr)
        return None
    except OSError as exc:
        print(f"spms: {path}: {exc.strerror or exc}", file=sys.stderr)
        return None


def command_group(subparsers, name: str, *, help: str, description: str, dest: str):
    """Add ``spms NAME`` with subcommands; return (its parser, its subparsers).

    ``spms NAME`` alone prints the group's help and exits 2, like a usage error.
    """
    parser = subparsers.add_parser(name, help=help, description=description)
    sub = parser.add_subparsers(dest=dest, metavar="SUBCOMMAND", title="subcommands")

    def usage(_args) -> int:
        parser.print_help()
        return 2
    parser.set_defaults(func=usage)
    return parser, sub
