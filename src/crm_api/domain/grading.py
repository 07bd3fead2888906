"""Automatic customer grading (A, B, C, D) from RFM over a trailing window.

Over the `window_days` before the moment of grading, an account's
- recency R = whole days since its last order in the window,
- frequency F = the number of its orders in the window,
- monetary M = the revenue of those orders (in the order currency's units)
each score 1–4 against three thresholds (R: at most `recency[0]` days → 4, at most
`recency[1]` → 3, at most `recency[2]` → 2, else 1; F and M: at least `frequency[0]` /
`monetary[0]` → 4, at least the second → 3, at least the third → 2, else 1). The grade is by the
sum S = R + F + M (3–12): A when S ≥ 10, B when S ≥ 8, C when S ≥ 6, else D; an account without
an order in the window is D.

The grade depends on the day it is asked for (the window and the recency move with it), so a
stored grade carries the first later day on which it differs (`grade_over`): with no new order,
the grade is the same on every day before that one.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from crm_api.domain.errors import FieldError, ValidationFailed

GRADE_CUTS = ((10, "A"), (8, "B"), (6, "C"))
NO_ORDERS_GRADE = "D"


@dataclass(frozen=True)
class OrderDay:
    """An account's orders on one UTC day: how many, and their revenue in cents."""

    day: date
    orders: int
    revenue_cents: int


def _three(text: str, field: str, kind: type[int] | type[Decimal]) -> tuple[int, int, int]:
    parts = [p.strip() for p in text.split(",")]
    try:
        values = tuple(int(kind(p)) for p in parts)
    except (ValueError, ArithmeticError):
        values = ()
    if len(values) != 3 or any(v < 0 for v in values):
        raise ValidationFailed([FieldError(field, "expected three non-negative numbers")])
    return values  # type: ignore[return-value]


@dataclass(frozen=True)
class GradingRule:
    window_days: int
    recency: tuple[int, int, int]
    """Days, ascending: the most recent buyers score highest."""
    frequency: tuple[int, int, int]
    """Orders, descending."""
    monetary: tuple[int, int, int]
    """Revenue, descending."""

    @classmethod
    def parse(cls, window_days: int, recency: str, frequency: str, monetary: str) -> GradingRule:
        if window_days < 1:
            raise ValidationFailed([FieldError("grade_window_days", "must be at least 1")])
        rule = cls(
            window_days,
            _three(recency, "grade_recency_days", int),
            _three(frequency, "grade_frequency", int),
            _three(monetary, "grade_monetary", Decimal),
        )
        if list(rule.recency) != sorted(rule.recency):
            raise ValidationFailed([FieldError("grade_recency_days", "must be ascending")])
        for name, values in (
            ("grade_frequency", rule.frequency),
            ("grade_monetary", rule.monetary),
        ):
            if list(values) != sorted(values, reverse=True):
                raise ValidationFailed([FieldError(name, "must be descending")])
        return rule

    def scores(self, recency_days: int, frequency: int, monetary: Decimal) -> tuple[int, int, int]:
        r = 4 - sum(recency_days > limit for limit in self.recency)
        f = 1 + sum(frequency >= limit for limit in self.frequency)
        m = 1 + sum(monetary >= limit for limit in self.monetary)
        return r, f, m

    def grade(self, recency_days: int | None, frequency: int, monetary: Decimal) -> str:
        """recency_days None: no order in the window."""
        if recency_days is None or frequency == 0:
            return NO_ORDERS_GRADE
        total = sum(self.scores(recency_days, frequency, monetary))
        return next((grade for cut, grade in GRADE_CUTS if total >= cut), NO_ORDERS_GRADE)

    @property
    def key(self) -> str:
        """The rule as text: grades stored under another rule are graded again."""
        return "|".join(
            [str(self.window_days)]
            + [",".join(map(str, v)) for v in (self.recency, self.frequency, self.monetary)]
        )

    def grade_over(self, days: Sequence[OrderDay], today: date) -> tuple[str, date | None]:
        """The grade on `today` from an account's order days (at least those after the window
        that ends today, future ones included), and the first later day on which it differs
        when no order comes or goes (None: never; an account without orders stays D).

        The inputs change only on a few days: an order day enters the window on its day,
        leaves it `window_days` later, and the recency score drops the day after each
        threshold is passed; the grade is evaluated on those days in order."""
        kept = sorted((d for d in days if d.orders > 0), key=lambda d: d.day)
        keys = [d.day for d in kept]
        orders, revenue = [0], [0]
        for d in kept:
            orders.append(orders[-1] + d.orders)
            revenue.append(revenue[-1] + d.revenue_cents)
        window = timedelta(days=self.window_days)

        def on(day: date) -> str:
            last, first = bisect_right(keys, day), bisect_right(keys, day - window)
            if last <= first:
                return NO_ORDERS_GRADE
            monetary = Decimal(revenue[last] - revenue[first]) / 100
            return self.grade((day - keys[last - 1]).days, orders[last] - orders[first], monetary)

        now = on(today)
        turns = {
            turn
            for d in keys
            for turn in (
                d,
                d + window,
                *(d + timedelta(days=limit + 1) for limit in self.recency),
            )
            if turn > today
        }
        return now, next((turn for turn in sorted(turns) if on(turn) != now), None)
