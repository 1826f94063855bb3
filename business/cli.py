"""``spms users ...`` and ``spms import ...``: manage business users and import spreadsheets.

Both work directly on the site's business database (SQLite in the data folder
or the configured PostgreSQL), migrating it first; a running server picks up
new users and tokens within ``business.security.cache_refresh``.
"""

from __future__ import annotations

import getpass
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from tagdb.cli.helpers import command_group

from .cli_support import open_site, print_error, site_args, with_site


def register(subparsers) -> None:
    """Add the ``users`` and ``import`` commands."""
    _users, sub = command_group(subparsers, "users", help="business users: add, list, grant, issue API tokens",
                                description="Manage the users of the business database (one identity for "
                                            "the SCADA and the business side).", dest="users_command")
    add = sub.add_parser("add", help="create a user", description="Create a user. The password is read from "
                         "the terminal (or stdin with --password-stdin), never from the command line.")
    add.add_argument("username")
    add.add_argument("--grant", action="append", default=[], metavar="ROLE@SCOPE",
                     help="role and scope, e.g. manager@building:tower-a or admin@* (repeatable)")
    add.add_argument("--display-name", default="")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    site_args(add)
    add.set_defaults(func=cmd_users_add)
    lst = sub.add_parser("list", help="list users and their grants", description="List users and grants.")
    site_args(lst)
    lst.set_defaults(func=cmd_users_list)
    tok = sub.add_parser("token", help="issue an API token for a machine client (printed once)",
                         description="Issue an API token; only its digest is stored, so it is shown once.")
    tok.add_argument("username")
    tok.add_argument("--name", required=True, help="what the token is for")
    tok.add_argument("--days", type=float, default=None,
                     help="lifetime in days (default: business.security.token_lifetime, 90 days)")
    tok.add_argument("--no-expiry", action="store_true", help="issue a token that never expires")
    site_args(tok)
    tok.set_defaults(func=cmd_users_token)

    imp = subparsers.add_parser("import", help="import units, owners or staff from CSV",
                                description="Import a spreadsheet (CSV, UTF-8, header line). Every row is "
                                            "checked; if any row is bad nothing is written and every error is "
                                            "printed as FILE:LINE: COLUMN: MESSAGE. Re-importing the same file "
                                            "changes nothing.")
    imp.add_argument("kind", choices=("units", "owners", "staff"))
    imp.add_argument("csv", metavar="FILE.csv")
    imp.add_argument("--dry-run", action="store_true", help="check and report, write nothing")
    imp.add_argument("--property", metavar="CODE", help="property code (needed when there are several)")
    site_args(imp)
    imp.set_defaults(func=cmd_import)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def cmd_users_add(args) -> int:
    """``spms users add``."""
    from .errors import BusinessError
    from .identity import create_user, make_hasher

    grants = []
    for g in args.grant:
        role, sep, scope = g.partition("@")
        if not sep:
            print(f"spms: --grant {g!r}: expected ROLE@SCOPE", file=sys.stderr)
            return 2
        grants.append((role, scope))
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass("Password: ")
    opened = open_site(args)
    if opened is None:
        return 1
    db, _ = opened
    try:
        db.call(lambda s: create_user(s, make_hasher(), username=args.username, password=password, actor="cli",
                                      now=_now(), display_name=args.display_name, grants=grants))
    except BusinessError as exc:
        print_error(exc, fields=True)
        return 1
    print(f"user {args.username} created")
    return 0


@with_site
def cmd_users_list(args, db, site) -> int:
    """``spms users list``."""
    from sqlalchemy import select

    from .identity import grants_for
    from .models import User

    rows = db.call(lambda s: [(u.username, u.active, grants_for(s, u.id))
                              for u in s.scalars(select(User).order_by(User.username))])
    for name, active, grants in rows:
        print(f"{name:<20} {'active' if active else 'disabled':<9} {', '.join(f'{r}@{sc}' for r, sc in grants)}")
    return 0


@with_site
def cmd_users_token(args, db, site) -> int:
    """``spms users token``."""
    from sqlalchemy import select

    from .errors import BusinessError
    from .identity import new_api_token
    from .models import User

    security = (site.section("business") or {}).get("security") or {}
    lifetime = None if args.no_expiry else (args.days * 86400 if args.days else
                                            security.get("token_lifetime") or 90 * 86400.0)

    def work(s):
        uid = s.scalar(select(User.id).where(User.username == args.username))
        if uid is None:
            return None
        return new_api_token(s, uid, args.name, _now(), lifetime, "cli")[0]
    try:
        token = db.call(work)
    except BusinessError as exc:
        print_error(exc)
        return 1
    if token is None:
        print(f"spms: no user {args.username!r}", file=sys.stderr)
        return 1
    print(token)
    return 0


def cmd_import(args) -> int:
    """``spms import KIND FILE.csv``: exit 0 when imported (or the dry run is clean), 1 on errors."""
    from .crud import Crud
    from .errors import BusinessError
    from .importer import run_import
    from .permissions import principal_for
    from .specs import SPECS

    try:
        text = Path(args.csv).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"spms: {args.csv}: {exc}", file=sys.stderr)
        return 1
    opened = open_site(args)
    if opened is None:
        return 1
    db, _ = opened
    cli = principal_for("cli", [("admin", "*")])
    try:
        report = run_import(db, Crud(SPECS, _now), cli, args.kind, text, args.dry_run, args.property)
    except BusinessError as exc:
        print_error(exc)
        return 1
    for e in report["errors"]:
        print(f"{args.csv}:{e['row']}: {e['field'] or '-'}: {e['message']}", file=sys.stderr)
    summary = {k: report[k] for k in ("rows", "created", "updated", "unchanged")}
    verdict = "dry run, nothing written" if args.dry_run else ("written" if report["written"] else "NOTHING written")
    print(f"{args.kind}: {json.dumps(summary)} ({verdict}; {len(report['errors'])} error(s))")
    return 1 if report["errors"] else 0
