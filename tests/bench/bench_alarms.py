"""Benchmark of the alarm engine's limit evaluation: 100,000 limit rules, 100,000 changed values.

Workload: 100,000 tags, every other one carrying an H and an L limit rule
with a 1.0 deadband (100,000 rules); each batch changes all 100,000 tags
(values drift with noise, about 2.5 % of rules flip per batch). One
evaluation is one ``LimitTable.evaluate`` call for the whole batch. The
baseline is a per-rule Python loop (:func:`alarms.limits.evaluate_loop`)
over the same rules and batches in the same run, including the per-batch
value lookup it needs; both must end in identical condition columns or the
benchmark fails.

Target (issue 5): under 20 ms per evaluation.
"""

from __future__ import annotations

import time

import numpy as np

from alarms.limits import LimitTable, evaluate_loop
from tests.bench.harness import BenchResult

N_TAGS = 100_000
N_RULES = 100_000
BATCHES = 10
BENCH = "alarms"


def _workload(seed: int = 5):
    rng = np.random.default_rng(seed)
    ruled = np.arange(0, N_TAGS, 2)                        # every other tag has rules
    tag_idx = np.repeat(ruled, 2)
    signs = np.tile([1, -1], len(ruled))
    limits = np.where(signs > 0, 80.0, 20.0) + rng.normal(0, 5, N_RULES)
    deadbands = np.full(N_RULES, 1.0)
    base = rng.uniform(10, 90, N_TAGS)
    batches = []
    for _ in range(BATCHES):
        base = base + rng.normal(0, 2.0, N_TAGS)
        batches.append((np.arange(N_TAGS), base.copy()))
    return tag_idx, limits, signs, deadbands, batches


def run() -> list[BenchResult]:
    """Time the vectorized table against the per-rule loop on identical batches."""
    tag_idx, limits, signs, deadbands, batches = _workload()
    table = LimitTable(N_TAGS, tag_idx, limits, signs, deadbands)
    vec_times, flips = [], 0
    for tags, values in batches:
        t0 = time.perf_counter()
        changed, _ = table.evaluate(tags, values)
        vec_times.append(time.perf_counter() - t0)
        flips += len(changed)

    cond = [False] * N_RULES
    s_limit = (signs * limits).tolist()
    s_keep = (signs * limits - deadbands).tolist()
    tag_list, sign_list = tag_idx.tolist(), signs.tolist()
    loop_times = []
    for tags, values in batches:
        t0 = time.perf_counter()
        by_tag = dict(zip(tags.tolist(), values.tolist()))   # the loop needs a lookup too
        evaluate_loop(tag_list, s_limit, s_keep, sign_list, cond, by_tag)
        loop_times.append(time.perf_counter() - t0)
    if table.cond.tolist() != cond:
        raise AssertionError("vectorized and per-rule evaluation disagree")

    engine_ms = _engine_batch_ms()
    vec_ms = float(np.median(vec_times) * 1e3)
    loop_ms = float(np.median(loop_times) * 1e3)
    return [
        BenchResult(BENCH, "limit evaluation, 100k rules x 100k values", vec_ms, "ms", baseline=loop_ms,
                    lower_is_better=True, target=20.0,
                    note=f"median of {BATCHES} batches; {flips / BATCHES:.0f} rules flip per batch; "
                         "baseline: per-rule Python loop"),
        BenchResult(BENCH, "limit rules evaluated per second", N_RULES / (vec_ms / 1e3), "rules/s",
                    baseline=N_RULES / (loop_ms / 1e3)),
        BenchResult(BENCH, "engine batch, 100k TagValues in, 100k rules", engine_ms, "ms", lower_is_better=True,
                    note="whole subscription callback: TagValue loop, quality, table, state machine"),
    ]


def _engine_batch_ms() -> float:
    """The engine's subscription callback on 100,000 TagValues (50,000 tags with H/L rules)."""
    from datetime import datetime, timezone

    from twisted.internet.task import Clock

    from alarms.engine import AlarmEngine
    from alarms.rules import compile_site
    from alarms.schema import TAG_RULE
    from tagdb.site.errors import Loc
    from tagdb.site.model import SiteModel, TagSpec
    from tagdb.values import GOOD, TagValue

    rule, errors = TAG_RULE.check({"type": "limit", "h": 80.0, "l": 20.0, "deadband": 1.0}, "r", Loc("bench"))
    assert not errors
    tags = tuple(TagSpec(f"b/eq-{i // 100}/t{i % 100}", "float64", None, None,
                         alarms=(rule,) if i % 2 == 0 else ()) for i in range(N_TAGS))
    site = SiteModel(name="bench", timezone="UTC", files=(), buildings=(), devices={}, tags=tags, equipment=(),
                     sections={"alarms": {"comm_alarms": False}})
    clock = Clock()
    clock.advance(1_780_000_000)
    engine = AlarmEngine(compile_site(site), clock)
    rng = np.random.default_rng(3)
    now = datetime.fromtimestamp(clock.seconds(), timezone.utc)
    times = []
    base = rng.uniform(10, 90, N_TAGS)
    for _ in range(6):
        base = base + rng.normal(0, 2.0, N_TAGS)       # the same drift as above: ~2.5 % of rules flip
        values = base.tolist()
        batch = [TagValue(t.path, v, GOOD, now, now) for t, v in zip(tags, values)]
        t0 = time.perf_counter()
        engine.process(batch)
        times.append(time.perf_counter() - t0)
    return float(np.median(times[1:]) * 1e3)      # the first batch raises the initial alarms


if __name__ == "__main__":
    for r in run():
        print(r)
