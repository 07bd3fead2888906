"""Products and their price policy: what a product lists at, costs, and may be sold down to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, InvalidTransition, ValidationFailed

CENT = Decimal("0.01")
CURRENCY = re.compile(r"^[A-Z]{3}$")


@dataclass(frozen=True)
class Prices:
    """A product's price policy. Amounts are in `currency`, to the cent."""

    list_price: Decimal
    unit_cost: Decimal
    floor_price: Decimal
    currency: str

    @classmethod
    def of(
        cls, *, list_price: Decimal, unit_cost: Decimal, floor_price: Decimal, currency: str
    ) -> Prices:
        """The policy, if it holds: 0 <= unit_cost, 0 < floor_price <= list_price; else the
        fields that break it."""
        amounts = {"list_price": list_price, "unit_cost": unit_cost, "floor_price": floor_price}
        errors = [
            FieldError(field, "must be a whole number of cents")
            for field, amount in amounts.items()
            if Decimal(amount).as_tuple().exponent < -2  # type: ignore[operator]
        ]
        if not CURRENCY.match(currency):
            errors.append(FieldError("currency", "must be an ISO 4217 code such as EUR"))
        if unit_cost < 0:
            errors.append(FieldError("unit_cost", "must not be negative"))
        if floor_price <= 0:
            errors.append(FieldError("floor_price", "must be above zero"))
        elif floor_price > list_price:
            errors.append(FieldError("floor_price", "must not be above list_price"))
        if errors:
            raise ValidationFailed(errors)
        return cls(
            list_price=Decimal(list_price).quantize(CENT),
            unit_cost=Decimal(unit_cost).quantize(CENT),
            floor_price=Decimal(floor_price).quantize(CENT),
            currency=currency,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "list_price": self.list_price,
            "unit_cost": self.unit_cost,
            "floor_price": self.floor_price,
            "currency": self.currency,
        }


class Product(CrmAggregate):
    """Something we sell. Its sku never changes; price changes are history, never overwritten."""

    id: UUID
    kind = "product"

    @event("Listed")
    def __init__(
        self,
        sku: str,
        name: str,
        list_price: Decimal,
        unit_cost: Decimal,
        floor_price: Decimal,
        currency: str,
    ) -> None:
        self.sku = sku
        self.name = name
        self.list_price = list_price
        self.unit_cost = unit_cost
        self.floor_price = floor_price
        self.currency = currency
        self.active = True

    @classmethod
    def list_new(cls, product_id: UUID, *, sku: str, name: str, prices: Prices) -> Product:
        return cls.with_id(product_id, sku=sku, name=name, **prices.as_dict())

    @property
    def prices(self) -> Prices:
        return Prices(self.list_price, self.unit_cost, self.floor_price, self.currency)

    def change_details(self, **changes: Any) -> None:
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changes:
            self._require_active("changed")
            self._details_changed(changes=changes)

    @event("DetailsChanged")
    def _details_changed(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def change_prices(self, prices: Prices, reason: str | None) -> None:
        """Records new prices only when they differ from the current ones."""
        if prices != self.prices:
            self._require_active("repriced")
            self._prices_changed(**prices.as_dict(), reason=reason)

    @event("PricesChanged")
    def _prices_changed(
        self,
        list_price: Decimal,
        unit_cost: Decimal,
        floor_price: Decimal,
        currency: str,
        reason: str | None,
    ) -> None:
        self.list_price = list_price
        self.unit_cost = unit_cost
        self.floor_price = floor_price
        self.currency = currency

    def discontinue(self) -> None:
        if not self.active:
            raise InvalidTransition("the product is already discontinued", code="discontinued")
        self._discontinued()

    @event("Discontinued")
    def _discontinued(self) -> None:
        self.active = False

    def reinstate(self) -> None:
        if self.active:
            raise InvalidTransition("the product is not discontinued", code="not_discontinued")
        self._reinstated()

    @event("Reinstated")
    def _reinstated(self) -> None:
        self.active = True

    def discount_pct(self, unit_price: Decimal) -> Decimal:
        """How far below list price `unit_price` is, in percent (negative above list)."""
        return (self.list_price - unit_price) / self.list_price * 100

    def below_floor(self, unit_price: Decimal) -> bool:
        """Whether selling at `unit_price` needs a manager's approval."""
        return unit_price < self.floor_price

    def _require_active(self, verb: str) -> None:
        if not self.active:
            raise InvalidTransition(
                f"a discontinued product cannot be {verb}; reinstate it first",
                code="discontinued",
            )
