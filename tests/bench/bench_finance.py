"""Finance: a billing run for 10,000 units with metered lines, and statements over 1,000,000 postings.

Billing (embedded SQLite, file database): 10,000 units in 10 buildings, fee items
for gross area, refuse (fixed), electricity (tiered, metered) and water (metered),
so 40,000 lines and 10,000 balanced entries (80,000 postings incl. receivables).
Meter readings come from an in-memory history answering ``value_at`` (the
historian's own query speed is measured in bench_historian), so the figures are the
finance work: gather, compute (Decimal formulas, reading checks), post (ORM inserts).

Statements: 500,000 two-line entries (1,000,000 postings) spread over two years
and 20 accounts, inserted in bulk; then trial balance, balance sheet, income
statement and cash flow for one year. Baseline: fetching every posting of the
year into Python and summing per account (what a report without SQL aggregation does).
"""

from __future__ import annotations

import random
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert, select, text

from business.database import Database
from business.finance import billing, statements
from business.finance.accounts import ensure_chart
from business.finance.meters import Reading
from business.finance.models import Entry, Posting
from business.finance.setup import sync_fee_items
from business.models import Building, Property, Unit
from tests.bench.harness import BenchResult, run_on_asyncio_reactor

NOW = datetime(2026, 12, 2, 2, tzinfo=timezone.utc)
ITEMS = [
    {"code": "mgmt", "name": "Management", "kind": "gross_area", "account": "5101", "params": {"price": "2.85"}},
    {"code": "refuse", "name": "Refuse", "kind": "fixed", "account": "5107", "params": {"amount": "15"}},
    {"code": "elec", "name": "Electricity", "kind": "metered", "account": "5102",
     "params": {"tag": "energy_kwh", "tiers": [{"upto": "240", "price": "0.5283"}, {"upto": "400", "price": "0.5783"},
                                               {"price": "0.8283"}]}},
    {"code": "water", "name": "Water", "kind": "metered", "account": "5103", "params": {"tag": "water_m3",
                                                                                       "price": "4.20"}},
]


class _Meter:
    equipment_class = "meter"

    def __init__(self, eid):
        self.id = eid


def _estate(db: Database, n_units: int):
    rng = random.Random(1)

    def work(s):
        p = Property(code="bench", name="Bench")
        s.add(p)
        s.flush()
        blds = [Building(property_id=p.id, code=f"b{i}", name=f"B{i}", floors=50) for i in range(10)]
        s.add_all(blds)
        s.flush()
        rows = []
        for i in range(n_units):
            gross = Decimal(rng.randrange(6000, 15000)) / 100
            rows.append({"property_id": p.id, "building_id": blds[i % 10].id, "code": f"{i // 10 + 1:05d}",
                         "floor": 1, "use": "residential", "gross_area": gross,
                         "inner_area": (gross * Decimal("0.78")).quantize(Decimal("0.01")), "status": "occupied"})
        s.execute(insert(Unit), rows)
        ensure_chart(s)
        sync_fee_items(s, p.id, ITEMS)
        return p.id
    return db.call(work)


def bench_billing(folder: Path, n_units: int = 10_000) -> list[BenchResult]:
    db = Database(f"sqlite:///{folder / 'billing.db'}")
    db.migrate()
    pid = _estate(db, n_units)
    equipment = [_Meter(f"b{i % 10}/meter-{i // 10 + 1}") for i in range(n_units)]
    t = time.perf_counter()
    inp = db.call(billing.gather, pid, "2026-11", "Asia/Shanghai", equipment)
    t_gather = time.perf_counter() - t
    paths = billing.meter_paths(inp)
    rng = random.Random(2)
    t = time.perf_counter()
    readings = {}
    for p in paths:
        a = Decimal(rng.randrange(0, 10 ** 6)) / 100
        readings[p] = (Reading(p, a, inp.start - timedelta(minutes=3), "Good", True),
                       Reading(p, a + Decimal(rng.randrange(0, 60000)) / 100, inp.end - timedelta(minutes=2), "Good", True))
    t_read = time.perf_counter() - t
    t = time.perf_counter()
    plans, summary = billing.compute(inp, readings)
    t_compute = time.perf_counter() - t
    t = time.perf_counter()
    db.call(billing.post_run, inp, plans, summary, NOW)
    t_post = time.perf_counter() - t
    total = t_gather + t_compute + t_post
    db.stop()
    note = (f"{len(paths)} meter paths, {summary['lines']} lines; gather {t_gather:.2f} s, compute {t_compute:.2f} s, "
            f"post {t_post:.2f} s (readings built in {t_read:.2f} s, not counted)")
    return [BenchResult("finance", "billing run, 10k units (gather+compute+post)", round(total, 2), "s",
                        lower_is_better=True, note=note),
            BenchResult("finance", "billing compute", round(n_units / t_compute), "units/s"),
            BenchResult("finance", "billing post (bills, lines, entries)", round(n_units / t_post), "units/s")]


