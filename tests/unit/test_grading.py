"""Automatic grading from recency, frequency and monetary value (docs/analytics.md)."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest

from crm_api.domain.errors import ValidationFailed
from crm_api.domain.grading import GradingRule, OrderDay

RULE = GradingRule.parse(365, "30,90,180", "12,6,3", "100000,25000,5000")


@pytest.mark.parametrize(
    ("recency", "frequency", "monetary", "scores"),
    [
        (0, 12, Decimal(100000), (4, 4, 4)),
        (30, 11, Decimal("99999.99"), (4, 3, 3)),
        (31, 6, Decimal(25000), (3, 3, 3)),
        (90, 5, Decimal("24999"), (3, 2, 2)),
        (91, 3, Decimal(5000), (2, 2, 2)),
        (180, 2, Decimal("4999.99"), (2, 1, 1)),
        (181, 1, Decimal(1), (1, 1, 1)),
    ],
)
def test_each_of_r_f_m_scores_1_to_4_against_its_thresholds(
    recency: int, frequency: int, monetary: Decimal, scores: tuple[int, int, int]
) -> None:
    assert RULE.scores(recency, frequency, monetary) == scores


@pytest.mark.parametrize(
    ("recency", "frequency", "monetary", "grade"),
    [
        (10, 12, Decimal(100000), "A"),  # 12
        (10, 6, Decimal(25000), "A"),  # 4 + 3 + 3 = 10
        (100, 6, Decimal(25000), "B"),  # 2 + 3 + 3 = 8
        (100, 3, Decimal(5000), "C"),  # 2 + 2 + 2 = 6
        (100, 2, Decimal(5000), "D"),  # 2 + 1 + 2 = 5
        (None, 0, Decimal(0), "D"),  # no order in the window
    ],
)
def test_the_grade_follows_the_sum_of_the_scores(
    recency: int | None, frequency: int, monetary: Decimal, grade: str
) -> None:
    assert RULE.grade(recency, frequency, monetary) == grade


@pytest.mark.parametrize(
    ("field", "recency", "frequency", "monetary"),
    [
        ("grade_recency_days", "90,30,180", "12,6,3", "3,2,1"),
        ("grade_frequency", "30,90,180", "3,6,12", "3,2,1"),
        ("grade_monetary", "30,90,180", "12,6,3", "1,2"),
        ("grade_recency_days", "a,b,c", "12,6,3", "3,2,1"),
    ],
)
def test_thresholds_in_the_wrong_order_or_shape_are_refused(
    field: str, recency: str, frequency: str, monetary: str
) -> None:
    with pytest.raises(ValidationFailed) as error:
        GradingRule.parse(365, recency, frequency, monetary)
    assert error.value.errors[0].field == field


def _day(text: str) -> date:
    return date.fromisoformat(text)


@pytest.mark.parametrize(
    ("days", "today", "expected"),
    [
        ([], "2026-01-10", ("D", None)),
        # R 9 days → 4, F 1 → 1, M 30000 → 3: 8 → B; 31 days after the order R drops to 3 → C.
        ([("2026-01-01", 1, 3_000_000)], "2026-01-10", ("B", "2026-02-01")),
        # Nothing in the window yet: D until the future order's day (R4 F1 M4 = 9 → B).
        ([("2026-01-20", 1, 20_000_000)], "2026-01-10", ("D", "2026-01-20")),
        # R 315 → 1, F 12 → 4, M 100000 → 4: 9 → B, until the day leaves the window → D.
        ([("2025-03-01", 12, 10_000_000)], "2026-01-10", ("B", "2026-03-01")),
        # A threshold passed without changing the grade is no due day: R 4 → 3 on 1 Feb keeps
        # 4 + 4 + 4 = 12 → 11, still A; R 2 (2 Apr) → 10, A; R 1 (1 Jul) → 9 → B.
        ([("2026-01-01", 12, 10_000_000)], "2026-01-10", ("A", "2026-07-01")),
        # Cancelled-out days (no orders left) are not orders.
        ([("2026-01-01", 0, 0)], "2026-01-10", ("D", None)),
    ],
)
def test_a_grade_holds_until_the_first_day_ageing_changes_it(
    days: list[tuple[str, int, int]], today: str, expected: tuple[str, str | None]
) -> None:
    grade, turn = RULE.grade_over([OrderDay(_day(d), n, c) for d, n, c in days], _day(today))
    assert (grade, None if turn is None else turn.isoformat()) == expected


def _brute(rule: GradingRule, days: list[OrderDay], on: date) -> str:
    window = [d for d in days if on - timedelta(days=rule.window_days) < d.day <= on and d.orders]
    if not window:
        return "D"
    last = max(d.day for d in window)
    monetary = Decimal(sum(d.revenue_cents for d in window)) / 100
    return rule.grade((on - last).days, sum(d.orders for d in window), monetary)


def test_the_due_day_agrees_with_grading_every_day() -> None:
    rule = GradingRule.parse(120, "10,30,60", "4,3,2", "300,200,100")
    rng = random.Random(5)
    start = date(2025, 1, 1)
    for _ in range(200):
        days = [
            OrderDay(
                start + timedelta(days=rng.randrange(400)), rng.randint(0, 2), rng.randrange(30000)
            )
            for _ in range(rng.randint(0, 6))
        ]
        today = start + timedelta(days=rng.randrange(400))
        grade, turn = rule.grade_over(days, today)
        assert grade == _brute(rule, days, today)
        horizon = today + timedelta(days=600)
        first_change = next(
            (
                today + timedelta(days=i)
                for i in range(1, (horizon - today).days)
                if _brute(rule, days, today + timedelta(days=i)) != grade
            ),
            None,
        )
        assert turn == first_change
