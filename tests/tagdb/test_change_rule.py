"""``apply_numeric`` against a plain per-sample statement of the change rule, on random batches.

The vectorized rule settles the rare cases (NaN, inf, forced) on a small subset;
this checks it publishes exactly what the rule says, sample by sample.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from tagdb.changes import apply_numeric
from tagdb.columns import TagColumns
from tagdb.values import GOOD

N = 6
VALUES = st.sampled_from([0.0, 1.0, 1.05, 2.0, -1.0, math.inf, -math.inf, math.nan])
CODES = st.sampled_from([0, 0x80000000, 0x40000000])


def _reference(state, i, v, code, force, deadband):
    """(changed, new state) for one sample, as the rule reads."""
    value, has, q = state[i]
    if force or code != q:
        changed = True
    elif math.isnan(v) and math.isnan(value):
        changed = not has
    elif math.isnan(v) or math.isnan(value):
        changed = True
    elif v == value:
        changed = False
    else:
        changed = abs(v - value) > deadband
    return changed


@settings(max_examples=300, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, N - 1), VALUES, CODES, st.booleans()), min_size=1, max_size=10),
                min_size=1, max_size=6),
       st.sampled_from([0.0, 0.1, 1.5]), st.booleans())
def test_vectorized_rule_matches_the_per_sample_rule(batches, deadband, use_scalar_code):
    cols = TagColumns(8)
    cols.append([_spec(k) for k in range(N)], GOOD, 0)
    cols.deadband[:N] = deadband
    state = {i: (math.nan, False, int(cols.quality[i])) for i in range(N)}
    for t, batch in enumerate(batches, start=1):
        last = {}
        for i, v, code, force in batch:
            last[i] = (v, code, force)       # duplicates: the last sample wins
        if use_scalar_code:
            code0 = batch[0][2]
            last = {i: (v, code0, f) for i, (v, _c, f) in last.items()}
        expected = set()
        for i, (v, code, force) in last.items():
            if _reference(state, i, v, code, force, deadband):
                expected.add(i)
                state[i] = (v, True, code)
        ids = np.array([b[0] for b in batch], np.intp)
        values = np.array([b[1] for b in batch], np.float64)
        codes = np.uint32(batch[0][2]) if use_scalar_code else np.array([b[2] for b in batch], np.uint32)
        force = np.array([b[3] for b in batch], bool)
        cid = apply_numeric(cols, ids, values, codes, np.int64(t), t, force)
        assert set(cid.tolist()) == expected
        assert len(cid) == len(set(cid.tolist()))
        for i in range(N):
            value, has, q = state[i]
            assert int(cols.quality[i]) == q and bool(cols.has[i]) == has
            assert (math.isnan(cols.value[i]) and math.isnan(value)) or cols.value[i] == value
        for i in expected:
            assert cols.server_ns[i] == t and cols.source_ns[i] == t


def _spec(k):
    from tagdb.site.model import TagSpec
    return TagSpec(f"t/{k}", "float64", "", "")
