"""Trend pens: history loaded, then the live tail appends one point per change to each pen."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

from twisted.internet.task import Clock

from collectors.testing import aio_test
from hmi.trends import TrendPage
from tagdb.contracts import HistoryPoint
from tagdb.site.model import TagSpec
from tagdb.values import BAD_COMM_FAILURE, GOOD, TagValue

T0 = datetime(2026, 11, 2, 1, 0, tzinfo=timezone.utc)


class History:
    """Three raw points per tag, the middle one Bad."""

    async def raw(self, paths, start, end):
        qual = (GOOD, BAD_COMM_FAILURE, GOOD)
        return {p: [HistoryPoint(p, T0 - timedelta(minutes=3 - k), float(k), qual[k]) for k in range(3)]
                for p in paths}


@aio_test
async def test_the_live_tail_keeps_every_pen_and_its_export_aligned():
    site = SimpleNamespace(tags=[TagSpec("a/t1", "float32", "", ""), TagSpec("a/t2", "float32", "", "")])
    clock = Clock()
    clock.advance(T0.timestamp())
    page = TrendPage(site, History(), clock, initial=["a/t1", "a/t2"])
    assert await page.show() == 6
    assert math.isnan(page.sources["a/t1"].data["v"][1])            # a Bad value is a gap
    for k in range(4):
        ts = T0 + timedelta(seconds=k)
        page.tail({}, [TagValue("a/t1", 10.0 + k, GOOD, ts, ts)])
    page.tail({}, [TagValue("a/t2", 5.0, BAD_COMM_FAILURE, T0, T0)])
    src1, src2 = page.sources["a/t1"].data, page.sources["a/t2"].data
    assert len(src1["t"]) == len(src1["v"]) == 7 and src1["v"][-4:] == [10.0, 11.0, 12.0, 13.0]
    assert len(src2["t"]) == len(src2["v"]) == 4 and math.isnan(src2["v"][-1])
    ts1, vs1 = page.series["a/t1"]
    assert len(ts1) == len(vs1) == 7
    assert page._csv().getvalue().count("\na/t1") == 0 and page._csv().getvalue().count(",a/t1,") == 7