def _fill_postings(db: Database, n_entries: int) -> None:
    rng = random.Random(3)
    pairs = [("1002", "1122"), ("1122", "5101"), ("1122", "5102"), ("1122", "5103"), ("6401", "2202"),
             ("2202", "1002"), ("1001", "2203"), ("2203", "1122"), ("6402", "2202"), ("1122", "5201")]

    def work(s):
        pid = s.scalar(select(Property.id)) or 1
        ensure_chart(s)
        conn = s.connection()
        start = date(2025, 1, 1)
        batch = 50_000
        for off in range(0, n_entries, batch):
            entries, postings = [], []
            for i in range(off, min(off + batch, n_entries)):
                d = start + timedelta(days=rng.randrange(730))
                dr, cr = pairs[rng.randrange(len(pairs))]
                amt = rng.randrange(1, 10 ** 6)
                eid = i + 1
                entries.append({"id": eid, "ref": f"bench:{eid}", "kind": "bench", "date": d, "posted_at": NOW,
                                "property_id": pid, "memo": "", "actor": ""})
                postings.append({"entry_id": eid, "account": dr, "amount": amt, "date": d, "property_id": pid})
                postings.append({"entry_id": eid, "account": cr, "amount": -amt, "date": d, "property_id": pid})
            conn.execute(insert(Entry), entries)
            conn.execute(insert(Posting), postings)
    db.call(work)


def bench_statements(folder: Path, n_entries: int = 500_000) -> list[BenchResult]:
    db = Database(f"sqlite:///{folder / 'ledger.db'}")
    db.migrate()
    db.call(lambda s: s.add(Property(code="bench", name="Bench")))
    t = time.perf_counter()
    _fill_postings(db, n_entries)
    t_fill = time.perf_counter() - t
    db.call(lambda s: s.execute(text("ANALYZE")))
    start, end = date(2026, 1, 1), date(2026, 12, 31)
    out = []
    timings = {}
    for name, fn in (("trial balance", lambda s: statements.trial_balance(s, start, end, 1)),
                     ("balance sheet", lambda s: statements.balance_sheet(s, end, 1)),
                     ("income statement", lambda s: statements.income_statement(s, start, end, 1)),
                     ("cash flow", lambda s: statements.cash_flow(s, start, end, 1))):
        t = time.perf_counter()
        result = db.call(fn)
        timings[name] = time.perf_counter() - t
        assert result.get("balanced", True) and result.get("reconciled", True)

    def naive(s):
        sums: dict[str, int] = {}
        for acc, amt in s.execute(select(Posting.account, Posting.amount).where(Posting.date >= start,
                                                                                Posting.date <= end)):
            sums[acc] = sums.get(acc, 0) + amt
        return sums
    t = time.perf_counter()
    db.call(naive)
    t_naive = time.perf_counter() - t
    db.stop()
    for name, secs in timings.items():
        out.append(BenchResult("finance", f"{name}, 1M postings", round(secs * 1000), "ms", baseline=round(t_naive * 1000),
                               lower_is_better=True,
                               note="baseline: fetch the year's postings into Python and sum" if name == "trial balance"
                               else ""))
    out.append(BenchResult("finance", "bulk insert of 1M postings", round(2 * n_entries / t_fill), "postings/s"))
    return out


class _PerPath:
    """The embedded store seen through ``value_at`` only: billing's per-path fallback, the baseline."""

    def __init__(self, sink) -> None:
        self.sink = sink

    async def value_at(self, path, ts):
        return await self.sink.value_at(path, ts)


def bench_meter_reads(folder: Path, n_paths: int = 20_000) -> list[BenchResult]:
    """Boundary reads at both ends of a month from the embedded historian for every meter path.

    Batched (``value_at_many``, one call per boundary) against the per-path
    fallback (one ``value_at`` per path and boundary, 16 in flight), both through
    ``read_boundaries`` as a billing run calls it; best of 2 per-path and 3 batched rounds.
    Runs on the asyncio reactor (installed here: each benchmark has its own process).
    """
    from business.finance.meters import read_boundaries
    from tagdb.historian.points import tag_rows
    from tagdb.historian.sinks.embedded import EmbeddedSink
    from tagdb.values import GOOD, TagValue
    start, end, _ = billing.period_bounds("2026-11", "Asia/Shanghai")
    out: dict = {}

    async def main(reactor):
        sink = EmbeddedSink("bench", folder / "history.sqlite", reactor=reactor)
        paths = [f"b{i % 10}/meter-{i // 2}/{'energy_kwh' if i % 2 == 0 else 'water_m3'}" for i in range(n_paths)]
        for off in range(0, n_paths, 5000):
            values = []
            for p in paths[off:off + 5000]:
                for ts, v in ((start - timedelta(minutes=4), 100.0), (end - timedelta(minutes=3), 180.5)):
                    values.append(TagValue(p, v, GOOD, ts, ts))
            await sink.write_points(tag_rows(values, seq0=0))
        out["per_path"] = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            per_path = await read_boundaries(_PerPath(sink), paths, start, end)
            out["per_path"] = min(out["per_path"], time.perf_counter() - t)
        out["batched"] = float("inf")
        for _ in range(3):
            t = time.perf_counter()
            batched = await read_boundaries(sink, paths, start, end)
            out["batched"] = min(out["batched"], time.perf_counter() - t)
        if batched != per_path:
            raise AssertionError("batched and per-path readings differ")
        out["good"] = sum(1 for a, b in batched.values() if a.good and b.good)
        await sink.close()
    run_on_asyncio_reactor(main)
    return [BenchResult("finance", f"value-at for {n_paths:,} meters x 2 boundaries, batched (embedded historian)",
                        round(out["batched"], 3), "s", baseline=round(out["per_path"], 3), lower_is_better=True,
                        note=f"baseline: one value_at per path and boundary, 16 in flight (best of 2); {out['good']} good "
                             "pairs, same readings both ways; batched best of 3")]


def run() -> list[BenchResult]:
    """All figures in a scratch folder."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        return bench_billing(folder) + bench_statements(folder) + bench_meter_reads(folder)


if __name__ == "__main__":
    for r in run():
        print(r)
