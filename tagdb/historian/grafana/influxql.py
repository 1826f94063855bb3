"""A raw InfluxQL query type and InfluxDB annotation for grafana-foundation-sdk.

The SDK has builders for dashboards and panels but none for InfluxDB queries;
these small builders produce exactly the JSON Grafana's InfluxDB data source
stores for a raw-mode InfluxQL query (``rawQuery: true``) and for an InfluxQL
annotation (``query`` plus text/tags columns).
"""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models.dashboard import DataSourceRef

INFLUX_TYPE = "influxdb"


class InfluxQLTarget(cogvariants.Dataquery):
    """One raw InfluxQL target of a panel."""

    def __init__(self, query: str, ref_id: str = "A", alias: str = "", datasource: DataSourceRef | None = None,
                 result_format: str = "time_series") -> None:
        self.query = query
        self.ref_id = ref_id
        self.alias = alias
        self.datasource = datasource
        self.result_format = result_format

    def to_json(self) -> dict[str, Any]:
        """The target JSON Grafana's InfluxDB data source expects."""
        out: dict[str, Any] = {"refId": self.ref_id, "query": self.query, "rawQuery": True,
                               "resultFormat": self.result_format}
        if self.alias:
            out["alias"] = self.alias
        if self.datasource is not None:
            out["datasource"] = self.datasource
        return out


class InfluxQLQuery(cogbuilder.Builder[InfluxQLTarget]):
    """Builder for :class:`InfluxQLTarget` (``.with_target(InfluxQLQuery(q).ref_id("A"))``)."""

    def __init__(self, query: str) -> None:
        self._internal = InfluxQLTarget(query)

    def build(self) -> InfluxQLTarget:
        """The target."""
        return self._internal

    def ref_id(self, ref_id: str) -> "InfluxQLQuery":
        """The target's refId."""
        self._internal.ref_id = ref_id
        return self

    def alias(self, alias: str) -> "InfluxQLQuery":
        """Legend alias, e.g. ``$tag_equipment``."""
        self._internal.alias = alias
        return self

    def datasource(self, ref: DataSourceRef) -> "InfluxQLQuery":
        """The data source of this target."""
        self._internal.datasource = ref
        return self

    def result_format(self, fmt: str) -> "InfluxQLQuery":
        """``time_series`` or ``table``."""
        self._internal.result_format = fmt
        return self


class InfluxAnnotation:
    """An InfluxQL annotation: ``query`` selects events; text and tags come from columns."""

    def __init__(self, name: str, query: str, datasource: DataSourceRef, icon_color: str = "red",
                 text_column: str = "message", tags_column: str = "state,path", enable: bool = True) -> None:
        self.name = name
        self.query = query
        self.datasource = datasource
        self.icon_color = icon_color
        self.text_column = text_column
        self.tags_column = tags_column
        self.enable = enable

    def to_json(self) -> dict[str, Any]:
        """Annotation JSON (the InfluxDB data source's InfluxQL annotation fields)."""
        return {"name": self.name, "datasource": self.datasource, "enable": self.enable, "hide": False,
                "iconColor": self.icon_color, "query": self.query, "textColumn": self.text_column,
                "tagsColumn": self.tags_column, "target": {"query": self.query, "rawQuery": True,
                                                           "refId": "Anno"}}


class InfluxAnnotationBuilder(cogbuilder.Builder[InfluxAnnotation]):
    """Builder wrapper so ``Dashboard.annotation(...)`` accepts an :class:`InfluxAnnotation`."""

    def __init__(self, annotation: InfluxAnnotation) -> None:
        self._internal = annotation

    def build(self) -> InfluxAnnotation:
        """The annotation."""
        return self._internal
