"""Fee formulas: area-based, fixed, metered (tiered), shared common-area, parking, one-off.

Pure functions over Decimal (no database): each returns the amount in fen
plus the quantity, unit price and an explanation for the bill line.
``params`` are the fee item's parameters with prices as decimal strings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from decimal import Decimal

from .money import FEN, dec, round_fen

KINDS = ("gross_area", "inner_area", "fixed", "metered", "shared", "parking_monthly", "parking_temp", "one_off")
PER_UNIT_KINDS = ("gross_area", "inner_area", "fixed", "metered", "shared")


@dataclass
class LinePlan:
    """A bill line to be written: amount in fen, exact quantity/price strings, explanation."""

    fee_code: str
    description: str
    quantity: str
    unit_price: str
    amount: int
    account: str
    kind: str = "charge"
    held: bool = False
    hold_reason: str = ""
    detail: dict = field(default_factory=dict)


def price(params: dict, key: str = "price") -> Decimal:
    """A price parameter as Decimal (config validation guarantees it is a decimal string)."""
    return dec(params.get(key, "0"), key)


def area_charge(area: Decimal, unit_price: Decimal, months: int) -> tuple[int, dict]:
    """``area × price × months`` rounded to the fen (建筑面积 × 单价 × 月数)."""
    exact = area * unit_price * months
    return round_fen(exact / FEN), {"area_m2": str(area), "price_per_m2_month": str(unit_price), "months": months,
                                    "exact": str(exact)}


def tiered(consumption: Decimal, tiers: list[dict]) -> tuple[int, list[dict]]:
    """Amount for ``consumption`` over cumulative tiers ``[{upto, price}, ..., {price}]``.

    Each tier's slice is priced exactly; the sum is rounded once, to the fen.
    """
    remaining, lower, total, parts = consumption, Decimal(0), Decimal(0), []
    for tier in tiers:
        upto = tier.get("upto")
        p = dec(tier["price"], "price")
        width = (dec(upto, "upto") - lower) if upto is not None else remaining
        used = min(remaining, width) if upto is not None else remaining
        if used > 0:
            total += used * p
            parts.append({"from": str(lower), "to": str(upto) if upto is not None else None, "quantity": str(used),
                          "price": str(p), "amount": str((used * p).quantize(FEN))})
            remaining -= used
        if upto is not None:
            lower = dec(upto, "upto")
        if remaining <= 0:
            break
    return round_fen(total / FEN), parts


def metered_price(params: dict) -> list[dict]:
    """The tier list of a metered item (a flat ``price`` is one open tier)."""
    return params.get("tiers") or [{"price": params.get("price", "0")}]


def temp_parking_fee(minutes: int, params: dict) -> tuple[int, dict]:
    """Temporary parking: free minutes, first period, then per period, each 24 h capped at ``daily_cap``.

    Staying longer than the free minutes makes the whole stay chargeable.
    """
    free = int(params.get("free_minutes", 15))
    if minutes <= free:
        return 0, {"minutes": minutes, "free_minutes": free, "days": 0}
    first_m, first_p = int(params.get("first_minutes", 60)), price(params, "first_price")
    per_m, per_p = int(params.get("period_minutes", 60)), price(params, "period_price")
    cap = price(params, "daily_cap") if params.get("daily_cap") is not None else None

    def block(m: int) -> Decimal:
        if m <= 0:
            return Decimal(0)
        fee = first_p if m <= first_m else first_p + math.ceil((m - first_m) / per_m) * per_p
        return min(fee, cap) if cap is not None else fee

    days, rest = divmod(minutes, 1440)
    total = block(1440) * days + block(rest)
    return round_fen(total / FEN), {"minutes": minutes, "full_days": days, "rest_minutes": rest,
                                    "daily_cap": str(cap) if cap is not None else None}


def vacancy_line(charge: LinePlan, fraction: Decimal) -> LinePlan:
    """An explicit discount line for a vacant unit: ``-amount × fraction``."""
    amount = -round_fen(Decimal(charge.amount) * fraction)
    return LinePlan(charge.fee_code, f"vacancy discount {fraction * 100:.0f}% on {charge.description}", "1",
                    str(-fraction), amount, charge.account, kind="discount",
                    detail={"of_amount": charge.amount, "fraction": str(fraction)})
