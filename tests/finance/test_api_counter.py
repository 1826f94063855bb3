"""REST on both backends: deposits (receive, refund, forfeit, balances per unit, residents' own units),
temporary parking (quote, sale with receipt, validation naming fields) and the release of held shared lines."""

from __future__ import annotations

import asyncio
import contextlib

from collectors.testing import aio_test

from .test_api import _wait, call, start

TARIFF = {"free_minutes": 15, "first_minutes": 60, "first_price": "5.00", "period_minutes": 60, "period_price": "2.00",
          "daily_cap": "30.00"}


@contextlib.asynccontextmanager
async def running(tmp_path, db_url):
    """The service tree of test_api's ``start``, as (base URL, tokens, unit ids); stopped on leaving."""
    root, base, tok, units = await start(tmp_path, db_url)
    try:
        yield base, tok, units
    finally:
        await _wait(root.stopService())


async def balances(base, token):
    code, tb = await call(base, "GET", "/finance/statements/trial_balance?from=2026-01-01&to=2027-12-31", token)
    assert code == 200 and tb["balanced"], tb


@aio_test
async def test_deposits(tmp_path, db_url):
    async with running(tmp_path, db_url) as (base, tok, units):
        fin, a, b = tok["fin"], tok["resA"], tok["resB"]
        u1, u2 = units
        code, r = await call(base, "POST", "/finance/deposits", fin, {"unit_id": u1, "amount": "2000.00",
                                                                     "method": "bank_transfer", "memo": "lease L-1",
                                                                     "ref": "L-1"})
        assert code == 201 and r["kind"] == "deposit" and r["amount"] == "2000.00" and r["held"] == "2000.00"
        assert r["receipt_no"].startswith("R")
        # the same ref again is the same receipt, not a second deposit
        code, again = await call(base, "POST", "/finance/deposits", fin, {"unit_id": u1, "amount": "2000.00",
                                                                         "method": "bank_transfer", "ref": "L-1"})
        assert code == 200 and again["receipt_no"] == r["receipt_no"] and again["held"] == "2000.00"
        assert (await call(base, "POST", "/finance/deposits", fin, {"unit_id": u2, "amount": "500", "method": "cash"}))[0] == 201

        # amounts: decimal strings, never floats, never fractions of a fen; the field is named
        for body, field in (({"unit_id": u1, "amount": 20.5}, "amount"), ({"unit_id": u1, "amount": "1.005"}, "amount"),
                            ({"unit_id": u1}, "amount"), ({"unit_id": u1, "amount": "-1"}, "amount"),
                            ({"unit_id": u1, "amount": "1", "method": "cheque"}, "method"),
                            ({"unit_id": 999999, "amount": "1"}, "unit_id"), ({"amount": "1"}, "unit_id")):
            code, err = await call(base, "POST", "/finance/deposits", fin, body)
            assert code == 422 and field in err["error"]["fields"], (body, code, err)
        # residents may not receive deposits
        assert (await call(base, "POST", "/finance/deposits", a, {"unit_id": u1, "amount": "1"}))[0] == 403

        # refund part, forfeit part (kept as other income), never more than is held
        code, err = await call(base, "POST", "/finance/deposits/refund", fin, {"unit_id": u1, "amount": "2000.01"})
        assert code == 409 and "amount" in err["error"]["fields"]
        code, rf = await call(base, "POST", "/finance/deposits/refund", fin, {"unit_id": u1, "amount": "1500.00",
                                                                             "memo": "move-out"})
        assert code == 201 and rf["kind"] == "refund" and rf["amount"] == "-1500.00" and rf["held"] == "500.00"
        code, ff = await call(base, "POST", "/finance/deposits/forfeit", fin, {"unit_id": u1, "amount": "200.00",
                                                                              "memo": "broken door", "ref": "F-1"})
        assert code == 201 and ff["held"] == "300.00" and ff["account"] == "5107"
        assert (await call(base, "POST", "/finance/deposits/forfeit", fin, {"unit_id": u1, "amount": "200.00",
                                                                           "ref": "F-1"}))[0] == 200
        code, err = await call(base, "POST", "/finance/deposits/forfeit", fin, {"unit_id": u1, "amount": "300.01"})
        assert code == 409
        code, err = await call(base, "POST", "/finance/deposits/forfeit", fin, {"unit_id": u1, "amount": "1",
                                                                               "account": "1001"})
        assert code == 422 and "account" in err["error"]["fields"]

        # the list: balances from the 2241 postings, per unit, with movements
        code, lst = await call(base, "GET", "/finance/deposits", fin)
        assert code == 200 and lst["total_held"] == "800.00"
        by_unit = {d["unit_id"]: d for d in lst["items"]}
        assert by_unit[u1]["held"] == "300.00" and by_unit[u1]["received"] == "2000.00"
        assert by_unit[u1]["refunded"] == "1500.00" and by_unit[u1]["forfeited"] == "200.00"
        assert [m["kind"] for m in by_unit[u1]["movements"]] == ["received", "refunded", "forfeited"]
        assert by_unit[u2]["held"] == "500.00"
        # residents see their own unit's deposit only
        code, mine = await call(base, "GET", "/finance/deposits", a)
        assert code == 200 and [d["unit_id"] for d in mine["items"]] == [u1] and "total_held" not in mine
        assert (await call(base, "GET", f"/finance/deposits?unit_id={u1}", b))[1]["items"] == []
        # the ledger: deposits held 800 (credit), other income 200, cash 2000 + 500 − 1500
        code, accts = await call(base, "GET", "/finance/accounts", fin)
        bal = {x["code"]: x["balance"] for x in accts["items"]}
        assert (bal["2241"], bal["5107"], bal["1002"], bal["1001"]) == ("-800.00", "-200.00", "500.00", "500.00")
        # a refund and a forfeit at the same time cannot both take what is held
        results = await asyncio.gather(
            call(base, "POST", "/finance/deposits/refund", fin, {"unit_id": u2, "amount": "300.00"}),
            call(base, "POST", "/finance/deposits/forfeit", fin, {"unit_id": u2, "amount": "300.00"}))
        assert sorted(r[0] for r in results) == [201, 409], results
        assert (await call(base, "GET", f"/finance/deposits?unit_id={u2}", fin))[1]["items"][0]["held"] == "200.00"
        code, spec = await call(base, "GET", "/openapi.json")
        assert spec["paths"]["/finance/deposits"]["get"]["x-permission"] == "bills.read"
        assert spec["paths"]["/finance/deposits/forfeit"]["post"]["x-permission"] == "finance.write"


