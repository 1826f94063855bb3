"""Integer fen ⇄ Decimal yuan, exact rounding helpers (never float)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .errors import ValidationError

FEN = Decimal("0.01")


def dec(value, field: str = "amount") -> Decimal:
    """A Decimal from a string/int/Decimal; floats are refused (they are not exact)."""
    if isinstance(value, float):
        raise ValidationError(f"{field}: floats are not accepted for money; send a string like \"12.34\"",
                              {field: "must be a decimal string, not a float"})
    if isinstance(value, bool):
        raise ValidationError(f"{field}: not a number", {field: "not a number"})
    try:
        d = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except (InvalidOperation, ValueError):
        raise ValidationError(f"{field}: {value!r} is not a decimal number", {field: "not a decimal number"}) from None
    if not d.is_finite():
        raise ValidationError(f"{field}: {value!r} is not finite", {field: "not finite"})
    return d


def to_fen(value, field: str = "amount") -> int:
    """Yuan (string/Decimal/int) → integer fen, rounded half-up to the fen."""
    return int((dec(value, field) / FEN).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_fen_exact(value, field: str = "amount") -> int:
    """Yuan → integer fen for money entered by people: required, and refused (naming ``field``)
    when it is a float or has fractions of a fen, instead of being rounded silently."""
    if value is None or value == "":
        raise ValidationError(f"{field} is required (a decimal string like \"12.34\")", {field: "is required"})
    d = dec(value, field)
    if d != d.quantize(FEN):
        raise ValidationError(f"{field}: {value!r} has fractions of a fen", {field: "at most 2 decimal places"})
    return int(d / FEN)


def round_fen(amount: Decimal) -> int:
    """A Decimal amount of fen (e.g. area × price × 100) rounded half-up to whole fen."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def yuan(fen: int) -> str:
    """Integer fen → exact yuan string ``"-12.05"`` (what JSON and CSV carry)."""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def yuan_dec(fen: int) -> Decimal:
    """Integer fen → Decimal yuan."""
    return Decimal(int(fen)) * FEN


def split_even(total: int, parts: int) -> list[int]:
    """Split ``total`` fen into ``parts`` integers that add up exactly (remainder on the first parts)."""
    base, rest = divmod(total, parts)
    return [base + (1 if i < rest else 0) for i in range(parts)]


def allocate(total: int, weights: list[Decimal]) -> list[int]:
    """Split ``total`` fen in proportion to ``weights`` (largest-remainder method: sums exactly)."""
    wsum = sum(weights)
    if wsum <= 0:
        return [0] * len(weights)
    raw = [Decimal(total) * w / wsum for w in weights]
    floors = [int(r.to_integral_value(rounding="ROUND_FLOOR")) for r in raw]
    left = total - sum(floors)
    order = sorted(range(len(raw)), key=lambda i: (raw[i] - floors[i], -i), reverse=True)
    for i in order[:left]:
        floors[i] += 1
    return floors
