"""Trends: pick tags, a time range, several pens, pan/zoom (Bokeh), live tail, CSV export.

History comes from the historian's query API (``ctx.provides["history"]``):
raw values for short ranges, per-interval means for long ones (about 600
points per pen), Bad values left out as gaps. With *live tail* on, the pens
follow the live values the session receives (the same batched subscription
as every page) and the window slides.
"""

from __future__ import annotations

import io
import logging
import math
from datetime import datetime, timedelta, timezone
from html import escape
from typing import Any, Iterable

import panel as pn
from bokeh.models import ColumnDataSource
from bokeh.palettes import Category10_10
from bokeh.plotting import figure

from .aio import run
from .i18n import tr
from .live import Block, Values

log = logging.getLogger(__name__)

RANGES = {"15 min": 900, "1 h": 3600, "8 h": 8 * 3600, "24 h": 86400, "7 d": 7 * 86400}
RAW_LIMIT_S = 2 * 3600
TARGET_POINTS = 600


def trend_candidates(site: Any) -> list[str]:
    """Numeric, historized tags (what can be trended), in site order."""
    return [t.path for t in site.tags if t.is_numeric and t.history and not t.path.startswith("_system/")]


def _num(value: Any) -> float:
    if value is None or isinstance(value, str):
        return math.nan
    return float(value)


async def load(history: Any, paths: list[str], start: datetime, end: datetime) -> dict[str, tuple[list, list]]:
    """(timestamps, values) per tag over [start, end): raw or interval means, Bad values as NaN gaps."""
    out: dict[str, tuple[list, list]] = {}
    if (end - start).total_seconds() <= RAW_LIMIT_S:
        data = await run(history.raw(paths, start, end))
        for p in paths:
            pts = data.get(p, [])
            out[p] = ([pt.ts for pt in pts], [math.nan if pt.quality.is_bad else _num(pt.value) for pt in pts])
    else:
        interval = max((end - start).total_seconds() / TARGET_POINTS, 1.0)
        data = await run(history.aggregate(paths, start, end, interval, ("mean",)))
        for p in paths:
            buckets = data.get(p, [])
            out[p] = ([b.start for b in buckets], [_num(b.mean) for b in buckets])
    return out


def to_csv(series: dict[str, tuple[list, list]]) -> str:
    """Long-format CSV (timestamp, tag, value) of what the trend shows."""
    buf = io.StringIO()
    buf.write("timestamp,tag,value\n")
    for path, (ts, vs) in series.items():
        for t, v in zip(ts, vs):
            stamp = t.isoformat() if isinstance(t, datetime) else str(t)
            buf.write(f"{stamp},{path},{'' if isinstance(v, float) and math.isnan(v) else v}\n")
    return buf.getvalue()