@aio_test
async def test_temporary_parking(tmp_path, db_url):
    async with running(tmp_path, db_url) as (base, tok, units):
        fin = tok["fin"]
        q = "/finance/parking/quote?entered=2026-11-20T09:00:00%2B08:00&left=2026-11-20T11:05:00%2B08:00"
        code, err = await call(base, "GET", q, fin)
        assert code == 422 and "fee_item" in err["error"]["fields"]      # no tariff configured yet
        item = {"code": "temp-park", "name": "Temporary parking", "kind": "parking_temp", "account": "5106",
                "params": TARIFF}
        assert (await call(base, "POST", "/finance/fee-items", fin, item))[0] == 201
        code, quote = await call(base, "GET", q, fin)
        # 125 min: first hour 5.00 + 2 periods × 2.00
        assert code == 200 and quote["fee"] == "9.00" and quote["minutes"] == 125
        # local time without an offset is the site's (Asia/Shanghai): the same stay
        code, local = await call(base, "GET", "/finance/parking/quote?entered=2026-11-20T09:00&left=2026-11-20T11:05", fin)
        assert local["fee"] == "9.00" and local["entered"] == quote["entered"]
        code, day = await call(base, "GET", "/finance/parking/quote?entered=2026-11-20T09:00&left=2026-11-21T09:10", fin)
        assert day["fee"] == "35.00"          # 24 h at the daily cap, then the next day's first period
        for query, field in (("entered=2026-11-20T09:00&left=2026-11-20T08:00", "left"),
                             ("entered=yesterday&left=2026-11-20T08:00", "entered"), ("entered=2026-11-20T09:00", "left")):
            code, err = await call(base, "GET", f"/finance/parking/quote?{query}", fin)
            assert code == 422 and field in err["error"]["fields"], (query, err)
        assert (await call(base, "GET", q, tok["resA"]))[0] == 403

        sale = {"plate": "粤B12345", "entered": "2026-11-20T09:00:00+08:00", "left": "2026-11-20T11:05:00+08:00",
                "method": "online"}
        code, sold = await call(base, "POST", "/finance/parking/sales", fin, sale)
        assert code == 201 and sold["fee"] == "9.00" and sold["receipt"]["receipt_no"].startswith("R2026-")
        assert sold["receipt"]["kind"] == "sale" and sold["receipt"]["amount"] == "9.00"
        code, again = await call(base, "POST", "/finance/parking/sales", fin, sale)
        assert code == 200 and again["receipt"]["receipt_no"] == sold["receipt"]["receipt_no"]
        code, free = await call(base, "POST", "/finance/parking/sales", fin,
                                dict(sale, plate="粤B00001", left="2026-11-20T09:10:00+08:00"))
        assert code == 200 and free["fee"] == "0.00" and free["receipt"] is None
        for body, field in ((dict(sale, plate=""), "plate"), (dict(sale, method="cheque"), "method"),
                            (dict(sale, left="2026-11-20T08:00:00+08:00"), "left"),
                            (dict(sale, left="2099-01-01T00:00:00+08:00"), "left"), (dict(sale, entered=None), "entered"),
                            (dict(sale, fee_item="nope"), "fee_item")):
            code, err = await call(base, "POST", "/finance/parking/sales", fin, body)
            assert code == 422 and field in err["error"]["fields"], (body, err)
        assert (await call(base, "POST", "/finance/parking/sales", tok["resA"], sale))[0] == 403
        code, sales = await call(base, "GET", "/finance/parking/sales", fin)
        assert [s["amount"] for s in sales["items"]] == ["9.00"]
        code, accts = await call(base, "GET", "/finance/accounts", fin)
        bal = {x["code"]: x["balance"] for x in accts["items"]}
        assert (bal["5106"], bal["1012"]) == ("-9.00", "9.00")
        await balances(base, fin)


