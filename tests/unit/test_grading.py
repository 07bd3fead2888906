"""Automatic grading from recency, frequency and monetary value (docs/analytics.md)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from crm_api.domain.errors import ValidationFailed
from crm_api.domain.grading import GradingRule

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
