"""Vectorized ingest: deadband, change detection, duplicates and batch validation."""

from __future__ import annotations

import math

import numpy as np
import pytest

from tagdb.database import TagDatabase
from tagdb.errors import TagTypeError, UnknownTagError
from tagdb.values import BAD_NOT_YET_READ, GOOD, UNCERTAIN

from .conftest import deadband, spec


def make(clock, *specs):
    db = TagDatabase(list(specs), clock)
    seen = []
    db.subscribe("**", seen.extend)
    return db, seen


def published(db, clock, seen):
    """Flush the turn and return {path: value} of what subscribers saw."""
    seen.clear()
    clock.advance(0)
    return {tv.path: tv.value for tv in seen}


def test_every_tag_starts_none_and_not_yet_read(clock):
    db, _ = make(clock, spec("a/x"), spec("a/s", "string"), spec("a/b", "bool"))
    for path in ("a/x", "a/s", "a/b"):
        tv = db.get(path)
        assert tv.value is None
        assert tv.quality == BAD_NOT_YET_READ
        assert tv.quality.name == "BadWaitingForInitialData"


@pytest.mark.parametrize("new, publishes", [
    (20.4, False),   # inside the deadband
    (20.5, False),   # exactly at the boundary: must exceed to publish
    (20.51, True),   # outside
    (19.49, True),   # outside, downwards
    (19.5, False),   # boundary, downwards
])
def test_absolute_deadband_against_last_published(clock, new, publishes):
    db, seen = make(clock, spec("a/t", deadband=deadband(0.5)))
    ids = db.ids(["a/t"])
    db.ingest(ids, [20.0])
    assert published(db, clock, seen) == {"a/t": 20.0}
    changed = db.ingest(ids, [new])
    assert changed == int(publishes)
    assert published(db, clock, seen) == ({"a/t": new} if publishes else {})
    assert db.get("a/t").value == (new if publishes else 20.0)


def test_deadband_creep_is_measured_from_the_published_value(clock):
    db, seen = make(clock, spec("a/t", deadband=deadband(1.0)))
    ids = db.ids(["a/t"])
    db.ingest(ids, [10.0])
    published(db, clock, seen)
    # Each step is inside the band of the previous sample, but the third one
    # is 1.2 away from what subscribers last saw.
    assert db.ingest(ids, [10.4]) == 0
    assert db.ingest(ids, [10.8]) == 0
    assert db.ingest(ids, [11.2]) == 1
    assert published(db, clock, seen) == {"a/t": 11.2}


@pytest.mark.parametrize("new, publishes", [(51.9, False), (52.0, False), (52.1, True), (47.9, True)])
def test_percent_deadband_uses_the_tag_range(clock, new, publishes):
    # 1 % of 0..200 is 2.0 engineering units.
    db, seen = make(clock, spec("a/p", deadband=deadband(1.0, percent=True), eu_lo=0.0, eu_hi=200.0))
    ids = db.ids(["a/p"])
    db.ingest(ids, [50.0])
    published(db, clock, seen)
    assert db.ingest(ids, [new]) == int(publishes)


def test_percent_deadband_without_a_range_publishes_every_change(clock):
    db, seen = make(clock, spec("a/p", deadband=deadband(5.0, percent=True)))
    ids = db.ids(["a/p"])
    db.ingest(ids, [1.0])
    assert db.ingest(ids, [1.001]) == 1
    assert db.ingest(ids, [1.001]) == 0   # no change at all is never published


def test_quality_change_publishes_even_inside_the_deadband(clock):
    db, seen = make(clock, spec("a/t", deadband=deadband(10.0)))
    ids = db.ids(["a/t"])
    db.ingest(ids, [5.0])
    published(db, clock, seen)
    assert db.ingest(ids, [5.0], UNCERTAIN.code) == 1
    assert db.get("a/t").quality == UNCERTAIN
    assert db.ingest(ids, [5.1], GOOD.code) == 1


def test_duplicate_ids_last_write_wins_and_deadband_sees_only_the_last(clock):
    db, seen = make(clock, spec("a/x", deadband=deadband(1.0)), spec("a/y", deadband=deadband(1.0)))
    x, y = db.ids(["a/x", "a/y"])
    db.ingest([x, y], [0.0, 0.0])
    published(db, clock, seen)
    # x: 0 -> 100 -> 0.5: the final 0.5 is inside the band, so nothing is published.
    # y: 0 -> 0.2 -> 7 -> 9: published as 9, with the last sample's quality and timestamp.
    changed = db.ingest([x, y, x, y, y], [100.0, 0.2, 0.5, 7.0, 9.0],
                        [GOOD.code, GOOD.code, GOOD.code, GOOD.code, UNCERTAIN.code],
                        [1, 2, 3, 4, 5_000_000_000])
    assert changed == 1
    assert published(db, clock, seen) == {"a/y": 9.0}
    tv = db.get("a/y")
    assert tv.quality == UNCERTAIN
    assert tv.source_ts.timestamp() == 5.0
    assert db.get("a/x").value == 0.0


