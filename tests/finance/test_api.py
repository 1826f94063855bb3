"""REST: billing runs, bills, resident portal (own bills only, pay online), signed provider callbacks,
counter payments, statements as JSON/CSV/HTML, OpenAPI — over a real service tree on a free port."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import pytest
import treq
from twisted.internet import reactor
from twisted.internet.defer import Deferred

from business.finance.providers import HmacProvider
from collectors.testing import aio_test
from collectors.testing import wait_deferred as _wait

SECRET = "api-test-provider-secret-42"


async def start(tmp_path, url=None, extra_users=()):
    """A service tree on a free port; ``extra_users``: more (name, [(role, scope)]) to give tokens to."""
    from business.finance.schema import SECTION as FIN
    from business.identity import create_user, make_hasher, new_api_token
    from business.models import Building, Property, Unit
    from business.schema import SECTION
    from tagdb.server.root import Component, build_root, make_context
    from tagdb.site.errors import Loc
    from tagdb.site.model import SiteModel
    from sqlalchemy import select

    biz, e1 = SECTION.check({"database": {"url": url or f"sqlite:///{tmp_path / 'b.db'}"},
                             "property": {"code": "hq", "name": "HQ"}}, "business", Loc("t"))
    fin, e2 = FIN.check({"fee_items": [{"code": "mgmt", "name": "Management", "kind": "gross_area", "account": "5101",
                                        "params": {"price": "3.00"}}],
                         "providers": {"pay": {"secret": SECRET}}}, "finance", Loc("t"))
    assert not e1 and not e2, (e1, e2)
    site = SiteModel(name="fin", timezone="Asia/Shanghai", files=(), buildings=(), devices={}, tags=(), equipment=(),
                     sections={"business": biz, "finance": fin, "server": {"api": {"address": "127.0.0.1", "port": 8080}}})
    components = tuple(Component(n, m, lambda s: True) for n, m in (
        ("tagdb", "tagdb.service"), ("database", "business.database"), ("business", "business.service"),
        ("api", "tagdb.api.service")))
    ctx = make_context(site, reactor, tmp_path)
    ctx.provides["api_port"] = 0
    root = build_root(site, reactor, tmp_path, components=components, context=ctx)
    await _wait(root.startService())
    db, api = ctx.provides["database"], ctx.provides["business"]
    hasher = make_hasher(fast=True)

    def world(s):
        prop = s.scalar(select(Property).where(Property.code == "hq"))
        b = Building(property_id=prop.id, code="t1", name="T1")
        s.add(b)
        s.flush()
        units = [Unit(property_id=prop.id, building_id=b.id, code=c, floor=1, gross_area=Decimal("100.00"),
                      inner_area=Decimal("80.00"), status="occupied") for c in ("0101", "0102")]
        s.add_all(units)
        s.flush()
        now = api.clock()
        tokens = {}
        for name, grants in (("fin", [("finance", "property:hq")]), ("resA", [("owner", f"unit:{units[0].id}")]),
                             ("resB", [("owner", f"unit:{units[1].id}")]), *extra_users):
            u = create_user(s, hasher, username=name, password="Passw0rd-Demo", actor="t", now=now, grants=grants)
            tokens[name] = new_api_token(s, u.id, "t", now, None, "t")[0]
        return tokens, [u.id for u in units]
    tokens, units = db.call(world)
    await _wait(Deferred.fromCoroutine(api.auth.refresh()))
    return root, ctx.provides["api_url"], tokens, units


async def call(base, method, path, token=None, body=None, raw=None, headers=None):
    h = {"Content-Type": ["application/json"], **(headers or {})}
    if token:
        h["Authorization"] = [f"Bearer {token}"]
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    resp = await _wait(treq.request(method, base + path, data=data, headers=h))
    content = await _wait(resp.content())
    ctype = resp.headers.getRawHeaders(b"content-type", [b""])[0]
    return resp.code, (json.loads(content) if content and b"json" in ctype else content.decode("utf-8"))


@aio_test
async def test_portal_payments_callbacks_statements(tmp_path):
    root, base, tok, units = await start(tmp_path)
    try:
        fin, a, b = tok["fin"], tok["resA"], tok["resB"]
        code, prev = await call(base, "POST", "/finance/billing-runs", fin, {"period": "2026-11", "preview": True})
        assert code == 200 and prev["summary"]["total"] == "600.00" and prev["bills"][0]["lines"][0]["amount"] == "300.00"
        assert (await call(base, "POST", "/finance/billing-runs", a, {"period": "2026-11", "preview": False}))[0] == 403
        code, run = await call(base, "POST", "/finance/billing-runs", fin, {"period": "2026-11", "preview": False})
        assert code == 201 and run["run"]["summary"]["posted_bills"] == 2

        # a resident sees only their own bills; another resident's bill is "not found"
        code, mine = await call(base, "GET", "/finance/bills", a)
        assert code == 200 and [x["unit_id"] for x in mine["items"]] == [units[0]]
        own = mine["items"][0]["id"]
        other = (await call(base, "GET", "/finance/bills", b))[1]["items"][0]["id"]
        assert (await call(base, "GET", f"/finance/bills/{other}", a))[0] == 404
        assert (await call(base, "POST", f"/finance/bills/{other}/pay", a, {"provider": "pay"}))[0] == 404
        assert (await call(base, "POST", "/finance/payments", a, {"unit_id": units[0], "amount": "1.00"}))[0] == 403

        # pay online: order → signed provider callback (twice: posted once); forged and wrong amounts refused
        code, order = await call(base, "POST", f"/finance/bills/{own}/pay", a, {"provider": "pay"})
        assert code == 201 and order["amount"] == "300.00"
        prov = HmacProvider("pay", SECRET)
        body = json.dumps({"order_no": order["order_no"], "transaction_id": "TX-1", "amount": "300.00"}).encode()
        wrong = json.dumps({"order_no": order["order_no"], "transaction_id": "TX-2", "amount": "3.00"}).encode()
        assert (await call(base, "POST", "/finance/callbacks/pay", raw=body, headers={"X-Signature": ["0" * 64]}))[0] == 400
        code, bad = await call(base, "POST", "/finance/callbacks/pay", raw=wrong, headers={"X-Signature": [prov.sign(wrong)]})
        assert code == 400 and "does not match" in bad["error"]["message"]
        sig = {"X-Signature": [prov.sign(body)]}
        assert (await call(base, "POST", "/finance/callbacks/pay", raw=body, headers=sig))[1]["outcome"] == "accepted"
        assert (await call(base, "POST", "/finance/callbacks/pay", raw=body, headers=sig))[1]["outcome"] == "duplicate"
        assert (await call(base, "GET", f"/finance/bills/{own}", a))[1]["status"] == "paid"
        assert (await call(base, "GET", "/finance/bills", a))[1]["prepaid"] == {str(units[0]): "0.00"}
        code, receipts = await call(base, "GET", "/finance/payments", a)
        assert [r["amount"] for r in receipts["items"]] == ["300.00"]

        # counter payment by the finance team, partial
        code, p = await call(base, "POST", "/finance/payments", fin, {"unit_id": units[1], "amount": "100.50",
                                                                      "method": "cash"})
        assert code == 201 and p["amount"] == "100.50"
        assert (await call(base, "POST", "/finance/payments", fin, {"unit_id": units[1], "amount": 1.5}))[0] == 422
        code, err = await call(base, "POST", "/finance/payments", fin, {"unit_id": units[1], "amount": "0.005",
                                                                        "method": "cash"})
        assert code == 422 and "amount" in json.dumps(err) and "fen" in json.dumps(err)   # never rounded silently
        assert (await call(base, "GET", f"/finance/bills/{other}", b))[1]["open"] == "199.50"

        # statements
        q = "from=2026-11-01&to=2026-12-31"
        code, tb = await call(base, "GET", f"/finance/statements/trial_balance?{q}", fin)
        assert code == 200 and tb["balanced"] and tb["totals"]["closing"] == "0.00"
        code, cf = await call(base, "GET", f"/finance/statements/cash_flow?{q}", fin)
        assert cf["closing_cash"] == "400.50" and cf["reconciled"]
        code, text = await call(base, "GET", f"/finance/statements/income_statement?{q}&format=csv", fin)
        assert code == 200 and "5101" in text and "600.00" in text
        code, page = await call(base, "GET", f"/finance/statements/balance_sheet?{q}&format=html", fin)
        assert code == 200 and page.startswith("<!doctype html>")
        assert (await call(base, "GET", f"/finance/statements/balance_sheet?{q}&format=csv", a))[0] == 403

        # reversal through the ledger endpoint
        code, entries = await call(base, "GET", "/finance/ledger?from=2026-01-01&to=2027-12-31&account=1001", fin)
        entry = entries["items"][0]["id"]
        assert (await call(base, "POST", f"/finance/ledger/{entry}/reverse", fin, {"reason": "typo"}))[0] == 201
        assert (await call(base, "POST", f"/finance/ledger/{entry}/reverse", fin, {"reason": "again"}))[0] == 409

        # the finance tabs of the business web app: shown to the finance team only, and they work
        from business.finance.web import finance_tabs
        from collectors.testing import wait_until
        api = root.getServiceNamed("business").api
        assert finance_tabs(api, api.auth.authenticate_token(a), "en") == []
        tabs = dict(finance_tabs(api, api.auth.authenticate_token(fin), "en"))
        assert list(tabs) == ["Billing run", "Arrears", "Collection", "Budget vs actual", "Statements"]
        page = tabs["Statements"][1]
        tabs["Statements"][0][-1].clicks += 1
        await wait_until(lambda: "Balance Sheet" in (page.object or ""), 10, what="statement page")
        assert "1122" in page.object
        summary = tabs["Billing run"][1]
        tabs["Billing run"][0][0].value = "2026-11"
        tabs["Billing run"][0][1].clicks += 1
        await wait_until(lambda: "already billed 2" in (summary.object or ""), 10, what="billing preview")

        # every finance operation is documented with its permission
        code, spec = await call(base, "GET", "/openapi.json")
        assert spec["paths"]["/finance/bills"]["get"]["x-permission"] == "bills.read"
        assert "/finance/callbacks/{provider}" in spec["paths"]
    finally:
        await _wait(root.stopService())


@pytest.mark.postgres
@aio_test
async def test_the_same_callback_delivered_concurrently_posts_once(tmp_path, pg_url):
    from .conftest import fresh_pg_database
    url, drop = fresh_pg_database(pg_url)
    root, base, tok, units = await start(tmp_path, url)
    try:
        await call(base, "POST", "/finance/billing-runs", tok["fin"], {"period": "2026-11", "preview": False})
        bill = (await call(base, "GET", "/finance/bills", tok["resA"]))[1]["items"][0]["id"]
        order = (await call(base, "POST", f"/finance/bills/{bill}/pay", tok["resA"], {"provider": "pay"}))[1]
        body = json.dumps({"order_no": order["order_no"], "transaction_id": "TX-9", "amount": order["amount"]}).encode()
        sig = {"X-Signature": [HmacProvider("pay", SECRET).sign(body)]}
        results = await asyncio.gather(*[call(base, "POST", "/finance/callbacks/pay", raw=body, headers=sig)
                                         for _ in range(6)])
        outcomes = sorted(r[1]["outcome"] for r in results)
        assert outcomes == ["accepted"] + ["duplicate"] * 5, results
        receipts = (await call(base, "GET", "/finance/payments", tok["fin"]))[1]["items"]
        assert [r["amount"] for r in receipts] == ["300.00"]
    finally:
        await _wait(root.stopService())
        drop()
