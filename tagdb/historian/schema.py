"""The ``historian:`` site section.

    historian:
      sinks:                         # any number; each gets its own cursor in the buffer
        local: {type: embedded, retention: {raw: 30d, minute: 400d, hour: 3650d}}
        influx: {type: influxdb, url: http://127.0.0.1:8086, database: spms, precision: u, gzip: true}
        cloud: {type: influxdb2, url: https://..., token: ..., org: ..., bucket: ...}
      query_sink: local              # which sink answers history queries (embedded or influxdb)
      include: ["**"]                # tag patterns to historize (tags with history: false never are)
      exclude: []
      buffer: {max_points: 10000000, max_age: 7d, batch_size: 5000, sync: normal}
      backfill: {max_rate: 50000}    # points/s for backlog after an outage
      retry: {min: 0.5s, max: 30s}
      api: {max_range: 400d, max_raw_range: 31d, max_points: 200000}
      grafana: {datasource_url: http://influxdb:8086, datasource_name: spms-influxdb, folder: SPMS}
"""

from __future__ import annotations

from ..errors import PatternError
from ..patterns import compile_pattern
from ..site.errors import ConfigError
from ..site.schema import Bool, Duration, Field, Int, ListOf, MapOf, Number, Obj, Str

URL = Str(pattern=r"https?://[^\s/]+(/\S*)?", hint="an http:// or https:// URL")

RETENTION = Obj({
    "raw": Field(Duration(min=3600), default=30 * 86400.0),
    "minute": Field(Duration(min=3600), default=400 * 86400.0),
    "hour": Field(Duration(min=3600), default=3660 * 86400.0),
})

_NEEDS = {"embedded": (), "influxdb": ("url", "database"), "influxdb2": ("url", "token", "org", "bucket")}
_ONLY = {"embedded": {"file", "retention"},
         "influxdb": {"url", "database", "username", "password", "token", "retention_policy", "precision",
                      "gzip", "timeout", "create_database"},
         "influxdb2": {"url", "token", "org", "bucket", "precision", "gzip", "timeout"}}


def _check_sink(clean: dict, field: str, raw) -> list[ConfigError]:
    loc = raw.loc if raw is not None and hasattr(raw, "loc") else None
    kind = clean["type"]
    errors = []
    for key in _NEEDS[kind]:
        if not clean.get(key):
            errors.append(ConfigError(_loc_of(raw, loc, key), f"{field}.{key}", f"is required for type {kind}"))
    for key in raw or ():
        if key != "type" and key not in _ONLY[kind]:
            errors.append(ConfigError(_loc_of(raw, loc, key), f"{field}.{key}", f"does not apply to type {kind}"))
    return errors


def _loc_of(raw, loc, key):
    from ..site.errors import Loc
    if raw is not None and hasattr(raw, "loc_of") and key in raw:
        return raw.loc_of(key)
    return loc or Loc("<historian>")


SINK = Obj({
    "type": Field(Str(choices=("embedded", "influxdb", "influxdb2")), required=True),
    "file": Field(Str(pattern=r"[A-Za-z0-9_.\-]+", hint="a file name in the data folder"),
                  default="history.sqlite"),
    "retention": Field(RETENTION, default={"raw": 30 * 86400.0, "minute": 400 * 86400.0, "hour": 3660 * 86400.0}),
    "url": Field(URL),
    "database": Field(Str(min_len=1)),
    "username": Field(Str(min_len=1)),
    "password": Field(Str()),
    "token": Field(Str(min_len=1)),
    "org": Field(Str(min_len=1)),
    "bucket": Field(Str(min_len=1)),
    "retention_policy": Field(Str(min_len=1)),
    "precision": Field(Str(choices=("ns", "u", "ms", "s")), default="u"),
    "gzip": Field(Bool(), default=True),
    "timeout": Field(Duration(min=0.1), default=10.0),
    "create_database": Field(Bool(), default=True),
}, check_fn=_check_sink)

BUFFER_DEFAULTS = {"max_points": 10_000_000, "max_age": 7 * 86400.0, "batch_size": 5000, "sync": "normal",
                   "file": "historian-buffer.sqlite"}
