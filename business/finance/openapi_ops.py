"""The finance operations as documented in ``/api/v1/openapi.json`` (with their permissions)."""

from __future__ import annotations

from tagdb.api.openapi import Operation, Param, Response, errors

STATEMENTS = ("trial_balance", "balance_sheet", "income_statement", "cash_flow", "ageing", "collection", "budget")


def _op(method, path, summary, perm, params=(), body=None, ok=200, public=False) -> Operation:
    oid = "finance_" + method.lower() + "_" + path.strip("/").replace("/", "_").replace("{", "").replace("}", "").replace("-", "_")
    return Operation(method, path, summary, oid, tags=("finance",), parameters=tuple(params),
                     request_body={"content": {"application/json": {"schema": {"type": "object"}}}} if body else None,
                     responses={ok: Response("OK", {"type": "object"}), **errors(400, 401, 403, 404, 409, 422)},
                     permission=None if public else perm)


def operations() -> list[Operation]:
    """The finance operations for openapi.json."""
    ident = Param("id", "path", {"type": "integer"}, required=True)
    frm, to = Param("from", schema={"type": "string", "format": "date"}), Param("to", schema={"type": "string", "format": "date"})
    return [
        _op("GET", "/finance/accounts", "Chart of accounts with balances", "finance.read", [Param("as_of")]),
        _op("GET", "/finance/fee-items", "List fee items", "finance.read"),
        _op("POST", "/finance/fee-items", "Create or update a fee item (by code)", "finance.write", body=True, ok=201),
        _op("GET", "/finance/billing-runs", "Posted billing runs", "finance.read"),
        _op("POST", "/finance/billing-runs", "Preview or post a billing run for a period (idempotent)", "finance.write",
            body=True, ok=201),
        _op("GET", "/finance/bills", "Bills (residents: their own units only)", "bills.read",
            [Param("period"), Param("status"), Param("unit_id"), Param("page"), Param("per_page")]),
        _op("GET", "/finance/bills/{id}", "One bill with its lines, readings and hold reasons", "bills.read", [ident]),
        _op("POST", "/finance/bills/{id}/pay", "Start an online payment of a bill (payment order)", "bills.pay",
            [ident], body=True, ok=201),
        _op("POST", "/finance/bills/{id}/lines/{line}/release", "Bill a held metered or shared line after review "
            "(quantity: the unit's consumption, or the common consumption of a shared item)",
            "finance.write", [ident, Param("line", "path", {"type": "integer"}, required=True)], body=True, ok=201),
        _op("GET", "/finance/payments", "Receipts (residents: their own)", "bills.read", [Param("unit_id")]),
        _op("POST", "/finance/payments", "Record a counter payment (cash, card, bank transfer)", "finance.write",
            body=True, ok=201),
        _op("POST", "/finance/payments/refund", "Refund part of a prepaid balance", "finance.write", body=True, ok=201),
        _op("POST", "/finance/callbacks/{provider}", "Payment provider notification (HMAC-signed)", None,
            [Param("provider", "path", required=True)], body=True, public=True),
        _op("GET", "/finance/ledger", "Journal entries", "finance.read", [frm, to, Param("account"), Param("limit")]),
        _op("POST", "/finance/ledger/{id}/reverse", "Post the reversing entry", "finance.write", [ident], ok=201),
        _op("GET", "/finance/statements/{kind}", "Statement: " + ", ".join(STATEMENTS) + " (format=json|csv|html)",
            "finance.read", [Param("kind", "path", required=True), frm, to, Param("as_of"), Param("format"),
                             Param("consolidated"), Param("periods"), Param("year"), Param("quarter"), Param("month")]),
        _op("GET", "/finance/expenses", "Supplier invoices", "finance.read"),
        _op("POST", "/finance/expenses", "Record a supplier invoice", "finance.write", body=True, ok=201),
        _op("POST", "/finance/expenses/{id}/pay", "Pay a supplier invoice", "finance.write", [ident], body=True),
        _op("POST", "/finance/late-fees", "Bring late fees up to date", "finance.write"),
        _op("GET", "/finance/deposits", "Deposits held per unit with movements (residents: their own units)",
            "bills.read", [Param("unit_id")]),
        _op("POST", "/finance/deposits", "Receive a deposit for a unit {unit_id, amount, method, memo, ref}",
            "finance.write", body=True, ok=201),
        _op("POST", "/finance/deposits/refund", "Pay back (part of) a unit's deposit", "finance.write", body=True,
            ok=201),
        _op("POST", "/finance/deposits/forfeit", "Keep (part of) a unit's deposit as income {unit_id, amount, account}",
            "finance.write", body=True, ok=201),
        _op("GET", "/finance/parking/quote", "Temporary parking fee of a stay", "finance.read",
            [Param("entered", required=True), Param("left", required=True), Param("fee_item")]),
        _op("GET", "/finance/parking/sales", "Temporary parking sales (receipts)", "finance.read", [Param("limit")]),
        _op("POST", "/finance/parking/sales", "Charge a temporary parking stay {plate, entered, left, method}",
            "finance.write", body=True, ok=201),
        _op("GET", "/finance/closing", "Closed fiscal years, lock date and closing history", "finance.read"),
        _op("POST", "/finance/closing", "Close a finished fiscal year {year} (idempotent: 200 when closed already)",
            "finance.write", body=True, ok=201),
        _op("POST", "/finance/closing/{year}/reopen", "Reopen a closed year {reason} (reverses the closing; audited)",
            "finance.reopen", [Param("year", "path", {"type": "integer"}, required=True)], body=True, ok=201),
    ]
