"""Work plans as the domain decides them: periods, the review cycle, nobody reviews its own
plan, the summary covers every item."""

from __future__ import annotations

from datetime import date

import pytest

from crm_api.domain.errors import InvalidTransition, PermissionDenied, ValidationFailed
from crm_api.domain.work_plans import PlanPeriod, WorkPlan
from tests.work_support import event_types, stamped

ITEMS = [{"text": "Visit Acme", "planned_minutes": 90}, {"id": "calls", "text": "Calls"}]


def draft(items=ITEMS) -> WorkPlan:
    return stamped(lambda: WorkPlan.draft(owner_id="rep-a", period="2026-W02", items=items))


def refused_code(action) -> str:
    with pytest.raises((InvalidTransition, PermissionDenied)) as refused:
        stamped(action)
    return refused.value.code


def test_a_period_is_a_day_or_an_iso_week():
    week = PlanPeriod.parse("2026-W02")
    assert (week.kind, week.start, week.end) == ("week", date(2026, 1, 5), date(2026, 1, 12))
    day = PlanPeriod.parse("2026-01-05")
    assert (day.kind, day.start, day.end) == ("day", date(2026, 1, 5), date(2026, 1, 6))
    for text in ("2026-W00", "2026-W54", "2026-1-5", "2026-01"):
        with pytest.raises(ValidationFailed):
            PlanPeriod.parse(text)


def test_one_plan_per_owner_and_period():
    assert WorkPlan.id_for("rep-a", "2026-W02") == draft().id
    assert WorkPlan.id_for("rep-b", "2026-W02") != draft().id


def test_items_are_numbered_unless_they_carry_an_id():
    assert [i["id"] for i in draft().items] == ["1", "calls"]
    with pytest.raises(ValidationFailed) as refused:
        draft([{"id": "a", "text": "x"}, {"id": "a", "text": "y"}])
    assert [e.field for e in refused.value.errors] == ["items[1].id"]


def test_submitted_returned_resubmitted_accepted():
    plan = draft()
    stamped(plan.submit)
    stamped(lambda: plan.edit_as_reviewer("manager-1", ITEMS[:1], "Focus"))
    stamped(lambda: plan.return_to_owner("manager-1", "Too thin"))
    assert plan.state == "returned"
    stamped(lambda: plan.change_items(ITEMS))
    stamped(plan.submit)
    assert (plan.state, plan.submissions) == ("submitted", 2)
    stamped(lambda: plan.accept("manager-1", None))
    assert plan.state == "accepted"
    assert [c["text"] for c in plan.comments] == ["Focus", "Too thin"]
    assert event_types(plan) == [
        "WorkPlanCreated",
        "WorkPlanSubmitted",
        "WorkPlanEditedByReviewer",
        "WorkPlanReturned",
        "WorkPlanItemsChanged",
        "WorkPlanResubmitted",
        "WorkPlanAccepted",
    ]


def test_nobody_reviews_its_own_plan():
    plan = draft()
    stamped(plan.submit)
    assert refused_code(lambda: plan.accept("rep-a", None)) == "own_work_plan"
    assert refused_code(lambda: plan.return_to_owner("rep-a", "x")) == "own_work_plan"
    assert refused_code(lambda: plan.edit_as_reviewer("rep-a", [], None)) == "own_work_plan"


def test_each_state_allows_only_its_commands():
    plan = draft()
    assert refused_code(lambda: plan.accept("manager-1", None)) == "invalid_state"
    assert refused_code(lambda: plan.comment("manager-1", "x")) == "invalid_state"
    stamped(plan.submit)
    assert refused_code(lambda: plan.change_items(ITEMS)) == "invalid_state"
    assert refused_code(plan.submit) == "invalid_state"
    stamped(lambda: plan.accept("manager-1", "ok"))
    assert refused_code(lambda: plan.return_to_owner("manager-1", "x")) == "invalid_state"
    assert refused_code(draft([]).submit) == "empty_plan"


def test_the_summary_says_done_or_not_for_every_item():
    plan = draft()
    stamped(plan.submit)
    with pytest.raises(ValidationFailed) as refused:
        stamped(lambda: plan.submit_summary("ok", [{"item_id": "1", "done": True}]))
    assert [e.field for e in refused.value.errors] == ["outcomes"]
    with pytest.raises(ValidationFailed) as unknown:
        stamped(lambda: plan.submit_summary("ok", [{"item_id": "9", "done": True}]))
    assert [e.field for e in unknown.value.errors] == ["outcomes[0].item_id", "outcomes"]
    outcomes = [{"item_id": "calls", "done": False, "note": "ill"}, {"item_id": "1", "done": True}]
    stamped(lambda: plan.submit_summary("Half done", outcomes))
    assert plan.summary == {
        "text": "Half done",
        "outcomes": [
            {"item_id": "1", "done": True, "note": None},
            {"item_id": "calls", "done": False, "note": "ill"},
        ],
    }
