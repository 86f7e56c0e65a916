"""Money: integer nano-units in the store, decimal on the wire; never a float in between."""

from __future__ import annotations

from decimal import Decimal

NANOS_PER_USD = Decimal(1_000_000_000)


def nanos_to_usd(nanos: int) -> Decimal:
    return (Decimal(nanos) / NANOS_PER_USD).normalize() if nanos else Decimal(0)