class TrendPage:
    """One trend display of a session."""

    def __init__(self, site: Any, history: Any, clock: Any, initial: Iterable[str] = (), lang: str = "en") -> None:
        self.history = history
        self.clock = clock
        self.lang = lang
        t = self.t
        options = trend_candidates(site)
        picked = [p for p in initial if p in options][:6]
        self.picker = pn.widgets.MultiChoice(label=t("tr.tags"), options=options, value=picked,
                                             max_items=8, sizing_mode="stretch_width", search_option_limit=30)
        self.range = pn.widgets.Select(label=t("tr.range"), options={t(f"dur.{k}"): k for k in RANGES}, value="1 h",
                                       width=100)
        self.end = pn.widgets.DatetimePicker(label=t("tr.end"), value=None, width=220)
        self.live = pn.widgets.Checkbox(label=t("tr.live"), value=True, align="end")
        self.show_btn = pn.widgets.Button(label=t("tr.show"), color="primary", width=90, align="end")
        self.status = pn.pane.HTML("", sizing_mode="stretch_width")
        self.sources: dict[str, ColumnDataSource] = {}
        self.series: dict[str, tuple[list, list]] = {}
        self.fig = figure(x_axis_type="datetime", height=380, sizing_mode="stretch_width",
                          tools="xpan,xwheel_zoom,box_zoom,reset,save", active_scroll="xwheel_zoom",
                          background_fill_color="#e8e8e8", border_fill_color="#dcdcdc")
        self.fig.grid.grid_line_color = "#c8c8c8"
        self.plot = pn.pane.Bokeh(self.fig, sizing_mode="stretch_width")
        self.download = pn.widgets.FileDownload(callback=self._csv, filename="trend.csv", label=t("tr.export"),
                                                width=120, align="end")
        self.show_btn.on_click(self._show)
        self.block = _Tail(self)
        self.relive = None   # set by the session: re-subscribe after the pens changed

    def t(self, key: str, **fields) -> str:
        """The text of ``key`` in the session's language."""
        return tr(self.lang, key, **fields)

    def layout(self) -> pn.Column:
        """The page."""
        if self.history is None:
            t = self.t
            return pn.Column(pn.pane.HTML(f"<b>{t('tr.no_historian')}</b>{t('colon')}{t('tr.no_historian_why')}"))
        return pn.Column(self.picker, pn.Row(self.range, self.end, self.live, self.show_btn, self.download),
                         self.status, self.plot, sizing_mode="stretch_width")

    def _window(self) -> tuple[datetime, datetime]:
        end = self.end.value
        if end is None:
            end = datetime.fromtimestamp(self.clock.seconds(), timezone.utc)
        elif end.tzinfo is None:
            end = end.replace(tzinfo=timezone.utc)
        return end - timedelta(seconds=RANGES[self.range.value]), end

    async def _show(self, _event=None) -> None:
        await self.show()

    async def show(self) -> int:
        """Query the historian for the picked tags and draw the pens; returns the number of points."""
        paths = list(self.picker.value)
        if not paths:
            self.status.object = f"<i>{self.t('tr.pick')}</i>"
            return 0
        start, end = self._window()
        self.status.object = f"<i>{self.t('tr.loading')}</i>"
        try:
            self.series = await load(self.history, paths, start, end)
        except Exception as exc:  # QueryError / QueryUnavailable: shown to the operator
            log.info("trend query failed: %s", exc)
            self.status.object = f'<span class="abn">{escape(self.t("tr.failed", error=exc))}</span>'
            return 0
        fig = figure(x_axis_type="datetime", height=380, sizing_mode="stretch_width",
                     tools="xpan,xwheel_zoom,box_zoom,reset,save", active_scroll="xwheel_zoom",
                     background_fill_color="#e8e8e8", border_fill_color="#dcdcdc")
        fig.grid.grid_line_color = "#c8c8c8"
        self.sources = {}
        total = 0
        for i, p in enumerate(paths):
            ts, vs = self.series[p]
            total += len(ts)
            # copies: stream() extends the source's lists in place, and tail() appends to the series too
            src = ColumnDataSource({"t": [t.replace(tzinfo=None) for t in ts], "v": list(vs)})
            fig.line("t", "v", source=src, legend_label=p, color=Category10_10[i % 10], line_width=1.6)
            self.sources[p] = src
        fig.legend.location = "top_left"
        fig.legend.click_policy = "hide"
        self.fig = fig
        self.plot.object = fig
        text = self.t("tr.points", total=total, start=f"{start:%Y-%m-%d %H:%M}", end=f"{end:%Y-%m-%d %H:%M}")
        self.status.object = f'<span data-points="{total}">{text}</span>'
        self.block.paths = paths if self.live.value and self.end.value is None else []
        if self.relive is not None:
            self.relive()
        return total

    def tail(self, values: Values, changed) -> None:
        """Live tail: append the session's new values to the pens."""
        if not self.live.value or not changed:
            return
        for tv in changed:
            src = self.sources.get(tv.path)
            if src is None:
                continue
            v = math.nan if tv.quality.is_bad else _num(tv.value)
            ts = tv.source_ts.replace(tzinfo=None)
            src.stream({"t": [ts], "v": [v]}, rollover=20000)
            t_list, v_list = self.series.setdefault(tv.path, ([], []))
            t_list.append(tv.source_ts)
            v_list.append(v)

    def _csv(self) -> io.StringIO:
        return io.StringIO(to_csv(self.series))


class _Tail(Block):
    """The trend's live tail as a page block: fed with the changes of the picked tags."""

    def __init__(self, page: TrendPage) -> None:
        super().__init__([], lambda v: "")
        self.page = page

    def refresh(self, values: Values, changed=None) -> None:
        """Stream the changed values into the pens (nothing to draw on the first render)."""
        if changed:
            self.page.tail(values, changed)
