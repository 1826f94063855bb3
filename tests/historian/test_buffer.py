"""The durable buffer: sequence numbers, per-sink ranges, trimming, caps and the quarantine."""

from __future__ import annotations

from tagdb.historian.buffer import PointBuffer
from tagdb.values import datetime_to_ns

from .helpers import at, tv


class Now:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _values(n: int, path: str = "a/b", start: int = 0):
    return [tv(path, float(i), at(i)) for i in range(start, start + n)]


def test_rows_survive_reopening_and_keep_each_sinks_cursor(tmp_path):
    buf = PointBuffer(tmp_path / "b.sqlite", ["s1", "s2"])
    assert buf.append(_values(10)) == 10
    rows = buf.read(buf.tail("s1"), None, 4)
    assert [r[0] for r in rows] == [1, 2, 3, 4] and rows[0][1:4] == ("a/b", datetime_to_ns(at(0)), 0.0)
    buf.ack("s1", 1, 5)
    buf.close()
    buf = PointBuffer(tmp_path / "b.sqlite", ["s1", "s2"])
    assert (buf.tail("s1"), buf.depth("s1"), buf.depth("s2"), buf.next_seq) == (5, 6, 10, 11)
    assert [r[3] for r in buf.read(buf.tail("s1"), None, 100)] == [4.0, 5.0, 6.0, 7.0, 8.0, 9.0]


def test_rows_are_deleted_only_when_every_sink_acknowledged_them(tmp_path):
    buf = PointBuffer(tmp_path / "b.sqlite", ["s1", "s2"])
    buf.append(_values(5))
    buf.append(_values(5, start=5))    # one append is one chunk; chunks are deleted whole
    buf.ack("s1", 1, 11)
    assert buf.trim() == 0 and buf.count == 10
    buf.ack("s2", 1, 4)
    assert buf.trim() == 0
    buf.ack("s2", 4, 6)
    assert buf.trim() == 5 and buf.count == 5
    assert [r[0] for r in buf.read(1, None, 100)] == [6, 7, 8, 9, 10]


def test_split_backlog_moves_the_tail_to_a_closed_range(tmp_path):
    buf = PointBuffer(tmp_path / "b.sqlite", ["s"])
    buf.append(_values(100))
    assert buf.split_backlog("s") == (1, 101)
    buf.append(_values(5, start=100))
    assert buf.backlog("s") == [1, 101] and buf.tail("s") == 101
    assert buf.depth("s") == 105 and buf.tail_depth("s") == 5
    buf.ack("s", 101, 106)
    buf.ack("s", 1, 60)
    assert buf.backlog("s") == [60, 101]
    buf.close()
    buf = PointBuffer(tmp_path / "b.sqlite", ["s"])   # the split is durable too
    assert buf.ranges["s"] == [[60, 101], [106, None]]
    buf.ack("s", 60, 101)
    assert buf.backlog("s") is None and buf.depth("s") == 0


def test_size_cap_drops_the_oldest_and_counts_them_per_sink(tmp_path):
    buf = PointBuffer(tmp_path / "b.sqlite", ["s1", "s2"], max_points=1000)
    for i in range(9):
        buf.append(_values(100, start=i * 100))
    assert buf.fill == 0.9
    buf.ack("s1", 1, 901)
    for i in range(9, 12):
        buf.append(_values(100, start=i * 100))
    assert buf.count == 1000
    assert buf.counter("s2", "dropped") == 200 and buf.counter("s1", "dropped") == 0
    assert buf.tail("s2") == 201
    buf.close()
    assert PointBuffer(tmp_path / "b.sqlite", ["s1", "s2"], max_points=1000).counter("s2", "dropped") == 200


def test_age_cap_drops_what_was_buffered_too_long(tmp_path):
    now = Now()
    buf = PointBuffer(tmp_path / "b.sqlite", ["s"], max_age_s=3600, now=now)
    buf.append(_values(10))
    now.t += 1800
    buf.append(_values(10, start=10))
    assert buf.oldest_age("s") == 1800
    now.t += 1801
    assert buf.enforce_age() == 10
    assert buf.counter("s", "dropped") == 10 and buf.tail("s") == 11 and buf.oldest_age("s") == 1801


def test_quarantine_keeps_the_refused_point_for_inspection(tmp_path):
    buf = PointBuffer(tmp_path / "b.sqlite", ["s"])
    buf.append(_values(3))
    row = buf.read(2, 3, 1)[0]
    buf.quarantine("s", row, "400 invalid number")
    q = buf.quarantined("s")
    assert len(q) == 1 and q[0]["seq"] == 2 and q[0]["path"] == "a/b" and "invalid number" in q[0]["error"]
    assert buf.counter("s", "quarantined") == 1


def test_a_sink_removed_from_the_config_no_longer_pins_rows(tmp_path):
    buf = PointBuffer(tmp_path / "b.sqlite", ["s1", "old"])
    buf.append(_values(10))
    buf.ack("s1", 1, 11)
    buf.close()
    buf = PointBuffer(tmp_path / "b.sqlite", ["s1"])
    assert buf.trim() == 10


def test_non_finite_numbers_are_kept_as_text_not_lost(tmp_path):
    buf = PointBuffer(tmp_path / "b.sqlite", ["s"])
    buf.append([tv("a/b", float("nan"), at(1)), tv("a/b", float("-inf"), at(2))])
    assert [(r[3], r[4]) for r in buf.read(1, None, 10)] == [(None, "nan"), (None, "-inf")]
