"""Forecasts: what a rep expects to win in a month or a quarter, revised as often as needed.

There is one forecast per (owner, period); its id derives from both, so it is found without a
lookup. Every revision is an event, so what was forecast at any instant stays readable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.catalog import CENT
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.opportunities import money_errors

PERIOD = re.compile(r"^(?P<year>\d{4})-(?:(?P<month>0[1-9]|1[0-2])|Q(?P<quarter>[1-4]))$")
MAX_LINES = 200


@dataclass(frozen=True)
class Period:
    """A calendar month (`2026-11`) or quarter (`2026-Q4`), in UTC."""

    text: str
    kind: str
    start: date
    end: date
    """Exclusive."""

    @classmethod
    def parse(cls, text: str) -> Period:
        match = PERIOD.match(text)
        if match is None or int(match["year"]) < 1900:
            raise ValidationFailed(
                [
                    FieldError(
                        "period", "must be a month such as 2026-11 or a quarter such as 2026-Q4"
                    )
                ]
            )
        year = int(match["year"])
        if match["month"]:
            month = int(match["month"])
            start = date(year, month, 1)
            end = date(year + month // 12, month % 12 + 1, 1)
            return cls(text, "month", start, end)
        quarter = int(match["quarter"])
        start = date(year, 3 * quarter - 2, 1)
        end = date(year + 1, 1, 1) if quarter == 4 else date(year, 3 * quarter + 1, 1)
        return cls(text, "quarter", start, end)

    @staticmethod
    def month_of(at: datetime) -> str:
        at = at.astimezone(UTC)
        return f"{at.year:04d}-{at.month:02d}"

    @staticmethod
    def quarter_of(at: datetime) -> str:
        at = at.astimezone(UTC)
        return f"{at.year:04d}-Q{(at.month - 1) // 3 + 1}"


def forecast_lines(lines: list[dict[str, Any]], currency: str) -> list[dict[str, Any]]:
    """Lines `[{product_id | None, amount}]` checked (money, one line per product) and put in
    a canonical order, so that the same forecast sent in another order is unchanged."""
    errors: list[FieldError] = []
    if not lines:
        errors.append(FieldError("lines", "give at least one line"))
    if len(lines) > MAX_LINES:
        errors.append(FieldError("lines", f"at most {MAX_LINES} lines"))
    seen: set[str | None] = set()
    for i, line in enumerate(lines):
        errors += money_errors(line["amount"], currency, f"lines[{i}].amount")
        product_id = line.get("product_id")
        if product_id in seen:
            errors.append(FieldError(f"lines[{i}].product_id", "this product is given twice"))
        seen.add(product_id)
    if errors:
        unique = {(e.field, e.message): e for e in errors}
        raise ValidationFailed(list(unique.values()))
    normal = [
        {"product_id": line.get("product_id"), "amount": Decimal(line["amount"]).quantize(CENT)}
        for line in lines
    ]
    return sorted(
        normal, key=lambda line: (line["product_id"] is not None, line["product_id"] or "")
    )


class Forecast(CrmAggregate):
    """A rep's forecast for one period, in one currency, by product (or none)."""

    id: UUID
    kind = "forecast"

    @staticmethod
    def id_for(owner_id: str, period: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"crm-forecast:{owner_id}:{period}")

    @event("Submitted")
    def __init__(
        self, owner_id: str, period: str, currency: str, lines: list[dict[str, Any]]
    ) -> None:
        self.owner_id = owner_id
        self.period = period
        self.currency = currency
        self.lines = [dict(line) for line in lines]

    @classmethod
    def submit(
        cls, *, owner_id: str, period: str, currency: str, lines: list[dict[str, Any]]
    ) -> Forecast:
        Period.parse(period)
        return cls.with_id(
            cls.id_for(owner_id, period),
            owner_id=owner_id,
            period=period,
            currency=currency,
            lines=forecast_lines(lines, currency),
        )

    @property
    def total(self) -> Decimal:
        return sum((Decimal(line["amount"]) for line in self.lines), Decimal("0.00"))

    def revise(self, currency: str, lines: list[dict[str, Any]]) -> None:
        """Records a revision only when the currency or a line differs."""
        normal = forecast_lines(lines, currency)
        if currency != self.currency or normal != self.lines:
            self._revised(currency=currency, lines=normal)

    @event("Revised")
    def _revised(self, currency: str, lines: list[dict[str, Any]]) -> None:
        self.currency = currency
        self.lines = [dict(line) for line in lines]
