"""The ``finance:`` section of a site: fee items, late fees, meters, dunning, payment providers, budgets.

Money and prices are decimal strings (``"2.85"``); a YAML float is refused
with a hint to quote it, because floats are not exact. Example in
``examples/demo/finance.yaml`` and docs/finance.md.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from tagdb.site.errors import ConfigError
from tagdb.site.schema import AnyValue, Bool, Duration, Field, Int, ListOf, MapOf, Obj, Schema, Str

from .accounts import CHART
from .fees import KINDS


class Money(Schema):
    """A decimal string (``"2.85"``, ``"-10"``); ints are accepted, floats are not (inexact)."""

    description = "decimal string"

    def __init__(self, min_value: str | None = None) -> None:
        self.min_value = Decimal(min_value) if min_value is not None else None

    def check(self, value, field, loc):
        """The value as a normalised decimal string, or an error naming the field."""
        if isinstance(value, bool) or isinstance(value, float):
            return None, [ConfigError(loc, field, f"{value!r}: write money and prices as quoted decimal strings "
                                                  f"(\"{value}\"), floats are not exact")]
        try:
            d = Decimal(str(value).strip()) if isinstance(value, (str, int)) else None
        except InvalidOperation:
            d = None
        if d is None or not d.is_finite():
            return None, [ConfigError(loc, field, f"{value!r} is not a decimal number")]
        if self.min_value is not None and d < self.min_value:
            return None, [ConfigError(loc, field, f"{value} is below the minimum {self.min_value}")]
        return str(d), []


ACCOUNT_CODES = tuple(c for c, *_ in CHART)
TIER = Obj({"upto": Field(Money("0")), "price": Field(Money("0"), required=True)})


def _check_item(item, field, value) -> list[ConfigError]:
    from tagdb.site.errors import Loc
    loc = value.loc if value is not None and hasattr(value, "loc") else Loc("finance")
    p, kind, errs = item["params"] or {}, item["kind"], []
    need = {"gross_area": ["price"], "inner_area": ["price"], "fixed": ["amount"], "metered": [],
            "shared": ["master", "price"], "parking_monthly": ["price"], "parking_temp": ["first_price"],
            "one_off": []}[kind]
    for key in need:
        if key not in p:
            errs.append(ConfigError(loc, f"{field}.params.{key}", f"is required for kind {kind}"))
    if kind == "metered" and "price" not in p and "tiers" not in p:
        errs.append(ConfigError(loc, f"{field}.params", "a metered item needs price or tiers"))
    for key in ("price", "amount", "first_price", "period_price", "daily_cap", "vacancy_discount", "cost_price"):
        if key in p:
            _, e = Money("0").check(p[key], f"{field}.params.{key}", loc)
            errs += e
    for i, tier in enumerate(p.get("tiers") or []):
        _, e = TIER.check(tier, f"{field}.params.tiers[{i}]", loc)
        errs += e
    return errs


FEE_ITEM = Obj({
    "code": Field(Str(pattern=r"[a-z0-9][a-z0-9_\-]*"), required=True),
    "name": Field(Str(min_len=1), required=True),
    "kind": Field(Str(choices=KINDS), required=True),
    "params": Field(AnyValue(), default={}, doc="price/amount/tiers/tag/master/sub_meters/buildings/uses/kinds/..."),
    "account": Field(Str(choices=ACCOUNT_CODES), required=True, doc="revenue account"),
    "cycle_months": Field(Int(min=1, max=12), default=1),
    "prepaid": Field(Bool(), default=False),
    "due_days": Field(Int(min=0, max=365), default=15),
    "grace_days": Field(Int(min=0, max=365), default=0),
    "active": Field(Bool(), default=True),
}, check_fn=_check_item)

BUDGET = Obj({
    "year": Field(Int(min=2000, max=2100), required=True),
    "account": Field(Str(choices=ACCOUNT_CODES), required=True),
    "building": Field(Str()),
    "annual": Field(Money(), doc="split evenly over 12 months (remainder fen in the first months)"),
    "months": Field(ListOf(Money()), doc="12 monthly amounts instead of annual"),
})

STEP = Obj({"name": Field(Str(pattern=r"[a-z0-9_\-]+"), required=True),
            "days": Field(Int(min=-60, max=365), required=True, doc="days after the due date (negative: before)")})

SECTION = Obj({
    "enabled": Field(Bool(), default=True),
    "fee_items": Field(ListOf(FEE_ITEM), default=[]),
    "late_fee": Field(Obj({
        "daily_rate": Field(Money("0"), default="0.003", doc="per day on the overdue principal (0.003 = 3‰)"),
        "cap": Field(Money("0"), default="1", doc="total late fees at most this fraction of the principal"),
        "enabled": Field(Bool(), default=True),
    }), default={"daily_rate": "0.003", "cap": "1", "enabled": True}),
    "meters": Field(Obj({
        "max_age": Field(Duration(min=1), default=86400.0, doc="a boundary reading older than this is held"),
        "overrides": Field(MapOf(Str(), key_pattern=r"[A-Za-z0-9_\-]+/[A-Za-z0-9_.\-]+"), default={},
                           doc="building/unit → meter equipment id"),
    }), default={"max_age": 86400.0, "overrides": {}}),
    "dunning": Field(Obj({
        "enabled": Field(Bool(), default=True),
        "steps": Field(ListOf(STEP), default=[{"name": "before_due", "days": -3}, {"name": "due", "days": 0},
                                              {"name": "overdue_7", "days": 7}, {"name": "overdue_30", "days": 30}]),
        "check_every": Field(Duration(min=1), default=3600.0),
    }), default={"enabled": True, "steps": [{"name": "before_due", "days": -3}, {"name": "due", "days": 0},
                                            {"name": "overdue_7", "days": 7}, {"name": "overdue_30", "days": 30}],
                 "check_every": 3600.0}),
    "providers": Field(MapOf(Obj({"secret": Field(Str(min_len=16), required=True,
                                                  doc="HMAC-SHA256 key shared with the provider")})), default={}),
    "budgets": Field(ListOf(BUDGET), default=[]),
    "budget_alert_pct": Field(Int(min=1, max=1000), default=90, doc="alert when actual exceeds this % of budget"),
})


def validate_site(site) -> list[ConfigError]:
    """Budget buildings must exist; fee item codes must be unique."""
    from tagdb.site.errors import Loc
    sec = site.section("finance") or {}
    errs, seen = [], set()
    known = {b.id for b in site.buildings}
    for i, item in enumerate(sec.get("fee_items") or []):
        if item["code"] in seen:
            errs.append(ConfigError(Loc("finance"), f"finance.fee_items[{i}].code", f"duplicate code {item['code']!r}"))
        seen.add(item["code"])
        for b in (item.get("params") or {}).get("buildings") or []:
            if b not in known:
                errs.append(ConfigError(Loc("finance"), f"finance.fee_items[{i}].params.buildings", f"unknown building {b!r}"))
    for i, b in enumerate(sec.get("budgets") or []):
        if b.get("building") and b["building"] not in known:
            errs.append(ConfigError(Loc("finance"), f"finance.budgets[{i}].building", f"unknown building {b['building']!r}"))
        if (b.get("annual") is None) == (b.get("months") is None):
            errs.append(ConfigError(Loc("finance"), f"finance.budgets[{i}]", "give exactly one of annual or months"))
        elif b.get("months") is not None and len(b["months"]) != 12:
            errs.append(ConfigError(Loc("finance"), f"finance.budgets[{i}].months", "needs 12 amounts"))
    return errs
