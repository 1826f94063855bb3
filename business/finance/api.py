"""REST resources under ``/api/v1/finance/...`` (see docs/finance.md for the list).

Permissions: ``finance.read`` / ``finance.write`` on the property (or ``*``)
for the finance team; residents (``bills.read`` / ``bills.pay`` on their
unit) see and pay only their own units' bills; anything else answers 404 so
other residents' bills are never confirmed. The provider callback is public
and authenticated by its HMAC signature instead.
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from twisted.web.resource import Resource

from ..api.base import JsonResource, error_payload, query_params, read_json, write_json
from ..errors import BadRequest, BusinessError, PermissionDenied
from ..models import Building
from ..permissions import visibility
from . import bills as bills_mod
from . import budgets, expenses, ledger, payments, providers, statements
from .errors import CallbackRefused, Conflict, NotFound, ValidationError
from .export import to_csv, to_html
from .models import Account, Bill, BillingRun, Entry, FeeItem, Payment, Posting
from .money import to_fen_exact, yuan
from .openapi_ops import operations

STATEMENTS = ("trial_balance", "balance_sheet", "income_statement", "cash_flow", "ageing", "collection", "budget")


def _date(params: dict, key: str, default: date | None = None) -> date:
    raw = params.get(key)
    if raw is None:
        if default is None:
            raise ValidationError(f"{key} is required (YYYY-MM-DD)", {key: "is required"})
        return default
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(f"{key}: {raw!r} is not a date", {key: "expected YYYY-MM-DD"}) from None


def _int(value, field: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ValidationError(f"{field} must be an integer", {field: "must be an integer"}) from None


class _Base(JsonResource):
    """Shared helpers: the finance app, permission checks, resident unit scope."""

    isLeaf = True

    def __init__(self, api, app) -> None:
        super().__init__(api)
        self.app = app

    def require(self, principal, perm: str) -> None:
        """``perm`` on the whole property (or everywhere), else 403."""
        vis = visibility(principal, perm)
        if not (vis.everywhere or self.app.property_code in vis.properties):
            raise PermissionDenied(f"{perm} on property {self.app.property_code} is required")

    def has(self, principal, perm: str) -> bool:
        """True when ``perm`` is held on the whole property."""
        vis = visibility(principal, perm)
        return vis.everywhere or self.app.property_code in vis.properties

    def resident_units(self, s, principal, perm: str) -> set[int] | None:
        """Unit ids a resident may see/pay (None: all, for the finance team)."""
        if self.has(principal, "finance.read"):
            return None
        vis = visibility(principal, perm)
        units = set(vis.units)
        if vis.buildings:
            from ..models import Unit
            bids = list(s.scalars(select(Building.id).where(Building.code.in_(vis.buildings))))
            units |= set(s.scalars(select(Unit.id).where(Unit.building_id.in_(bids))))
        return units

    def path(self, request) -> list[str]:
        """Remaining path segments."""
        return [p.decode() for p in request.postpath if p]

    async def run_retrying(self, fn, *args, attempts: int = 3):
        """``db.run`` again when a concurrent transaction took the same receipt number or reference.

        The retry sees the other transaction's rows: a duplicate callback then
        answers "duplicate" and a billing run posts nothing twice.
        """
        from sqlalchemy.exc import IntegrityError, OperationalError
        for attempt in range(attempts):
            try:
                return await self.api.db.run(fn, *args)
            except (IntegrityError, OperationalError):
                if attempt == attempts - 1:
                    raise Conflict("a concurrent change got in the way; try again") from None


class AccountsResource(_Base):
    """GET /finance/accounts: the chart with balances (optionally ``as_of``)."""

    async def handle_GET(self, request, principal):
        self.require(principal, "finance.read")
        as_of = _date(query_params(request), "as_of", self.app.today())

        def q(s):
            pid = self.app.prepare(s)
            return [{"code": a.code, "name": a.name, "name_zh": a.name_zh, "type": a.type, "category": a.category,
                     "balance": yuan(ledger.balance(s, a.code, as_of, property_id=pid))}
                    for a in s.scalars(select(Account).order_by(Account.code))]
        return 200, {"items": await self.api.db.run(q)}


class FeeItemsResource(_Base):
    """GET /finance/fee-items, POST /finance/fee-items (create or update by code)."""

    async def handle_GET(self, request, principal):
        self.require(principal, "finance.read")

        def q(s):
            pid = self.app.prepare(s)
            return [{"code": f.code, "name": f.name, "kind": f.kind, "params": f.params, "account": f.account,
                     "cycle_months": f.cycle_months, "prepaid": f.prepaid, "due_days": f.due_days,
                     "grace_days": f.grace_days, "active": f.active}
                    for f in s.scalars(select(FeeItem).where(FeeItem.property_id == pid).order_by(FeeItem.code))]
        return 200, {"items": await self.api.db.run(q)}

    async def handle_POST(self, request, principal):
        self.require(principal, "finance.write")
        from tagdb.site.errors import Loc
        from .schema import FEE_ITEM
        clean, errs = FEE_ITEM.check(read_json(request), "fee_item", Loc("request"))
        if errs:
            raise ValidationError("invalid fee item", {e.field: e.message for e in errs})
        from .setup import sync_fee_items
        counts = await self.api.db.run(lambda s: sync_fee_items(s, self.app.prepare(s), [clean]))
        return (201 if counts["created"] else 200), {"code": clean["code"], **counts}


class BillingRunsResource(_Base):
    """POST /finance/billing-runs {period, preview, adjustments}; GET lists posted runs."""

    async def handle_GET(self, request, principal):
        self.require(principal, "finance.read")
        from .billing import run_json
        rows = await self.api.db.run(lambda s: [run_json(r) for r in s.scalars(
            select(BillingRun).where(BillingRun.property_id == self.app.prepare(s)).order_by(BillingRun.id.desc()))])
        return 200, {"items": rows}

    async def handle_POST(self, request, principal):
        self.require(principal, "finance.write")
        body = read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("period"), str):
            raise ValidationError("period (YYYY-MM) is required", {"period": "is required"})
        out = await self.app.billing_run(body["period"], bool(body.get("preview", True)), principal.user,
                                         body.get("adjustments"))
        return (200 if out["preview"] else 201), out


class BillsResource(_Base):
    """GET /finance/bills[?period&unit_id&status], GET /finance/bills/<id>, POST /finance/bills/<id>/pay."""

    async def handle_GET(self, request, principal):
        parts, params = self.path(request), query_params(request)

        def q(s):
            allowed = self.resident_units(s, principal, "bills.read")
            if parts:
                bill = bills_mod.get_bill(s, _int(parts[0], "id"))
                if allowed is not None and bill.unit_id not in allowed:
                    raise NotFound(f"bill {parts[0]} not found")
                return bills_mod.bill_json(s, bill)
            stmt = select(Bill).order_by(Bill.id.desc())
            if allowed is not None:
                stmt = stmt.where(Bill.unit_id.in_(allowed or [0]))
            for key in ("period", "status"):
                if params.get(key):
                    stmt = stmt.where(getattr(Bill, key) == params[key])
            if params.get("unit_id"):
                stmt = stmt.where(Bill.unit_id == _int(params["unit_id"], "unit_id"))
            per = min(_int(params.get("per_page", 100), "per_page"), 500)
            page = max(_int(params.get("page", 1), "page"), 1)
            out = {"items": [bills_mod.bill_json(s, b, with_lines=False)
                             for b in s.scalars(stmt.limit(per).offset((page - 1) * per))], "page": page}
            if allowed is not None:
                # the portal also shows what the resident has paid in advance, per unit
                out["prepaid"] = {str(u): yuan(payments.prepaid_balance(s, u)) for u in sorted(allowed)}
            return out
        return 200, await self.api.db.run(q)

    async def handle_POST(self, request, principal):
        parts = self.path(request)
        if len(parts) == 4 and parts[1] == "lines" and parts[3] == "release":
            return await self.release(request, principal, parts)
        if len(parts) != 2 or parts[1] != "pay":
            raise NotFound("use POST /finance/bills/<id>/pay")
        body = read_json(request)
        provider = body.get("provider") if isinstance(body, dict) else None
        if provider not in self.app.providers:
            raise ValidationError("unknown payment provider", {"provider": f"one of {', '.join(self.app.providers)}"})

        def make(s):
            bill = bills_mod.get_bill(s, _int(parts[0], "id"))
            allowed = self.resident_units(s, principal, "bills.pay")
            if allowed is not None and bill.unit_id not in allowed:
                raise NotFound(f"bill {parts[0]} not found")
            order = providers.create_order(s, provider, bill.property_id, bill.unit_id, [bill.id], None,
                                           self.api.clock(), principal.user)
            return {"order_no": order.order_no, "provider": provider, "amount": yuan(order.amount),
                    "bill_ids": order.bill_ids, "status": order.status}
        return 201, await self.api.db.run(make)


    async def release(self, request, principal, parts):
        """POST /finance/bills/<id>/lines/<line>/release {quantity, note}: bill a held line after review.

        ``quantity`` is the unit's consumption for a metered line, the common
        consumption (master minus sub-meters) for a shared line.
        """
        self.require(principal, "finance.write")
        body = read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("quantity"), str):
            raise ValidationError("quantity (a decimal string) is required", {"quantity": "is required"})

        def work(s):
            from .models import BillLine
            line = s.get(BillLine, _int(parts[2], "line"))
            if line is None or line.bill_id != _int(parts[0], "id"):
                raise NotFound("bill line not found")
            bills_mod.release_held(s, line.id, body["quantity"], str(body.get("note", "")), self.api.clock(),
                                   principal.user)
            return bills_mod.bill_json(s, bills_mod.get_bill(s, line.bill_id))
        # a concurrent release of the same line loses on the entry's unique ref; the retry answers 409
        return 201, await self.run_retrying(work)


class PaymentsResource(_Base):
    """POST /finance/payments (counter), POST /finance/payments/refund, GET lists receipts."""

    async def handle_GET(self, request, principal):
        params = query_params(request)

        def q(s):
            allowed = self.resident_units(s, principal, "bills.read")
            stmt = select(Payment).order_by(Payment.id.desc()).limit(500)
            if allowed is not None:
                stmt = stmt.where(Payment.unit_id.in_(allowed or [0]))
            if params.get("unit_id"):
                stmt = stmt.where(Payment.unit_id == _int(params["unit_id"], "unit_id"))
            return {"items": [payments.payment_json(p) for p in s.scalars(stmt)]}
        return 200, await self.api.db.run(q)

    async def handle_POST(self, request, principal):
        self.require(principal, "finance.write")
        body = read_json(request)
        if not isinstance(body, dict):
            raise BadRequest("a JSON object is required")
        unit_id, amount = _int(body.get("unit_id"), "unit_id"), to_fen_exact(body.get("amount"), "amount")
        refund = self.path(request) == ["refund"]

        def post(s):
            pid = self.app.prepare(s)
            if refund:
                p = payments.refund(s, pid, unit_id, amount, body.get("method", "bank_transfer"), self.api.clock(),
                                    actor=principal.user, memo=str(body.get("memo", "")))
            else:
                p, _ = payments.record_payment(s, pid, unit_id, amount, body.get("method", "cash"), self.api.clock(),
                                               bill_ids=body.get("bill_ids"), actor=principal.user,
                                               memo=str(body.get("memo", "")))
            return payments.payment_json(p)
        return 201, await self.run_retrying(post)


class CallbackResource(_Base):
    """POST /finance/callbacks/<provider>: signed provider notification (public)."""

    public = True

    async def handle_POST(self, request, principal):
        parts = self.path(request)
        name = parts[0] if parts else ""
        provider = self.app.providers.get(name)
        body = request.content.read(65536) if request.content is not None else b""
        headers = {k.decode().lower(): v[-1].decode("latin-1") for k, v in request.requestHeaders.getAllRawHeaders()}
        now = self.api.clock()
        if provider is None:
            raise NotFound(f"unknown payment provider {name!r}")
        try:
            data = provider.verify(body, headers)
            return 200, await self.run_retrying(providers.settle_callback, name, data, body, now)
        except CallbackRefused as exc:
            order = txn = ""
            if "data" in locals():
                order, txn = data.order_no, f"{name}:{data.transaction_id}"
            await self.api.db.run(providers.record_refused, name, body, exc.message, now, order, txn)
            raise


class LedgerResource(_Base):
    """GET /finance/ledger?from&to&account (entries), POST /finance/ledger/<id>/reverse."""

    async def handle_GET(self, request, principal):
        self.require(principal, "finance.read")
        params = query_params(request)
        start, end = _date(params, "from", date(1970, 1, 1)), _date(params, "to", self.app.today())

        def q(s):
            stmt = select(Entry).where(Entry.date >= start, Entry.date <= end).order_by(Entry.id.desc()).limit(
                min(_int(params.get("limit", 200), "limit"), 2000))
            if params.get("account"):
                stmt = stmt.where(Entry.id.in_(select(Posting.entry_id).where(Posting.account == params["account"])))
            return {"items": [ledger.entry_json(s, e) for e in s.scalars(stmt)]}
        return 200, await self.api.db.run(q)

    async def handle_POST(self, request, principal):
        self.require(principal, "finance.write")
        parts = self.path(request)
        if len(parts) != 2 or parts[1] != "reverse":
            raise NotFound("use POST /finance/ledger/<entry id>/reverse")
        body = read_json(request) if request.content is not None and request.getHeader(b"content-length") not in (None, b"0") else {}
        reason = str((body or {}).get("reason", ""))
        entry = await self.api.db.run(lambda s: ledger.entry_json(s, ledger.reverse(
            s, _int(parts[0], "id"), self.app.today(), self.api.clock(), principal.user, reason)))
        return 201, entry


class StatementsResource(_Base):
    """GET /finance/statements/<kind>?from&to&as_of&property_id&format=json|csv|html."""

    async def handle_GET(self, request, principal):
        return 200, statements.public(await self.statement(request, principal))

    async def statement(self, request, principal) -> dict:
        """The statement named by the path, for the query's dates."""
        self.require(principal, "finance.read")
        parts, params = self.path(request), query_params(request)
        kind = parts[0] if parts else ""
        if kind not in STATEMENTS:
            raise NotFound(f"unknown statement {kind!r} (one of {', '.join(STATEMENTS)})")
        today = self.app.today()
        start, end = _date(params, "from", today.replace(day=1)), _date(params, "to", today)
        consolidated = params.get("consolidated") == "true"

        def q(s):
            pid = None if consolidated else self.app.prepare(s)
            if kind == "trial_balance":
                return statements.trial_balance(s, start, end, pid)
            if kind == "balance_sheet":
                return statements.balance_sheet(s, _date(params, "as_of", end), pid)
            if kind == "income_statement":
                return statements.income_statement(s, start, end, pid)
            if kind == "cash_flow":
                return statements.cash_flow(s, start, end, pid)
            if kind == "ageing":
                return statements.ageing(s, _date(params, "as_of", today), pid)
            if kind == "budget":
                return {"statement": "budget", **budgets.execution(
                    s, self.app.prepare(s), _int(params.get("year", today.year), "year"),
                    _int(params["quarter"], "quarter") if params.get("quarter") else None,
                    _int(params["month"], "month") if params.get("month") else None,
                    int(self.app.section.get("budget_alert_pct") or 90))}
            periods = [p for p in params.get("periods", f"{start:%Y-%m}").split(",") if p]
            return statements.collection(s, periods, pid)
        return await self.api.db.run(q)

    async def _run(self, handler, request) -> None:
        fmt = query_params(request).get("format", "json")
        if fmt not in ("csv", "html"):
            return await super()._run(handler, request)
        try:
            st = await self.statement(request, self.authenticate(request))
        except BusinessError as exc:
            write_json(request, exc.http_status, error_payload(exc))
            return
        body = (to_csv(st) if fmt == "csv" else to_html(st)).encode("utf-8")
        request.setResponseCode(200)
        request.setHeader(b"content-type", b"text/csv; charset=utf-8" if fmt == "csv" else b"text/html; charset=utf-8")
        if fmt == "csv":
            request.setHeader(b"content-disposition", f'attachment; filename="{st["statement"]}.csv"'.encode())
        request.setHeader(b"content-length", str(len(body)).encode())
        request.write(body)
        request.finish()


