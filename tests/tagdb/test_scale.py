"""A 100,000-tag database: batch ingest is exactly what a per-tag reference computes."""

from __future__ import annotations

import numpy as np

from tagdb.database import TagDatabase
from tagdb.site.model import Deadband, TagSpec
from tagdb.values import GOOD, UNCERTAIN

N = 100_000


def test_100k_tags_batch_ingest_matches_a_per_tag_reference(clock):
    rng = np.random.default_rng(2026)
    bands = rng.choice([0.0, 0.5, 2.0], N)
    specs = [TagSpec(f"site/dev{i // 100}/t{i % 100}", "float64", f"dev{i // 100}", f"hr:{i % 100}",
                     deadband=Deadband(float(bands[i]))) for i in range(N)]
    db = TagDatabase(specs, clock)
    assert len(db) == N
    seen = []
    db.subscribe("site/dev1*/", seen.append)     # dev1, dev10..dev19, dev100..dev199: 111 devices
    all_ids = db.ids(s.path for s in specs)
    assert np.array_equal(all_ids, np.arange(N))

    ref_val = np.full(N, np.nan)
    ref_q = np.full(N, 0x80320000, np.uint32)
    db.ingest(all_ids, np.zeros(N))
    ref_val[:] = 0.0
    ref_q[:] = GOOD.code
    clock.advance(0)
    assert len(seen) == 1 and len(seen[0]) == 111 * 100

    total_changes = 0
    for batch in range(20):
        ids = rng.integers(0, N, 10_000)
        vals = ref_val[ids] + rng.normal(0, 1.0, 10_000)
        codes = np.where(rng.random(10_000) < 0.01, UNCERTAIN.code, GOOD.code).astype(np.uint32)
        changed = db.ingest(ids, vals, codes)
        # The reference: a plain loop, last write per id wins.
        last = {}
        for k, i in enumerate(ids.tolist()):
            last[i] = k
        expect = 0
        for i, k in last.items():
            if abs(vals[k] - ref_val[i]) > bands[i] or codes[k] != ref_q[i]:
                ref_val[i], ref_q[i] = vals[k], codes[k]
                expect += 1
        assert changed == expect
        total_changes += expect
    assert np.array_equal(db._cols.value[:N], ref_val)
    assert np.array_equal(db._cols.quality[:N], ref_q)
    probe = rng.integers(0, N, 50).tolist()
    snap = db.snapshot(specs[i].path for i in probe)
    for i in probe:
        assert snap[specs[i].path].value == ref_val[i]
    assert db.stats.changes == N + total_changes
    assert len(db.match("site/dev99*/")) == 1100
