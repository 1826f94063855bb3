"""``spms billing run|late-fees`` and ``spms finance statement|close-year|reopen-year|closings``.

They work on the site's business database directly (like ``spms users``) and,
for metered fees, read the meters from the site's historian query sink (the
embedded store in the data folder or InfluxDB). A running server needs no
restart: bills are plain rows, and a second run for the same period adds nothing.
"""

from __future__ import annotations

import json
import sys
from datetime import date, datetime, timezone
from pathlib import Path

from tagdb.cli.helpers import command_group

from ..cli_support import data_dir, open_site, print_error, site_args, with_site


def register(subparsers) -> None:
    """Add the ``billing`` and ``finance`` commands."""
    _, sub = command_group(subparsers, "billing", help="billing runs and late fees",
                           description="Bill every unit and parking space for a period, from the fee items of "
                                       "the site's finance section and the meter readings in the historian.",
                           dest="billing_command")
    run = sub.add_parser("run", help="preview or post the bills of a period (idempotent)",
                         description="Compute the bills of a period. With --preview nothing is written. Posting "
                                     "twice creates nothing new. Metered lines whose readings are missing, Bad, "
                                     "stale or decreasing (rollover) are held for review, never billed.")
    run.add_argument("--period", required=True, metavar="YYYY-MM")
    run.add_argument("--preview", action="store_true", help="show what would be billed, write nothing")
    run.add_argument("--json", action="store_true", help="print the summary as JSON")
    run.add_argument("--no-progress", action="store_true", help="no progress bar")
    site_args(run)
    run.set_defaults(func=cmd_run)
    late = sub.add_parser("late-fees", help="bring late fees up to date", description="Charge late fees on "
                          "overdue bills up to a date (default today), each as its own ledger lines.")
    late.add_argument("--as-of", metavar="YYYY-MM-DD")
    site_args(late)
    late.set_defaults(func=cmd_late_fees)

    _, fsub = command_group(subparsers, "finance", help="financial statements and year-end closing",
                            description="Financial statements and year-end closing.", dest="finance_command")
    st = fsub.add_parser("statement", help="print a statement (json, csv or html)",
                         description="trial_balance, balance_sheet, income_statement, cash_flow or ageing "
                                     "for a date range (balance sheet and ageing: at --to).")
    st.add_argument("kind", choices=("trial_balance", "balance_sheet", "income_statement", "cash_flow", "ageing"))
    st.add_argument("--from", dest="start", metavar="YYYY-MM-DD")
    st.add_argument("--to", dest="end", metavar="YYYY-MM-DD")
    st.add_argument("--format", choices=("json", "csv", "html"), default="json")
    site_args(st)
    st.set_defaults(func=cmd_statement)
    cl = fsub.add_parser("close-year", help="year-end closing of a finished fiscal year (idempotent)",
                         description="Close revenue and expenses of YEAR to 本年利润 (4103) and on to retained "
                                     "earnings (4104) with one entry dated 31 December, and lock the year: nothing "
                                     "dated in it can be posted afterwards. Closing a closed year changes nothing.")
    cl.add_argument("year", type=int, metavar="YEAR")
    cl.add_argument("--json", action="store_true", help="print the closing as JSON")
    site_args(cl)
    cl.set_defaults(func=cmd_close_year)
    ro = fsub.add_parser("reopen-year", help="reopen a closed fiscal year (reverses its closing; audited)",
                         description="Post the reversal of YEAR's closing entry and unlock the year. The latest "
                                     "closed year must be reopened first. The reason is kept in the audit log.")
    ro.add_argument("year", type=int, metavar="YEAR")
    ro.add_argument("--reason", required=True, help="why the year is reopened (required)")
    site_args(ro)
    ro.set_defaults(func=cmd_reopen_year)
    cs = fsub.add_parser("closings", help="closed years and the closing history",
                         description="Print the closed fiscal years, the lock date and every closing and reopening.")
    site_args(cs)
    cs.set_defaults(func=cmd_closings)


def _app(db, site):
    from .app import FinanceApp
    return FinanceApp.from_site(db, site, lambda: datetime.now(timezone.utc))


