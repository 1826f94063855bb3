"""Historian sinks: the embedded SQLite store, InfluxDB through its 1.x API, InfluxDB 2.x/3.x native."""

from __future__ import annotations

from typing import Any

from ..points import PointSchema


def build_sink(name: str, conf: dict, *, reactor: Any, data_dir, schema: PointSchema):
    """Build the sink described by one validated ``historian.sinks.<name>`` entry."""
    kind = conf["type"]
    if kind == "embedded":
        from .embedded import EmbeddedSink
        return EmbeddedSink(name, data_dir / conf.get("file", "history.sqlite"), reactor=reactor,
                            retention=conf.get("retention") or {})
    if kind == "influxdb":
        from .influx_v1 import InfluxV1Sink
        return InfluxV1Sink(name, conf["url"], conf["database"], reactor=reactor, schema=schema,
                            precision=conf["precision"], gzip=conf["gzip"], timeout=conf["timeout"],
                            username=conf.get("username"), password=conf.get("password"),
                            token=conf.get("token"), retention_policy=conf.get("retention_policy"),
                            create_database=conf["create_database"])
    if kind == "influxdb2":
        from .influx_v2 import InfluxV2Sink
        return InfluxV2Sink(name, conf["url"], conf["token"], conf["org"], conf["bucket"], reactor=reactor,
                            schema=schema, precision=conf["precision"], gzip=conf["gzip"],
                            timeout=conf["timeout"])
    raise ValueError(f"unknown historian sink type {kind!r}")
