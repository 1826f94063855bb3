"""``spms tags browse``: browse an OPC UA server and print tag configuration to paste into a site."""

from __future__ import annotations

import asyncio
import re
import sys
from urllib.parse import urlsplit


def register_tags(subparsers) -> None:
    """Add ``browse`` to the ``spms tags`` subcommands."""
    p = subparsers.add_parser(
        "browse", help="browse an OPC UA server and print tag configuration (YAML or CSV)",
        description="Connect to an OPC UA server, walk the address space below --root (default: Objects, "
                    "standard namespace left out) and print a device and one tag per scalar variable, "
                    "addressed by namespace URI, ready to paste into a site (YAML) or to import (CSV).")
    p.add_argument("endpoint", metavar="opc.tcp://HOST:PORT[/PATH]", help="server endpoint URL")
    p.add_argument("--root", metavar="NODE", help="start node: nsu=URI;s=ID, i=N or a browse path /Objects/...")
    p.add_argument("--format", choices=("yaml", "csv"), default="yaml", help="output format (default yaml)")
    p.add_argument("--device", metavar="NAME", help="device name to use (default: from the host and port)")
    p.add_argument("--prefix", metavar="PATH", help="tag path prefix (default: the device name)")
    p.add_argument("--output", "-o", metavar="FILE", default="-", help="write to FILE instead of stdout")
    p.add_argument("--username", help="login user (default anonymous)")
    p.add_argument("--password", default="", help="login password")
    p.add_argument("--security-mode", choices=("None", "Sign", "SignAndEncrypt"), default="None",
                   help="message security with Basic256Sha256 (default None)")
    p.add_argument("--data-dir", default="var", help="where the client certificate is kept (default var)")
    p.add_argument("--max-depth", type=int, default=12, help="browse depth limit (default 12)")
    p.set_defaults(func=cmd_browse)


def default_device(endpoint: str) -> str:
    """A device name from an endpoint: ``opc.tcp://10.0.0.5:4840`` → ``opcua-10-0-0-5-4840``."""
    parts = urlsplit(endpoint)
    raw = f"opcua-{parts.hostname or 'server'}-{parts.port or 4840}"
    return re.sub(r"[^a-z0-9-]+", "-", raw.lower()).strip("-")


async def browse_to_text(args) -> tuple[str, int]:
    """Run the browse and render it; returns (text, number of tags)."""
    from pathlib import Path

    from tagdb.site.csvio import write_tags_csv

    from .opcua.browse import browse, to_tagspecs, to_yaml
    from .opcua.session import open_client

    options = {"security_mode": args.security_mode}
    if args.username:
        options.update(username=args.username, password=args.password)
    client = await open_client(args.endpoint, options, 10.0, Path(args.data_dir))
    try:
        device = args.device or default_device(args.endpoint)
        prefix = args.prefix if args.prefix is not None else device
        tags = await browse(client, args.root, prefix=prefix, max_depth=args.max_depth)
    finally:
        await client.disconnect()
    uris = {t.address.split(";", 1)[0][4:] for t in tags if t.address.startswith("nsu=")}
    if args.format == "yaml":
        return to_yaml(tags, device, args.endpoint, uris.pop() if len(uris) == 1 else None), len(tags)
    import io

    buf = io.StringIO()
    write_tags_csv(to_tagspecs(tags, device), buf)
    return buf.getvalue(), len(tags)


def cmd_browse(args) -> int:
    """``spms tags browse``: exit 0 with the configuration printed, 1 when the server cannot be browsed."""
    loop = asyncio.get_event_loop()
    try:
        text, count = loop.run_until_complete(browse_to_text(args))
    except Exception as exc:  # a CLI reports, it does not dump a traceback at operators
        print(f"spms tags browse: {args.endpoint}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if args.output == "-":
        sys.stdout.write(text)
    else:
        with open(args.output, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    print(f"spms tags browse: {count} tag(s) from {args.endpoint}", file=sys.stderr)
    return 0


def register(subparsers) -> None:
    """Add ``spms simulate``: run only a site's simulated equipment."""
    p = subparsers.add_parser(
        "simulate", help="run a site's simulated equipment only (Modbus/OPC UA servers on loopback)",
        description="Start the simulators of a site's `simulators:` section and nothing else, so that "
                    "another SCADA client (or `spms tags browse`) can talk to them. Ctrl-C stops.")
    p.add_argument("site", metavar="SITE", nargs="?", default=None,
                   help="site YAML file or folder (default: the bundled demo)")
    p.add_argument("--port-offset", type=int, metavar="N",
                   help="add N to every simulated port (overrides simulators.port_offset)")
    p.add_argument("--data-dir", default=None,
                   help="where simulator certificates are kept (default: ./var/simulate)")
    p.set_defaults(func=cmd_simulate)


def describe(hub) -> list[str]:
    """One line per simulator server: kind, endpoint, what it serves."""
    lines = []
    for name, server in hub.modbus_servers.items():
        units = sorted(server.units)
        shown = f"{units[0]}-{units[-1]}" if units == list(range(units[0], units[-1] + 1)) and len(units) > 2 \
            else ", ".join(map(str, units))
        lines.append(f"modbus  tcp://{server.host}:{server.port}  {name}: unit ids {shown}")
    for device, bank in hub.elevator_banks.items():
        lines.append(f"opcua   {bank.server.endpoint}  {device}: cars {', '.join(bank.cars)}")
    return lines


def cmd_simulate(args) -> int:
    """``spms simulate``: exit 0 after Ctrl-C/SIGTERM, 1 when the site or a server cannot start."""
    from pathlib import Path

    from twisted.internet import reactor

    from tagdb.cli.helpers import load_or_report
    from tagdb.cli.run import DEMO_SITE

    from .sim.demo import with_port_offset
    from .sim.hub import SimulatorHub
    from .simulators_service import SimulatorsService

    site = load_or_report(args.site or DEMO_SITE)
    if site is None:
        return 1
    if not site.section("simulators"):
        print(f"spms simulate: {args.site or DEMO_SITE} has no simulators: section", file=sys.stderr)
        return 1
    if args.port_offset is not None:
        import os

        from .endpoints import PORT_OFFSET_ENV

        os.environ.pop(PORT_OFFSET_ENV, None)
        site = with_port_offset(site, args.port_offset)
    from tagdb.server.signals import ShutdownSignals

    service = SimulatorsService(SimulatorHub(site, reactor, Path(args.data_dir or Path("var") / "simulate")))
    status = {"code": 0}

    def shutdown() -> None:
        d = service.stopService() if service.running else None
        if d is None:
            reactor.stop()
        else:
            d.addBoth(lambda _: reactor.stop() if reactor.running else None)

    signals = ShutdownSignals(shutdown, reactor.callFromThread, grace=15.0)

    def started(_):
        for line in describe(service.hub):
            print(f"spms simulate: {line}")
        print("spms simulate: press Ctrl-C to stop", flush=True)

    def failed(f):
        print(f"spms simulate: cannot start: {f.getErrorMessage()}", file=sys.stderr)
        status["code"] = 1
        reactor.stop()

    def start():
        signals.install()      # after the reactor installed its own handlers
        service.startService().addCallbacks(started, failed)

    reactor.callWhenRunning(reactor.callLater, 0, start)
    try:
        reactor.run()
    finally:
        signals.uninstall()
    return status["code"]