class Progress:
    """A one-line text progress bar on stderr (silent when not a terminal or disabled)."""

    def __init__(self, label: str, enabled: bool = True, out=None) -> None:
        self.out = out or sys.stderr
        self.label = label
        self.enabled = enabled

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        width = 30
        filled = int(width * done / total)
        self.out.write(f"\r{self.label} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
        if done >= total:
            self.out.write("\n")
        self.out.flush()


def read_meters(site, data_dir: Path, paths, start, end) -> dict:
    """Boundary readings from the site's historian query sink (missing when there is none)."""
    from twisted.internet import defer, task

    from .meters import read_boundaries
    section = site.section("historian")
    result: dict = {}
    if not section or not paths:
        return asyncio_run_missing(paths, start, end)

    async def run(reactor):
        from tagdb.historian.points import PointSchema
        from tagdb.historian.schema import default_query_sink
        from tagdb.historian.sinks import build_sink
        name = default_query_sink(section)
        sink = build_sink(name, section["sinks"][name], reactor=reactor, data_dir=data_dir, schema=PointSchema(site))
        try:
            result.update(await read_boundaries(sink, paths, start, end))
        finally:
            close = getattr(sink, "close", None) or getattr(sink, "stop", None)
            if close is not None:
                r = close()
                if hasattr(r, "addBoth") or hasattr(r, "__await__"):
                    await r

    try:
        task.react(lambda reactor: defer.ensureDeferred(run(reactor)))
    except SystemExit:
        pass
    return result or asyncio_run_missing(paths, start, end)


def asyncio_run_missing(paths, start, end) -> dict:
    """Every path as missing (no historian): the metered lines are held."""
    from .meters import Reading
    return {p: (Reading(p, None, None, "missing", False),) * 2 for p in paths}


@with_site
def cmd_run(args, db, site) -> int:
    """Preview or post a billing run."""
    from . import billing
    from ..errors import BusinessError
    app = _app(db, site)
    progress = Progress(f"billing {args.period}", enabled=not args.no_progress and not args.json)
    try:
        inp = db.call(app.gather, args.period)
        paths = billing.meter_paths(inp)
        readings = read_meters(site, data_dir(args, site), paths, inp.start, inp.end)
        plans, summary = app.compute(inp, readings, progress=progress)
        if not args.preview:
            run = db.call(billing.post_run, inp, plans, summary, datetime.now(timezone.utc), "cli",
                          Progress(f"posting {args.period}", enabled=progress.enabled))
            db.call(app.energy_costs, inp, summary)
            summary = dict(run.summary, run_id=run.id)
    except BusinessError as exc:     # FinanceError is one too
        print_error(exc, "spms billing run")
        return 1
    finally:
        db.stop()
    if args.json:
        print(json.dumps(summary, ensure_ascii=False, indent=2))
        return 0
    verb = "would bill" if args.preview else "billed"
    print(f"{args.period}: {verb} {summary['bills']} bill(s), {summary['lines']} line(s), total {summary['total']}"
          f"; {summary['skipped_already_billed']} already billed; {len(summary['held'])} line(s) held for review")
    for h in summary["held"][:20]:
        print(f"  held {h['subject']} {h['fee']}: {h['reason']}")
    for sh in summary["shared"]:
        print(f"  shared {sh['fee']}: " + ", ".join(f"{k} {v}" for k, v in sh.items() if k != "fee"))
    return 0


@with_site
def cmd_late_fees(args, db, site) -> int:
    """Charge late fees up to a date."""
    app = _app(db, site)
    as_of = date.fromisoformat(args.as_of) if args.as_of else None
    n = db.call(lambda s: app.late_fees(s, as_of, "cli"))
    db.stop()
    print(f"{n} late-fee line(s) added")
    return 0


@with_site
def cmd_statement(args, db, site) -> int:
    """Print a statement."""
    from . import statements
    from .export import to_csv, to_html
    app = _app(db, site)
    today = app.today()
    start = date.fromisoformat(args.start) if args.start else today.replace(day=1)
    end = date.fromisoformat(args.end) if args.end else today

    def q(s):
        pid = app.prepare(s)
        k = args.kind
        if k in ("balance_sheet", "ageing"):
            return getattr(statements, k)(s, end, pid)
        return getattr(statements, k)(s, start, end, pid)
    st = db.call(q)
    db.stop()
    if args.format == "csv":
        sys.stdout.write(to_csv(st))
    elif args.format == "html":
        sys.stdout.write(to_html(st))
    else:
        print(json.dumps(statements.public(st), ensure_ascii=False, indent=2))
    return 0


def _closing(args, work, label: str):
    """Run ``work(session, property_id, now)`` on the site's database; (result, exit code)."""
    from ..errors import BusinessError
    opened = open_site(args)
    if opened is None:
        return None, 1
    db, site = opened
    app = _app(db, site)
    now = datetime.now(timezone.utc)
    try:
        return db.call(lambda s: work(s, app.prepare(s), now)), 0
    except BusinessError as exc:
        print_error(exc, label)
        return None, 1
    finally:
        db.stop()


def cmd_close_year(args) -> int:
    """Close a fiscal year."""
    from .closing import close_year, closing_json

    def work(s, pid, now):
        result = close_year(s, pid, args.year, "cli", now)
        return dict(closing_json(result.row), created=result.created)
    out, rc = _closing(args, work, "spms finance close-year")
    if rc:
        return rc
    if args.json:
        print(json.dumps(out, ensure_ascii=False, indent=2))
    elif out["created"]:
        print(f"closed {args.year}: result {out['net']} to retained earnings "
              + (f"(entry {out['entry_id']})" if out["entry_id"] else "(no revenue or expense to close)"))
    else:
        print(f"{args.year} was closed already on {out['at']} (entry {out['entry_id']}); nothing posted")
    return 0


def cmd_reopen_year(args) -> int:
    """Reopen a closed fiscal year."""
    from .closing import closing_json, reopen_year
    out, rc = _closing(args, lambda s, pid, now: closing_json(reopen_year(s, pid, args.year, "cli", now,
                                                                          args.reason).row),
                       "spms finance reopen-year")
    if rc:
        return rc
    print(f"reopened {args.year} (reversal entry {out['entry_id']}): {out['reason']}")
    return 0


def cmd_closings(args) -> int:
    """Print the closed years and the closing history."""
    from .closing import status
    out, rc = _closing(args, lambda s, pid, now: status(s, pid), "spms finance closings")
    if rc:
        return rc
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0
