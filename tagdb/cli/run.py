"""``spms run SITE`` and ``spms demo``: run a site until Ctrl-C / SIGTERM."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .helpers import load_or_report

#: The bundled demo site: a folder of YAML files, one per package.
DEMO_SITE = Path(__file__).resolve().parents[2] / "examples" / "demo"
DEMO_DATA_DIR = Path("var") / "demo"


def register(subparsers) -> None:
    """Add the ``run`` and ``demo`` commands."""
    run = subparsers.add_parser(
        "run", help="run a site (YAML file or folder of YAML files)",
        description="Run a site: collectors, tag database, historian, alarms, control, HMI, business "
                    "and the REST API, until Ctrl-C or SIGTERM (a second signal forces exit).")
    run.add_argument("site", metavar="SITE", help="site YAML file, or a folder of YAML files merged into one site")
    _common(run, default_data="the site's data_dir, relative to the site file's folder")
    run.set_defaults(func=cmd_run)

    demo = subparsers.add_parser(
        "demo", help="run the bundled demo site (simulated equipment, embedded stores)",
        description=f"Run the demo site in {DEMO_SITE} with simulated equipment and embedded stores; "
                    "prints the REST API (and HMI) URLs.")
    _common(demo, default_data=f"./{DEMO_DATA_DIR}")
    demo.set_defaults(func=cmd_demo)


def _common(parser: argparse.ArgumentParser, default_data: str) -> None:
    parser.add_argument("--data-dir", metavar="DIR", help=f"folder for stores, audit and logs (default: {default_data})")
    parser.add_argument("--api-port", metavar="N", type=_port, help="REST API port (overrides server.api.port; 0 = any free port)")
    parser.add_argument("--stop-timeout", metavar="SECONDS", type=float, default=10.0,
                        help="time each component gets to stop before it is abandoned (default 10)")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not between 0 and 65535")
    return port


def _run(site, data_dir: Path, args) -> int:
    from ..server.errors import ComponentBuildError
    from ..server.runner import run_site

    try:
        return run_site(site, data_dir, api_port=args.api_port, stop_timeout=args.stop_timeout)
    except ComponentBuildError as exc:
        print(f"spms: {exc}", file=sys.stderr)
        return 1


def cmd_run(args) -> int:
    """``spms run``."""
    site_path = Path(args.site)
    site = load_or_report(site_path)
    if site is None:
        return 1
    if args.data_dir:
        data_dir = Path(args.data_dir)
    else:
        base = site_path if site_path.is_dir() else site_path.parent
        data_dir = base / site.data_dir
    return _run(site, data_dir, args)


def cmd_demo(args) -> int:
    """``spms demo``."""
    if not DEMO_SITE.is_dir():
        print(f"spms: the demo site {DEMO_SITE} is missing from this installation", file=sys.stderr)
        return 1
    site = load_or_report(DEMO_SITE)
    if site is None:
        return 1
    return _run(site, Path(args.data_dir) if args.data_dir else DEMO_DATA_DIR, args)
