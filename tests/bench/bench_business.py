"""Business core: CSV import, scoped listing and login cost on the embedded SQLite database.

Figures: units imported per second from a 5,000-row CSV (all validated, audited,
one transaction); scoped list queries per second for a building manager over
10,000 units (the SQL scope filter), with an administrator's unfiltered list as
the baseline; one argon2id login verification (the deliberate cost of a password check).
"""

from __future__ import annotations

import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from business.crud import Crud
from business.database import Database
from business.identity import LockoutPolicy, create_user, make_hasher, verify_password
from business.importer import run_import
from business.permissions import principal_for
from business.specs import SPECS
from tests.bench.harness import BenchResult

NOW = datetime(2026, 11, 2, tzinfo=timezone.utc)
ADMIN = principal_for("bench", [("admin", "*")])


def _setup(folder: Path) -> tuple[Database, Crud]:
    db = Database(f"sqlite:///{folder / 'bench.db'}")
    db.migrate()
    crud = Crud(SPECS, lambda: NOW)

    def world(s):
        p = crud.create(s, ADMIN, "properties", {"code": "bench", "name": "Bench"})["id"]
        for i in range(10):
            crud.create(s, ADMIN, "buildings", {"property_id": p, "code": f"b{i}", "name": f"B{i}", "floors": 60})
    db.call(world)
    return db, crud


def _csv(buildings: int, floors: int, per_floor: int) -> str:
    lines = ["building,code,floor,gross_area,inner_area"]
    for b in range(buildings):
        for f in range(1, floors + 1):
            for n in range(1, per_floor + 1):
                lines.append(f"b{b},{f:02d}{n:02d},{f},89.50,71.20")
    return "\n".join(lines) + "\n"


def run() -> list[BenchResult]:
    """Run the three measurements."""
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        db, crud = _setup(Path(tmp))
        text = _csv(5, 50, 20)       # 5,000 units
        t0 = time.perf_counter()
        report = run_import(db, crud, ADMIN, "units", text, dry_run=False, property_code="bench")
        elapsed = time.perf_counter() - t0
        assert report["written"], report["errors"][:3]
        results.append(BenchResult("business", "CSV import (5,000 units, validated+audited)",
                                   report["created"] / elapsed, "rows/s"))
        run_import(db, crud, ADMIN, "units", _csv(10, 50, 20).replace("b0,", "b0,", 1), dry_run=False,
                   property_code="bench")    # 10,000 units in total
        manager = principal_for("mgr", [("manager", "building:b3")])

        def lists(principal, n=50):
            t = time.perf_counter()
            for _ in range(n):
                page = db.call(lambda s: crud.list(s, principal, "units", {"per_page": "100", "floor": "7"}))
            return n / (time.perf_counter() - t), page["total"]
        admin_rate, admin_total = lists(ADMIN)
        mgr_rate, mgr_total = lists(manager)
        results.append(BenchResult("business", "scoped unit list, building manager (10k units)", mgr_rate,
                                   "queries/s", baseline=admin_rate,
                                   note=f"admin unfiltered baseline; {mgr_total} vs {admin_total} rows match"))
        hasher = make_hasher()
        db.call(lambda s: create_user(s, hasher, username="u", password="Bench-pass-1", actor="b", now=NOW))
        t = time.perf_counter()
        for _ in range(5):
            db.call(lambda s: verify_password(s, hasher, LockoutPolicy(), "u", "Bench-pass-1", NOW))
        results.append(BenchResult("business", "password login (argon2id default cost)",
                                   (time.perf_counter() - t) / 5 * 1000, "ms", lower_is_better=True))
        db.stop()
    return results


if __name__ == "__main__":
    for r in run():
        print(r)
