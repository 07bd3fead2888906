"""Alerts and the watchers' rules as the domain decides them: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from uuid import uuid4

import pytest

from crm_api.domain.alerts import ACCOUNT_DORMANT, Alert, DormancyRule, sla_warning_at
from crm_api.domain.context import EventMeta, recording
from crm_api.domain.errors import InvalidTransition, ValidationFailed
from crm_api.domain.sla import BusinessHours, SlaTerms

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def meta(actor: str = "system", on_behalf_of: str | None = None) -> EventMeta:
    return EventMeta(
        actor=actor,
        actor_type="user",
        on_behalf_of=on_behalf_of,
        occurred_at=NOW,
        command_id=str(uuid4()),
        correlation_id="corr-1",
    )


def raised(**overrides: Any) -> Alert:
    details: dict[str, Any] = {
        "alert_kind": ACCOUNT_DORMANT,
        "subject_type": "account",
        "subject_id": "acc-1",
        "account_id": "acc-1",
        "owner_id": "rep-1",
        "assignee_id": None,
        "target": None,
        "threshold_at": NOW,
        "episode": 0,
        **overrides,
    }
    with recording(meta(), NOW):
        return Alert.raise_for(uuid4(), **details)


def test_a_raised_alert_is_open_until_cleared_once() -> None:
    alert = raised()
    assert alert.is_open and alert.raised_at == NOW
    with recording(meta(), NOW):
        assert alert.clear("order_placed") is True
        assert alert.clear("order_placed") is False
    assert not alert.is_open
    assert (alert.cleared_at, alert.clear_reason, alert.version) == (NOW, "order_placed", 2)


def test_an_alert_is_acknowledged_once_and_for_the_rep_an_assistant_acts_for() -> None:
    alert = raised()
    with recording(meta(actor="assistant-1", on_behalf_of="rep-1"), NOW):
        alert.acknowledge()
        with pytest.raises(InvalidTransition) as error:
            alert.acknowledge()
    assert error.value.code == "already_acknowledged"
    assert alert.acknowledged_by == "rep-1"
    assert alert.is_open


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        raised(alert_kind="bored")


def test_dormancy_days_come_from_the_grade_or_the_default() -> None:
    rule = DormancyRule.parse(90, "A=60, b=120")
    assert rule.days_for("A") == 60
    assert rule.days_for("B") == 120
    assert rule.days_for("C") == 90
    assert rule.days_for(None) == 90
    assert rule.windows() == [("A", 60), ("B", 120), ("C", 90), ("D", 90), (None, 90)]
    assert rule.dormant_since(NOW, "A") == NOW + timedelta(days=60)


@pytest.mark.parametrize("text", ["A=0", "E=30", "A=x", "A"])
def test_a_bad_dormancy_setting_names_the_field(text: str) -> None:
    with pytest.raises(ValidationFailed) as error:
        DormancyRule.parse(90, text)
    assert error.value.errors[0].field == "dormancy_days_by_grade"


def test_the_sla_warning_falls_at_80_percent_of_the_time() -> None:
    assert sla_warning_at(None, NOW, NOW + timedelta(minutes=60)) == NOW + timedelta(minutes=48)
    terms = SlaTerms.of(60, 600, None)
    assert sla_warning_at(terms, NOW, NOW + timedelta(minutes=600)) == NOW + timedelta(minutes=480)


def test_with_business_hours_the_warning_counts_working_time() -> None:
    hours = BusinessHours.of([0, 1, 2, 3, 4], time(9), time(17), "UTC")
    terms = SlaTerms.of(60, 600, hours)
    friday_4pm = datetime(2026, 1, 9, 16, 0, tzinfo=UTC)
    due = terms.after(friday_4pm, 600 * 60)
    assert due == datetime(2026, 1, 13, 10, 0, tzinfo=UTC)
    assert sla_warning_at(terms, friday_4pm, due) == datetime(2026, 1, 12, 16, 0, tzinfo=UTC)
