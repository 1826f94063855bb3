"""``spms alarms list`` (the alarms a site defines) and ``spms alarms notify-test`` (try a channel)."""

from __future__ import annotations

import json
import sys

from tagdb.cli.helpers import checked_site, command_group

DEFAULT_SITE = "examples/demo"


def register(subparsers) -> None:
    """Add ``spms alarms`` with ``list`` and ``notify-test``."""
    _, sub = command_group(subparsers, "alarms",
                           help="alarm configuration: list the alarms, test a notification channel",
                           description="Inspect the alarms a site defines and check notification channels "
                                       "before relying on them.",
                           dest="alarms_command")

    ls = sub.add_parser("list", help="every alarm the site defines (id, type, priority, owner, limit)",
                        description="Compile the site's alarm rules and print one line per alarm.")
    ls.add_argument("--site", metavar="SITE", default=DEFAULT_SITE,
                    help=f"site YAML file or folder (default: {DEFAULT_SITE})")
    ls.add_argument("--priority", metavar="P", help="only this priority")
    ls.add_argument("--match", metavar="GLOB", help="only alarm ids matching this glob (e.g. 'plant/**')")
    ls.add_argument("--json", action="store_true", help="print JSON instead of a table")
    ls.set_defaults(func=cmd_list)

    nt = sub.add_parser("notify-test", help="send a test message through a configured channel",
                        description="Send one message through a channel of alarms.channels (SMTP, SMS "
                                    "gateway or webhook) and report the result; nothing is queued.")
    nt.add_argument("channel", metavar="CHANNEL", help="channel name from alarms.channels")
    nt.add_argument("recipient", metavar="TO", help="e-mail address, phone number or URL")
    nt.add_argument("--site", metavar="SITE", default=DEFAULT_SITE,
                    help=f"site YAML file or folder (default: {DEFAULT_SITE})")
    nt.add_argument("--text", default="spms test notification", help="message text")
    nt.set_defaults(func=cmd_notify_test)


def alarm_rows(site, priority: str | None = None, match: str | None = None) -> list[dict]:
    """One dict per alarm the site defines, sorted by id."""
    from tagdb.patterns import compile_pattern

    from .rules import compile_site

    pred = compile_pattern(match) if match else None
    rows = []
    for d in sorted(compile_site(site).defs.values(), key=lambda d: d.id):
        if (priority and d.priority != priority) or (pred and not pred(d.id)):
            continue
        rows.append({"id": d.id, "type": d.rule_type, "priority": d.priority, "equipment": d.equipment,
                     "area": d.area, "limit": d.limit, "on_delay": d.on_delay, "latch": d.latch})
    return rows


def cmd_list(args) -> int:
    """Print the alarms; exit 1 on a bad site."""
    site = checked_site(args.site)
    if site is None:
        return 1
    rows = alarm_rows(site, args.priority, args.match)
    if args.json:
        print(json.dumps(rows, indent=2, default=str))
        return 0
    width = max((len(r["id"]) for r in rows), default=10)
    print(f"{'ALARM':<{width}}  {'TYPE':<10}  {'PRIORITY':<8}  {'LIMIT':>8}  OWNER")
    for r in rows:
        limit = "" if r["limit"] is None else str(r["limit"])
        owner = "/".join(x for x in (r["equipment"], r["area"]) if x)
        print(f"{r['id']:<{width}}  {r['type']:<10}  {r['priority']:<8}  {limit:>8}  {owner}")
    print(f"{len(rows)} alarm(s)")
    return 0


async def send_test(reactor, site, channel: str, recipient: str, text: str) -> str:
    """Send one message through ``channel``; the error text, or '' on success."""
    from .errors import NotificationError
    from .notify import Message, build_channels
    from .schema import section_defaults

    channels = build_channels(section_defaults(site.section("alarms"))["channels"], reactor)
    if channel not in channels:
        return f"no channel {channel!r} (configured: {', '.join(sorted(channels)) or 'none'})"
    try:
        await channels[channel].send(Message(channel, recipient, f"[spms] {text}", f"{text}\n\nsite: {site.name}",
                                             source="spms alarms notify-test"))
    except NotificationError as exc:
        return str(exc)
    return ""


def cmd_notify_test(args) -> int:
    """Send the test message with the reactor running; exit 1 when it fails."""
    from twisted.internet import defer, task

    site = checked_site(args.site)
    if site is None:
        return 1
    result: list[str] = []

    async def main(reactor):
        """Send and remember the outcome."""
        result.append(await send_test(reactor, site, args.channel, args.recipient, args.text))

    try:
        task.react(lambda r: defer.ensureDeferred(main(r)))
    except SystemExit as done:
        if done.code not in (0, None):
            return int(done.code)
    if result and result[0]:
        print(f"spms alarms notify-test: {result[0]}", file=sys.stderr)
        return 1
    print(f"sent to {args.recipient} via {args.channel}")
    return 0
