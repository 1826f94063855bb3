"""REST for temporary parking under ``/api/v1/finance/parking`` (mounted by :class:`business.finance.api.FinanceResource`).

- ``GET /finance/parking/quote?entered&left[&fee_item]`` (``finance.read``): the fee of a stay, explained;
- ``POST /finance/parking/sales`` ``{plate, entered, left, method, fee_item}`` (``finance.write``): charge
  the stay with a receipt (201; 200 when the same plate and entry time was sold before, or the stay is free);
- ``GET /finance/parking/sales`` (``finance.read``): the latest sales.

Times are ISO 8601; without an offset they are the site's local time.
"""

from __future__ import annotations

from sqlalchemy import select

from ..api.base import query_params, read_json
from ..errors import BadRequest, NotFound
from . import temp_parking
from .api import _Base, _int
from .models import Payment
from .payments import payment_json


class ParkingResource(_Base):
    """Quotes and sales of temporary parking."""

    async def handle_GET(self, request, principal):
        self.require(principal, "finance.read")
        parts, params = self.path(request), query_params(request)
        if parts == ["quote"]:
            tz = self.app.timezone
            entered = temp_parking.parse_time(params.get("entered"), "entered", tz)
            left = temp_parking.parse_time(params.get("left"), "left", tz)
            return 200, await self.api.db.run(lambda s: temp_parking.quote(
                temp_parking.tariff(s, self.app.prepare(s), params.get("fee_item")), entered, left))
        if parts == ["sales"]:
            limit = min(max(_int(params.get("limit", 100), "limit"), 1), 1000)
            return 200, {"items": await self.api.db.run(lambda s: [payment_json(p) for p in s.scalars(
                select(Payment).where(Payment.property_id == self.app.prepare(s), Payment.kind == "sale")
                .order_by(Payment.id.desc()).limit(limit))])}
        raise NotFound("use GET /finance/parking/quote or /finance/parking/sales")

    async def handle_POST(self, request, principal):
        self.require(principal, "finance.write")
        if self.path(request) != ["sales"]:
            raise NotFound("use POST /finance/parking/sales")
        body = read_json(request)
        if not isinstance(body, dict):
            raise BadRequest("a JSON object is required", {"body": "must be an object"})
        tz = self.app.timezone
        entered = temp_parking.parse_time(body.get("entered"), "entered", tz)
        left = temp_parking.parse_time(body.get("left"), "left", tz)
        method = body.get("method", "cash")
        now = self.api.clock()

        def sell(s):
            pid = self.app.prepare(s)
            item = temp_parking.tariff(s, pid, body.get("fee_item"))
            return temp_parking.sell(s, pid, item, body.get("plate"), entered, left, method, now, principal.user)
        out, created = await self.run_retrying(sell)
        return (201 if created else 200), out


__all__ = ["ParkingResource"]