def test_many_duplicates_in_a_large_batch(clock):
    n = 1000
    db, seen = make(clock, *[spec(f"d/t{i}") for i in range(n)])
    rng = np.random.default_rng(7)
    ids = rng.integers(0, n, 20_000)
    values = rng.normal(size=20_000)
    db.ingest(ids, values)
    expected = {}
    for i, v in zip(ids.tolist(), values.tolist()):
        expected[f"d/t{i}"] = v
    assert published(db, clock, seen) == expected


def test_values_come_back_in_the_tag_data_type(clock):
    db, _ = make(clock, spec("a/f"), spec("a/i", "int16"), spec("a/u", "uint32"), spec("a/b", "bool"))
    db.ingest(db.ids(["a/f", "a/i", "a/u", "a/b"]), [1.5, -7.0, 4_000_000_000.0, 1.0])
    assert db.get("a/f").value == 1.5 and type(db.get("a/f").value) is float
    assert db.get("a/i").value == -7 and type(db.get("a/i").value) is int
    assert db.get("a/u").value == 4_000_000_000 and type(db.get("a/u").value) is int
    assert db.get("a/b").value is True
    db.ingest(db.ids(["a/b"]), [0.0])
    assert db.get("a/b").value is False


def test_nan_is_a_change_once_and_not_again(clock):
    db, seen = make(clock, spec("a/t", deadband=deadband(0.5)))
    ids = db.ids(["a/t"])
    db.ingest(ids, [1.0])
    assert db.ingest(ids, [math.nan]) == 1
    assert math.isnan(db.get("a/t").value)
    assert db.ingest(ids, [math.nan]) == 0
    assert db.ingest(ids, [1.0]) == 1


def test_scalar_quality_and_timestamp_apply_to_the_whole_block(clock):
    db, _ = make(clock, spec("a/x"), spec("a/y"))
    db.ingest(db.ids(["a/x", "a/y"]), [1.0, 2.0], UNCERTAIN.code, 1_234_000_000)
    for path in ("a/x", "a/y"):
        assert db.get(path).quality == UNCERTAIN
        assert db.get(path).source_ts.timestamp() == 1.234


def test_ids_of_unknown_paths_name_every_missing_one(clock):
    db, _ = make(clock, spec("a/x"))
    with pytest.raises(UnknownTagError) as err:
        db.ids(["a/x", "nope/1", "nope/2"])
    assert err.value.paths == ["nope/1", "nope/2"]
    assert "nope/1" in str(err.value)
    assert isinstance(err.value, KeyError)


def test_bad_batches_are_refused_before_anything_is_applied(clock):
    db, seen = make(clock, spec("a/x"), spec("a/s", "string"))
    x, s = db.ids(["a/x", "a/s"])
    with pytest.raises(UnknownTagError):
        db.ingest([x, 99], [1.0, 2.0])
    with pytest.raises(TagTypeError, match="a/s"):
        db.ingest([x, s], [1.0, 2.0])
    with pytest.raises(ValueError, match="values"):
        db.ingest([x], [1.0, 2.0])
    with pytest.raises(ValueError, match="quality_codes"):
        db.ingest([x], [1.0], [0, 0])
    assert db.get("a/x").value is None
    assert db.stats.changes == 0


def test_samples_inside_the_deadband_still_count_as_updates(clock):
    db, _ = make(clock, spec("a/t", deadband=deadband(5.0)))
    ids = db.ids(["a/t"])
    db.ingest(ids, [1.0])
    clock.advance(2.5)
    db.ingest(ids, [2.0])
    assert db.stats.updates == 2 and db.stats.changes == 1
    assert db._cols.last_update_ns[ids[0]] == db.now_ns()


def test_nan_at_a_tag_without_value_is_a_change(clock):
    from datetime import datetime, timezone

    from tagdb.values import BAD_COMM_FAILURE, TagValue

    db, seen = make(clock, spec("a/t"))
    now = datetime.now(timezone.utc)
    db.update([TagValue("a/t", None, BAD_COMM_FAILURE, now, now)])
    assert db.ingest(db.ids(["a/t"]), [math.nan], BAD_COMM_FAILURE.code) == 1
    assert math.isnan(db.get("a/t").value)
    assert db.ingest(db.ids(["a/t"]), [math.nan], BAD_COMM_FAILURE.code) == 0


def test_percent_deadband_falls_back_to_the_scaling_range(clock):
    from tagdb.site.model import Scaling

    # 2 % of the engineering span 0..500 is 10.
    db, seen = make(clock, spec("a/p", deadband=deadband(2.0, percent=True),
                                scaling=Scaling(0, 32000, 0.0, 500.0)))
    ids = db.ids(["a/p"])
    db.ingest(ids, [100.0])
    assert db.ingest(ids, [110.0]) == 0
    assert db.ingest(ids, [110.5]) == 1


def test_duplicate_and_unusable_paths_are_refused_whole(clock):
    from tagdb.errors import BadTagPathError, DuplicateTagError

    db = TagDatabase([spec("a/x")], clock)
    with pytest.raises(DuplicateTagError, match="a/x"):
        db.add_tags([spec("a/y"), spec("a/x")])
    with pytest.raises(DuplicateTagError, match="a/z"):
        db.add_tags([spec("a/z"), spec("a/z")])
    for bad in ("", "a//b", "a/", "/a", "a/*", "a/b?"):
        with pytest.raises(BadTagPathError):
            db.add_tags([spec("a/ok"), spec(bad)])
    assert db.paths == ["a/x"]
