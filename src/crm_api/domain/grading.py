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
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from crm_api.domain.errors import FieldError, ValidationFailed

GRADE_CUTS = ((10, "A"), (8, "B"), (6, "C"))
NO_ORDERS_GRADE = "D"


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