@aio_test
async def test_a_held_shared_line_is_released_over_rest(tmp_path, db_url):
    async with running(tmp_path, db_url) as (base, tok, units):
        fin = tok["fin"]
        item = {"code": "common", "name": "Common-area electricity", "kind": "shared", "account": "5104",
                "params": {"master": "t1/meter-master/energy_kwh", "price": "0.60"}}
        assert (await call(base, "POST", "/finance/fee-items", fin, item))[0] == 201
        # no historian: the master meter has no readings, so every unit's share is held
        code, run = await call(base, "POST", "/finance/billing-runs", fin, {"period": "2026-11", "preview": False})
        assert code == 201
        bills = (await call(base, "GET", "/finance/bills?period=2026-11", fin))[1]["items"]
        assert len(bills) == 2 and all(x["held_lines"] == 1 and x["total"] == "300.00" for x in bills)
        released = []
        for x in bills:
            bill = (await call(base, "GET", f"/finance/bills/{x['id']}", fin))[1]
            held = [ln for ln in bill["lines"] if ln["held"]][0]
            path = f"/finance/bills/{x['id']}/lines/{held['id']}/release"
            assert (await call(base, "POST", path, tok["resA"], {"quantity": "1000"}))[0] == 403
            code, err = await call(base, "POST", path, fin, {"quantity": 1000.5})
            assert code == 422 and "quantity" in err["error"]["fields"]
            code, after = await call(base, "POST", path, fin, {"quantity": "1000.5", "note": "read on site"})
            assert code == 201, after
            new = [ln for ln in after["lines"] if ln["fee_code"] == "common" and not ln["held"]]
            released.append(new[0]["amount"])
            assert new[0]["detail"]["review_note"] == "read on site" and after["total"] == "600.15"
            assert (await call(base, "POST", path, fin, {"quantity": "1000.5"}))[0] == 409
        # 1000.5 kWh × 0.60 = 600.30, split over two units of 100 m² each
        assert sorted(released) == ["300.15", "300.15"]
        await balances(base, fin)
