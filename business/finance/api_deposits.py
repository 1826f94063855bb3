"""REST for deposits under ``/api/v1/finance/deposits`` (mounted by :class:`business.finance.api.FinanceResource`).

- ``GET /finance/deposits[?unit_id]``: per unit, the deposit held (from the
  2241 postings), totals received/refunded/forfeited and the movements;
  residents (``bills.read`` on their unit) see their own units only.
- ``POST /finance/deposits`` ``{unit_id, amount, method, memo, ref}``: receive;
- ``POST /finance/deposits/refund`` ``{unit_id, amount, method, memo, ref}``: pay back;
- ``POST /finance/deposits/forfeit`` ``{unit_id, amount, account, memo, ref}``: keep as income.

Writes need ``finance.write`` on the property. Amounts are decimal strings
(a JSON float is refused naming the field); ``ref`` (optional) makes a retry
return the first movement (200) instead of posting again (201).
"""

from __future__ import annotations

from ..api.base import query_params, read_json
from ..errors import BadRequest, NotFound
from . import deposits
from .api import _Base, _int
from .money import to_fen_exact, yuan
from .payments import payment_json


class DepositsResource(_Base):
    """GET lists deposits per unit; POST receives, POST refund/forfeit pay back or keep."""

    async def handle_GET(self, request, principal):
        params = query_params(request)
        unit = _int(params["unit_id"], "unit_id") if params.get("unit_id") else None

        def q(s):
            pid = self.app.prepare(s)
            allowed = self.resident_units(s, principal, "bills.read")
            units = allowed
            if unit is not None:
                units = {unit} if allowed is None or unit in allowed else set()
            out = {"items": deposits.deposits(s, pid, units)}
            if allowed is None and unit is None:
                out["total_held"] = yuan(deposits.total_held(s, pid))
            return out
        return 200, await self.api.db.run(q)

    async def handle_POST(self, request, principal):
        self.require(principal, "finance.write")
        parts = self.path(request)
        action = parts[0] if parts else "receive"
        if action not in ("receive", "refund", "forfeit") or len(parts) > 1:
            raise NotFound("use POST /finance/deposits, /finance/deposits/refund or /finance/deposits/forfeit")
        body = read_json(request)
        if not isinstance(body, dict):
            raise BadRequest("a JSON object is required", {"body": "must be an object"})
        unit_id = _int(body.get("unit_id"), "unit_id")
        amount = to_fen_exact(body.get("amount"), "amount")
        memo, ref = str(body.get("memo", ""))[:400], body.get("ref")
        now, actor = self.api.clock(), principal.user

        def post(s):
            pid = self.app.prepare(s)
            if action == "forfeit":
                entry, created = deposits.forfeit(s, pid, unit_id, amount, now, body.get("account", deposits.FORFEIT_ACCOUNT),
                                                  ref, actor, memo)
                out = {"entry_id": entry.id, "kind": "forfeit", "unit_id": unit_id, "amount": yuan(amount),
                       "account": body.get("account", deposits.FORFEIT_ACCOUNT), "memo": entry.memo}
            else:
                fn = deposits.receive if action == "receive" else deposits.refund
                default = "cash" if action == "receive" else "bank_transfer"
                p, created = fn(s, pid, unit_id, amount, body.get("method", default), now, ref, actor, memo)
                out = payment_json(p)
            return created, {**out, "held": yuan(deposits.held(s, unit_id))}
        created, out = await self.run_retrying(post)
        return (201 if created else 200), out


__all__ = ["DepositsResource"]
