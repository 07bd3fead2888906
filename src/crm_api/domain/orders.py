"""Sales orders: what a customer bought, when, at which price and (for margins) at which cost.

Orders come from an accepted quote or from an integrator's system (ERP, e-commerce), keyed
there by `(source, external_id)`. The record id derives from that key, so pushing the same
order again finds the same record: an upsert that records only what changed.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from crm_api.domain.custom_fields import Customisable
from crm_api.domain.errors import InvalidTransition

CENT = Decimal("0.01")
QUANTUM = Decimal("0.001")
QUOTE_SOURCE = "quote"


class OrderStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"


OPEN = OrderStatus.OPEN.value
CANCELLED = OrderStatus.CANCELLED.value


def order_id_for(source: str, external_id: str) -> UUID:
    """The record id of the order an external system knows as (source, external_id)."""
    return uuid5(NAMESPACE_URL, f"crm-order:{source.strip().lower()}:{external_id.strip()}")


def order_line(
    number: int,
    *,
    product_id: str,
    sku: str,
    quantity: Decimal,
    unit_price: Decimal,
    unit_cost: Decimal | None,
) -> dict[str, Any]:
    """A line as recorded: quantities to three decimals, money to the cent."""
    return {
        "line": number,
        "product_id": product_id,
        "sku": sku,
        "quantity": Decimal(quantity).quantize(QUANTUM),
        "unit_price": Decimal(unit_price).quantize(CENT),
        "unit_cost": None if unit_cost is None else Decimal(unit_cost).quantize(CENT),
    }


def _cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def order_totals(lines: list[dict[str, Any]]) -> dict[str, Decimal | None]:
    """Amount; cost and margin only when every line carries its cost."""
    amount = sum(
        (_cents(Decimal(x["quantity"]) * Decimal(x["unit_price"])) for x in lines), Decimal(0)
    )
    if any(line["unit_cost"] is None for line in lines):
        return {"amount": amount, "cost": None, "margin": None}
    cost = sum(
        (_cents(Decimal(x["quantity"]) * Decimal(x["unit_cost"])) for x in lines), Decimal(0)
    )
    return {"amount": amount, "cost": cost, "margin": amount - cost}


def fingerprint(content: dict[str, Any]) -> str:
    """A digest of an order's content (account, time, currency, lines, reference): equal
    digests, equal orders. Lets an import skip an unchanged order without loading it."""
    raw = json.dumps(content, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class Order(Customisable):
    id: UUID
    kind = "order"
    record_type = "orders"

    @event("Placed")
    def __init__(
        self,
        source: str,
        external_id: str,
        account_id: str,
        quote_id: str | None,
        ordered_at: datetime,
        currency: str,
        reference: str | None,
        lines: list[dict[str, Any]],
    ) -> None:
        self.source = source
        self.external_id = external_id
        self.account_id = account_id
        self.quote_id = quote_id
        self.ordered_at = ordered_at
        self.currency = currency
        self.reference = reference
        self.lines = lines
        self.status = OPEN
        self.cancel_reason: str | None = None

    @classmethod
    def place(cls, **content: Any) -> Order:
        return cls.with_id(order_id_for(content["source"], content["external_id"]), **content)

    @property
    def content(self) -> dict[str, Any]:
        """What an upsert compares: the fields a source system sends."""
        return {
            "account_id": self.account_id,
            "ordered_at": self.ordered_at,
            "currency": self.currency,
            "reference": self.reference,
            "lines": self.lines,
        }

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.content)

    @property
    def totals(self) -> dict[str, Decimal | None]:
        return order_totals(self.lines)

    def revise(self, **content: Any) -> bool:
        """Record the order's new content if any of it differs; False when it is the same."""
        current = self.content
        changed = sorted(k for k, v in content.items() if current[k] != v)
        if not changed:
            return False
        if self.status == CANCELLED:
            raise InvalidTransition(
                "a cancelled order cannot be changed", code="invalid_state", state=self.status
            )
        self._revised(changed=changed, **{**current, **content})
        return True

    @event("Revised")
    def _revised(
        self,
        changed: list[str],
        account_id: str,
        ordered_at: datetime,
        currency: str,
        reference: str | None,
        lines: list[dict[str, Any]],
    ) -> None:
        """The whole order as it now stands, and which of its fields changed."""
        self.account_id = account_id
        self.ordered_at = ordered_at
        self.currency = currency
        self.reference = reference
        self.lines = lines

    def cancel(self, reason: str | None) -> None:
        if self.status == CANCELLED:
            raise InvalidTransition(
                "the order is already cancelled", code="invalid_state", state=self.status
            )
        self._cancelled(reason=reason)

    @event("Cancelled")
    def _cancelled(self, reason: str | None) -> None:
        self.status = CANCELLED
        self.cancel_reason = reason