BUFFER = Obj({
    "max_points": Field(Int(min=1000), default=BUFFER_DEFAULTS["max_points"]),
    "max_age": Field(Duration(min=60), default=BUFFER_DEFAULTS["max_age"]),
    "batch_size": Field(Int(min=10, max=100_000), default=5000),
    "sync": Field(Str(choices=("normal", "full")), default="normal"),
    "file": Field(Str(pattern=r"[A-Za-z0-9_.\-]+", hint="a file name in the data folder"),
                  default=BUFFER_DEFAULTS["file"]),
})
API_DEFAULTS = {"max_range": 400 * 86400.0, "max_raw_range": 31 * 86400.0, "max_points": 200_000}
API = Obj({
    "max_range": Field(Duration(min=60), default=API_DEFAULTS["max_range"]),
    "max_raw_range": Field(Duration(min=60), default=API_DEFAULTS["max_raw_range"]),
    "max_points": Field(Int(min=100), default=API_DEFAULTS["max_points"]),
})
GRAFANA_DEFAULTS = {"datasource_url": None, "datasource_name": "spms-influxdb", "folder": "SPMS"}
GRAFANA = Obj({
    "datasource_url": Field(URL),
    "datasource_name": Field(Str(min_len=1), default="spms-influxdb"),
    "folder": Field(Str(min_len=1), default="SPMS"),
})

DEFAULT_SINKS = {"embedded": {"type": "embedded", "file": "history.sqlite",
                              "retention": {"raw": 30 * 86400.0, "minute": 400 * 86400.0, "hour": 3660 * 86400.0}}}


def _check_section(clean: dict, field: str, raw) -> list[ConfigError]:
    from ..site.errors import Loc
    errors = []
    loc = (lambda k: raw.loc_of(k)) if raw is not None and hasattr(raw, "loc_of") else (lambda k: Loc("<historian>"))
    sinks = clean["sinks"]
    q = clean.get("query_sink")
    if q is not None:
        if q not in sinks:
            errors.append(ConfigError(loc("query_sink"), f"{field}.query_sink",
                                      f"names no sink (sinks: {', '.join(sorted(sinks)) or 'none'})"))
        elif sinks[q]["type"] == "influxdb2":
            errors.append(ConfigError(loc("query_sink"), f"{field}.query_sink",
                                      "an influxdb2 sink cannot answer queries: use an embedded or influxdb sink "
                                      "(InfluxDB 2.x/3.x serve InfluxQL through their 1.x compatibility API)"))
    for key in ("include", "exclude"):
        for i, pattern in enumerate(clean[key]):
            try:
                compile_pattern(pattern)
            except PatternError as exc:
                errors.append(ConfigError(loc(key), f"{field}.{key}[{i}]", str(exc)))
    return errors


SECTION = Obj({
    "sinks": Field(MapOf(SINK, key_pattern=r"[A-Za-z0-9_][A-Za-z0-9_\-]*", key_hint="letters, digits, '_', '-'"),
                   default=DEFAULT_SINKS),
    "query_sink": Field(Str(min_len=1)),
    "include": Field(ListOf(Str(min_len=1)), default=["**"]),
    "exclude": Field(ListOf(Str(min_len=1)), default=[]),
    "buffer": Field(BUFFER, default=BUFFER_DEFAULTS),
    "backfill": Field(Obj({"max_rate": Field(Number(min=1), default=50_000.0)}), default={"max_rate": 50_000.0}),
    "retry": Field(Obj({"min": Field(Duration(min=0.01), default=0.5), "max": Field(Duration(min=0.1), default=30.0)}),
                   default={"min": 0.5, "max": 30.0}),
    "api": Field(API, default=API_DEFAULTS),
    "grafana": Field(GRAFANA, default=GRAFANA_DEFAULTS),
}, check_fn=_check_section)


def default_query_sink(section: dict) -> str | None:
    """The sink answering queries: ``query_sink`` or the first embedded, else the first influxdb sink."""
    if section.get("query_sink"):
        return section["query_sink"]
    sinks = section["sinks"]
    for kind in ("embedded", "influxdb"):
        for name, conf in sinks.items():
            if conf["type"] == kind:
                return name
    return None