class ExpensesResource(_Base):
    """POST /finance/expenses (supplier invoice), POST /finance/expenses/<id>/pay, GET lists."""

    async def handle_GET(self, request, principal):
        self.require(principal, "finance.read")
        from .models import Expense
        return 200, {"items": await self.api.db.run(lambda s: [expenses.expense_json(e) for e in s.scalars(
            select(Expense).order_by(Expense.id.desc()).limit(500))])}

    async def handle_POST(self, request, principal):
        self.require(principal, "finance.write")
        parts, body = self.path(request), read_json(request)
        now = self.api.clock()
        if len(parts) == 2 and parts[1] == "pay":
            e = await self.api.db.run(lambda s: expenses.expense_json(expenses.pay_invoice(
                s, _int(parts[0], "id"), body.get("method", "bank_transfer"), self.app.today(), now, principal.user)))
            return 200, e

        def rec(s):
            pid = self.app.prepare(s)
            bid = None
            if body.get("building"):
                bid = s.scalar(select(Building.id).where(Building.code == body["building"]))
                if bid is None:
                    raise ValidationError("unknown building", {"building": "unknown"})
            e, created = expenses.record_invoice(s, pid, str(body.get("supplier", "")), str(body.get("invoice_no", "")),
                                                 str(body.get("account", "")), to_fen_exact(body.get("amount"), "amount"),
                                                 _date(body, "invoice_date", self.app.today()), now, bid,
                                                 str(body.get("source", "")), principal.user)
            return created, expenses.expense_json(e)
        created, e = await self.api.db.run(rec)
        return (201 if created else 200), e


