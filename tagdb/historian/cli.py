"""``spms grafana export DIR`` and ``spms grafana push --url URL --token TOKEN``."""

from __future__ import annotations

import sys

from ..cli.helpers import checked_site, command_group

DEFAULT_SITE = "examples/demo"


def register(subparsers) -> None:
    """Add ``spms grafana`` with ``export`` and ``push``."""
    _, sub = command_group(subparsers, "grafana",
                           help="Grafana dashboards as code: export provisioning files or push them",
                           description="Generate Grafana dashboards from the site model (site overview, one "
                                       "per building, one per equipment class) over the historian's InfluxDB.",
                           dest="grafana_command")

    def common(p) -> None:
        p.add_argument("--site", metavar="SITE", default=DEFAULT_SITE,
                       help=f"site YAML file or folder (default: {DEFAULT_SITE})")
        p.add_argument("--influx-url", metavar="URL",
                       help="InfluxDB URL as Grafana reaches it (default: historian.grafana.datasource_url "
                            "or the influxdb sink's url)")
        p.add_argument("--database", metavar="NAME", help="InfluxDB database (default: the influxdb sink's)")

    exp = sub.add_parser("export", help="write provisioning files (datasource, dashboard provider, dashboards)",
                         description="Write DIR/datasources/spms.yaml, DIR/dashboards/spms.yaml and "
                                     "DIR/dashboards/spms/*.json; point Grafana's provisioning folder at DIR.")
    exp.add_argument("dir", metavar="DIR", help="output folder")
    exp.add_argument("--dashboards-path", metavar="PATH",
                     help="where Grafana will find the dashboard JSON (default: DIR/dashboards/spms, absolute)")
    common(exp)
    exp.set_defaults(func=cmd_export)

    push = sub.add_parser("push", help="create or update data source, folder and dashboards over the HTTP API",
                          description="Create or update the InfluxDB data source, the folder and every "
                                      "dashboard through Grafana's HTTP API (service account token).")
    push.add_argument("--url", required=True, metavar="URL", help="Grafana base URL, e.g. http://127.0.0.1:3000")
    push.add_argument("--token", required=True, metavar="TOKEN", help="Grafana service account token")
    common(push)
    push.set_defaults(func=cmd_push)


def cmd_export(args) -> int:
    """Write the provisioning tree; exit 1 on a bad site or missing InfluxDB settings."""
    from .errors import HistorianError
    from .grafana.provisioning import export

    site = checked_site(args.site)
    if site is None:
        return 1
    try:
        files = export(site, args.dir, url=args.influx_url, database=args.database,
                       dashboards_path=args.dashboards_path)
    except HistorianError as exc:
        print(f"spms grafana export: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {len(files)} files under {args.dir}")
    return 0


def cmd_push(args) -> int:
    """Push to Grafana on the reactor; exit 1 when Grafana refuses anything."""
    from twisted.internet import defer, task

    from .errors import HistorianError
    from .grafana.push import push

    site = checked_site(args.site)
    if site is None:
        return 1
    result: dict = {}

    async def run(reactor):
        try:
            result.update(await push(site, args.url, args.token, reactor, influx_url=args.influx_url,
                                     database=args.database))
        except HistorianError as exc:
            result["error"] = str(exc)

    try:
        task.react(lambda reactor: defer.ensureDeferred(run(reactor)))
    except SystemExit:
        pass  # react always exits; the outcome is in ``result``
    if "error" in result or "dashboards" not in result:
        print(f"spms grafana push: {result.get('error', 'failed (see the log)')}", file=sys.stderr)
        return 1
    print(f"folder {result['folder']}, datasource {result['datasource']}, "
          f"{len(result['dashboards'])} dashboards pushed")
    return 0
