"""Activities as the domain decides them: types, back-dated times, corrections."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest

from crm_api.domain.activities import Activity
from crm_api.domain.errors import ValidationFailed
from tests.work_support import NOW, event_types, stamped


def record(occurred_at=NOW, on_behalf_of=None, **overrides: Any) -> Activity:
    details: dict[str, Any] = {
        "account_id": str(uuid4()),
        "owner_id": "rep-a",
        "type": "call",
        "subject": "Intro",
        "notes": None,
        "contact_id": None,
        "opportunity_id": None,
        "service_request_id": None,
        "duration_minutes": 10,
        "outcome": None,
        "next_step": None,
    }
    details.update(overrides)
    return stamped(
        lambda: Activity.record(uuid4(), **details),
        occurred_at=occurred_at,
        actor="assistant-1" if on_behalf_of else "rep-a",
        on_behalf_of=on_behalf_of,
    )


def refused_fields(action) -> list[str]:
    with pytest.raises(ValidationFailed) as refused:
        stamped(action)
    return [e.field for e in refused.value.errors]


def test_an_activity_happened_at_its_business_time_and_knows_who_entered_it():
    last_week = NOW - timedelta(days=7)
    activity = record(occurred_at=last_week, on_behalf_of="rep-a")
    assert (activity.occurred_at, activity.entered_by, activity.on_behalf_of) == (
        last_week,
        "assistant-1",
        "rep-a",
    )
    assert event_types(activity) == ["ActivityCreated"]


def test_a_few_minutes_ahead_is_clock_skew_but_more_is_the_future():
    assert record(occurred_at=NOW + timedelta(minutes=4)).occurred_at > NOW
    with pytest.raises(ValidationFailed) as refused:
        record(occurred_at=NOW + timedelta(minutes=6))
    assert [e.field for e in refused.value.errors] == ["occurred_at"]


def test_only_known_types():
    with pytest.raises(ValidationFailed) as refused:
        record(type="lunch")
    assert [e.field for e in refused.value.errors] == ["type"]


def test_a_correction_records_only_what_differs_and_never_the_account():
    activity = record()
    stamped(lambda: activity.change_details(subject="Intro", duration_minutes=10))
    assert activity.version == 1
    earlier = NOW - timedelta(days=1)
    stamped(lambda: activity.change_details(type="visit", occurred_at=earlier))
    assert (activity.type, activity.occurred_at, activity.version) == ("visit", earlier, 2)
    assert refused_fields(lambda: activity.change_details(account_id="x")) == ["account_id"]
    assert refused_fields(
        lambda: activity.change_details(occurred_at=NOW + timedelta(hours=1))
    ) == ["occurred_at"]
    assert refused_fields(lambda: activity.change_details(type="lunch")) == ["type"]