class LateFeesResource(_Base):
    """POST /finance/late-fees {as_of}: bring late fees up to date now."""

    async def handle_POST(self, request, principal):
        self.require(principal, "finance.write")
        as_of = self.app.today()
        n = await self.api.db.run(lambda s: self.app.late_fees(s, as_of, principal.user))
        return 200, {"late_fee_lines": n, "as_of": as_of.isoformat()}


class FinanceResource(Resource):
    """``/api/v1/finance``: dispatch to the sub-resources."""

    def __init__(self, api, app) -> None:
        super().__init__()
        self.children_map = {
            b"accounts": AccountsResource(api, app), b"fee-items": FeeItemsResource(api, app),
            b"billing-runs": BillingRunsResource(api, app), b"bills": BillsResource(api, app),
            b"payments": PaymentsResource(api, app), b"callbacks": CallbackResource(api, app),
            b"ledger": LedgerResource(api, app), b"statements": StatementsResource(api, app),
            b"expenses": ExpensesResource(api, app), b"late-fees": LateFeesResource(api, app)}
        # in their own modules (they import _Base from here)
        from .api_closing import ClosingResource
        from .api_deposits import DepositsResource
        from .api_parking import ParkingResource
        self.children_map.update({b"deposits": DepositsResource(api, app), b"parking": ParkingResource(api, app),
                                  b"closing": ClosingResource(api, app)})

    def getChild(self, path, request):
        """The sub-resource for the first path segment."""
        child = self.children_map.get(path)
        if child is None:
            from twisted.web.resource import NoResource
            return NoResource("unknown finance resource")
        return child


__all__ = ["FinanceResource", "operations"]
