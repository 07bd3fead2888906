"""The SLA clock as pure arithmetic: business hours, pauses, restarts. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from crm_api.domain.errors import ValidationFailed
from crm_api.domain.sla import (
    BREACHED,
    MET,
    NONE,
    PAUSED,
    PENDING,
    BusinessHours,
    SlaClock,
    SlaTerms,
    sla_view,
    target_status,
)

# Berlin office hours, Monday to Friday 09:00-17:00 (UTC+1 in January).
OFFICE = BusinessHours.of([0, 1, 2, 3, 4], time(9), time(17), "Europe/Berlin")
MONDAY_9 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)  # 09:00 in Berlin
FRIDAY_16 = datetime(2026, 1, 9, 15, 0, tzinfo=UTC)  # 16:00 in Berlin


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """January 2026, Berlin local time, as UTC."""
    return datetime(2026, 1, day, hour - 1, minute, tzinfo=UTC)


def test_around_the_clock_due_times_are_plain_durations():
    terms = SlaTerms.of(60, 480, None)
    clock = SlaClock.start(terms, MONDAY_9)
    assert clock.first_response_due_at == MONDAY_9 + timedelta(hours=1)
    assert clock.resolve_due_at == MONDAY_9 + timedelta(hours=8)


def test_business_time_inside_one_day():
    assert OFFICE.add(at(5, 10), 3 * 3600) == at(5, 13)


def test_business_time_runs_over_the_night_into_the_next_morning():
    assert OFFICE.add(at(5, 16), 2 * 3600) == at(6, 10)


def test_business_time_skips_the_weekend():
    assert OFFICE.add(FRIDAY_16, 2 * 3600) == at(12, 10)


def test_a_start_outside_hours_counts_from_the_next_opening():
    assert OFFICE.add(at(10, 12), 3600) == at(12, 10)  # Saturday noon → Monday 10:00
    assert OFFICE.add(at(6, 20), 1800) == at(7, 9, 30)  # Tuesday evening → Wednesday


def test_business_seconds_between_span_nights_and_weekends():
    assert OFFICE.seconds_between(at(9, 16), at(12, 10)) == 2 * 3600
    assert OFFICE.seconds_between(at(10, 9), at(11, 18)) == 0


def test_business_hours_follow_daylight_saving_time():
    summer = BusinessHours.of([0, 1, 2, 3, 4], time(9), time(17), "Europe/Berlin")
    monday = datetime(2026, 7, 6, 7, 0, tzinfo=UTC)  # 09:00 CEST (UTC+2)
    assert summer.add(monday, 3600) == datetime(2026, 7, 6, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("weekdays", "start", "end", "zone", "field"),
    [
        ([], time(9), time(17), "UTC", "business_hours.weekdays"),
        ([7], time(9), time(17), "UTC", "business_hours.weekdays"),
        ([0], time(17), time(9), "UTC", "business_hours.end"),
        ([0], time(9), time(17), "Mars/Olympus", "business_hours.timezone"),
    ],
)
def test_bad_business_hours_name_the_field(weekdays, start, end, zone, field):
    with pytest.raises(ValidationFailed) as error:
        BusinessHours.of(weekdays, start, end, zone)
    assert [e.field for e in error.value.errors] == [field]


def test_resolution_may_not_be_promised_before_the_first_response():
    with pytest.raises(ValidationFailed) as error:
        SlaTerms.of(120, 60, None)
    assert [e.field for e in error.value.errors] == ["resolve_within_minutes"]


def test_a_pause_moves_the_due_time_out_by_its_length():
    terms = SlaTerms.of(60, 480, None)
    clock = SlaClock.start(terms, MONDAY_9).pause(MONDAY_9 + timedelta(hours=2))
    resumed = clock.resume(MONDAY_9 + timedelta(hours=5))
    assert resumed.resolve_due_at == MONDAY_9 + timedelta(hours=11)
    assert resumed.paused_seconds == 3 * 3600
    assert resumed.paused_since is None


def test_a_pause_over_the_night_moves_the_due_time_by_business_time_only():
    terms = SlaTerms.of(60, 8 * 60, OFFICE)
    clock = SlaClock.start(terms, at(5, 9))
    assert clock.resolve_due_at == at(5, 17)
    paused = clock.pause(at(5, 15))  # 2 working hours left
    resumed = paused.resume(at(6, 10))  # paused 15:00-17:00 and 09:00-10:00 = 3 working hours
    assert resumed.resolve_due_at == at(6, 12)
    assert resumed.paused_seconds == 19 * 3600  # wall clock


def test_a_pause_that_starts_after_the_due_time_changes_nothing():
    terms = SlaTerms.of(60, 120, None)
    clock = SlaClock.start(terms, MONDAY_9).pause(MONDAY_9 + timedelta(hours=3))
    resumed = clock.resume(MONDAY_9 + timedelta(hours=6))
    assert resumed.resolve_due_at == MONDAY_9 + timedelta(hours=2)


def test_reopening_restarts_the_resolution_clock_from_the_reopen_time():
    terms = SlaTerms.of(60, 8 * 60, OFFICE)
    clock = SlaClock.start(terms, at(5, 9))
    restarted = clock.restart(at(7, 14))
    assert restarted.resolve_due_at == at(8, 14)
    assert restarted.first_response_due_at == clock.first_response_due_at


def test_without_a_policy_there_are_no_due_times_but_pauses_are_counted():
    clock = SlaClock.start(None, MONDAY_9).pause(MONDAY_9).resume(MONDAY_9 + timedelta(minutes=5))
    assert (clock.first_response_due_at, clock.resolve_due_at) == (None, None)
    assert clock.paused_seconds == 300


@pytest.mark.parametrize(
    ("done_at", "now", "paused_since", "status"),
    [
        (None, MONDAY_9, None, PENDING),
        (None, MONDAY_9 + timedelta(hours=2), None, BREACHED),
        (MONDAY_9 + timedelta(minutes=30), MONDAY_9 + timedelta(hours=9), None, MET),
        (MONDAY_9 + timedelta(hours=2), MONDAY_9 + timedelta(hours=3), None, BREACHED),
        (None, MONDAY_9 + timedelta(hours=9), MONDAY_9 + timedelta(minutes=10), PAUSED),
        (None, MONDAY_9 + timedelta(hours=9), MONDAY_9 + timedelta(hours=2), BREACHED),
    ],
)
def test_a_target_is_judged_against_the_clock_while_open(done_at, now, paused_since, status):
    due = MONDAY_9 + timedelta(hours=1)
    assert target_status(due, done_at, now, paused_since) == status


def test_no_due_time_means_no_target():
    assert target_status(None, None, MONDAY_9, None) == NONE


def test_the_view_counts_the_running_pause():
    view = sla_view(
        first_response_due_at=None,
        resolve_due_at=MONDAY_9,
        paused_since=MONDAY_9 - timedelta(minutes=10),
        paused_seconds=60,
        first_responded_at=None,
        resolved_at=None,
        now=MONDAY_9,
    )
    assert (view["paused"], view["paused_seconds"], view["resolution"]) == (True, 660, PAUSED)


def test_terms_survive_a_round_trip_through_an_event():
    terms = SlaTerms.of(30, 240, OFFICE)
    assert SlaTerms.from_dict(terms.as_dict()) == terms
