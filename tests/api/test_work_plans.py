"""Work plans over REST: draft → submitted → returned → resubmitted → accepted, reviewer edits
and comments as events, the summary, who may review and who may see, the missing list."""

from __future__ import annotations

from tests.sales_support import history_types
from tests.work_support import (
    WORK_PLANS,
    assert_problem,
    create_task,
    draft_plan,
    fields,
    get,
    ok,
    plan_command,
    post,
)


def test_the_whole_review_cycle_is_history(client, company):
    account = company.open_account("rep_a")
    items = [
        {"text": "Visit Acme", "planned_minutes": 90, "account_id": account["id"]},
        {"text": "Write proposals", "planned_minutes": 120},
    ]
    plan = draft_plan(company, "rep_a", items=items)
    assert (plan["state"], plan["period_kind"], [i["id"] for i in plan["items"]]) == (
        "draft",
        "week",
        ["1", "2"],
    )
    assert ok(plan_command(company, "rep_a", plan, "submit"))["state"] == "submitted"
    edited = ok(
        plan_command(
            company,
            "manager",
            plan,
            "edit",
            {
                "items": [*items, {"text": "Call the three dormant accounts"}],
                "comment": "Add calls",
            },
        )
    )
    assert len(edited["items"]) == 3
    returned = ok(
        plan_command(company, "manager", plan, "return", {"comment": "Too little selling"})
    )
    assert (returned["state"], returned["reviewed_by"]) == ("returned", company.ids["manager"])
    assert [c["text"] for c in returned["comments"]] == ["Add calls", "Too little selling"]
    ok(
        client.put(
            f"{WORK_PLANS}/{plan['id']}/items",
            json={"items": items[:1]},
            headers=company.as_("rep_a"),
        )
    )
    resubmitted = ok(plan_command(company, "rep_a", plan, "submit"))
    assert (resubmitted["state"], resubmitted["submissions"]) == ("submitted", 2)
    ok(plan_command(company, "rep_a", plan, "comments", {"text": "Calls are on Thursday"}))
    accepted = ok(plan_command(company, "manager", plan, "accept", {"comment": "Good"}))
    assert accepted["state"] == "accepted"
    summary = ok(
        plan_command(
            company,
            "rep_a",
            plan,
            "summary",
            {"text": "Good week", "outcomes": [{"item_id": "1", "done": True}]},
        )
    )
    assert summary["summary"] == {
        "text": "Good week",
        "outcomes": [{"item_id": "1", "done": True, "note": None}],
    }
    url = f"{WORK_PLANS}/{plan['id']}"
    assert history_types(company, url) == [
        "WorkPlanCreated",
        "WorkPlanSubmitted",
        "WorkPlanEditedByReviewer",
        "WorkPlanReturned",
        "WorkPlanItemsChanged",
        "WorkPlanResubmitted",
        "WorkPlanCommented",
        "WorkPlanAccepted",
        "WorkPlanSummarySubmitted",
    ]
    assert ok(get(company, "manager", WORK_PLANS))["data"] == [summary]


def test_a_rep_cannot_accept_its_own_plan_nor_a_manager_its_own(client, company):
    plan = draft_plan(company, "rep_a")
    ok(plan_command(company, "rep_a", plan, "submit"))
    assert_problem(plan_command(company, "rep_a", plan, "accept"), 403, "forbidden")
    assert_problem(
        plan_command(company, "rep_a", plan, "return", {"comment": "x"}), 403, "forbidden"
    )
    own = draft_plan(company, "manager")
    ok(plan_command(company, "manager", own, "submit"))
    assert_problem(plan_command(company, "manager", own, "accept"), 403, "own_work_plan")
    assert ok(plan_command(company, "admin", own, "accept"))["state"] == "accepted"


def test_a_manager_of_another_team_cannot_see_the_plan(client, company):
    company.add_user("manager_2", role="manager")
    team = ok(
        post(
            company,
            "admin",
            "/api/v1/teams",
            {"name": "South", "manager_id": company.ids["manager_2"]},
        ),
        201,
    )
    assert team["manager_id"] == company.ids["manager_2"]
    plan = draft_plan(company, "rep_a")
    ok(plan_command(company, "rep_a", plan, "submit"))
    url = f"{WORK_PLANS}/{plan['id']}"
    assert_problem(get(company, "manager_2", url), 404, "not_found")
    assert_problem(plan_command(company, "manager_2", plan, "accept"), 404, "not_found")
    assert ok(get(company, "manager_2", WORK_PLANS))["data"] == []
    assert_problem(get(company, "rep_b", url), 404, "not_found")
    assert ok(get(company, "auditor", url))["id"] == plan["id"]


def test_states_guard_each_command(client, company):
    plan = draft_plan(company, "rep_a")
    assert_problem(plan_command(company, "manager", plan, "accept"), 409, "invalid_state")
    summary = {"text": "x", "outcomes": [{"item_id": "1", "done": False}]}
    assert_problem(plan_command(company, "rep_a", plan, "summary", summary), 409, "invalid_state")
    ok(plan_command(company, "rep_a", plan, "submit"))
    assert_problem(plan_command(company, "rep_a", plan, "submit"), 409, "invalid_state")
    refused = client.put(
        f"{WORK_PLANS}/{plan['id']}/items", json={"items": []}, headers=company.as_("manager")
    )
    assert_problem(refused, 403, "not_the_owner")
    missing = plan_command(company, "rep_a", plan, "summary", {"text": "x", "outcomes": []})
    assert fields(assert_problem(missing, 422, "validation_failed")) == ["outcomes"]
    empty = draft_plan(company, "rep_b", items=[])
    assert_problem(plan_command(company, "rep_b", empty, "submit"), 409, "empty_plan")


def test_one_plan_per_period_and_the_period_must_be_a_day_or_an_iso_week(client, company):
    plan = draft_plan(company, "rep_a", period="2026-01-05")
    assert plan["period_kind"] == "day"
    again = post(company, "rep_a", WORK_PLANS, {"period": "2026-01-05", "items": []})
    assert assert_problem(again, 409, "work_plan_exists")["work_plan_id"] == plan["id"]
    for period in ("2026-W54", "2026-13-01", "next week"):
        refused = post(company, "rep_a", WORK_PLANS, {"period": period})
        assert fields(assert_problem(refused, 422, "validation_failed")) == ["period"]


def test_items_link_only_to_records_the_owner_sees(client, company):
    account = company.open_account("rep_b")
    task = create_task(company, "rep_b")
    for link, record in (("account_id", account), ("task_id", task)):
        body = {"period": "2026-W03", "items": [{"text": "x", link: record["id"]}]}
        refused = post(company, "rep_a", WORK_PLANS, body)
        assert fields(assert_problem(refused, 422, "validation_failed")) == [f"items[0].{link}"]


def test_an_assistant_drafts_and_submits_for_its_rep_but_not_another(client, company):
    body = {"period": "2026-W02", "items": [{"text": "Visit Acme"}]}
    plan = ok(post(company, "assistant", WORK_PLANS, body, on_behalf_of="rep_a"), 201)
    assert plan["owner_id"] == company.ids["rep_a"]
    submitted = post(
        company, "assistant", f"{WORK_PLANS}/{plan['id']}/submit", on_behalf_of="rep_a"
    )
    assert ok(submitted)["state"] == "submitted"
    history = ok(get(company, "rep_a", f"{WORK_PLANS}/{plan['id']}/history"))["data"]
    assert [(e["actor"], e["on_behalf_of"]) for e in history] == [
        (company.ids["assistant"], company.ids["rep_a"])
    ] * 2
    assert_problem(
        post(company, "assistant", WORK_PLANS, body, on_behalf_of="rep_b"), 403, "not_assisting"
    )
    accept = post(company, "assistant", f"{WORK_PLANS}/{plan['id']}/accept", on_behalf_of="rep_a")
    assert_problem(accept, 403, "forbidden")


def test_the_manager_sees_who_has_not_submitted_for_a_period(client, company):
    submitted = draft_plan(company, "rep_a", period="2026-W02")
    ok(plan_command(company, "rep_a", submitted, "submit"))
    drafted = draft_plan(company, "rep_b", period="2026-W02")
    rows = ok(get(company, "manager", f"{WORK_PLANS}/missing", period="2026-W02"))["data"]
    assert [(r["user_id"], r["work_plan_id"], r["state"]) for r in rows] == [
        (company.ids["rep_b"], drafted["id"], "draft")
    ]
    later = ok(get(company, "manager", f"{WORK_PLANS}/missing", period="2026-W03"))["data"]
    assert {r["user_id"] for r in later} == {company.ids["rep_a"], company.ids["rep_b"]}
    assert_problem(
        get(company, "rep_a", f"{WORK_PLANS}/missing", period="2026-W02"), 403, "forbidden"
    )
    other_team = get(
        company,
        "manager",
        f"{WORK_PLANS}/missing",
        period="2026-W02",
        team_id="00000000-0000-4000-8000-00000000dead",
    )
    assert_problem(other_team, 404, "not_found")


def test_a_retried_draft_with_the_same_idempotency_key_is_answered_again(client, company):
    body = {"period": "2026-W02", "items": [{"text": "Visit Acme"}]}
    first = post(company, "rep_a", WORK_PLANS, body, **{"Idempotency-Key": "plan-w02"})
    again = post(company, "rep_a", WORK_PLANS, body, **{"Idempotency-Key": "plan-w02"})
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json()
    assert int(first.headers["X-Log-Position"]) > 0
    assert history_types(company, f"{WORK_PLANS}/{first.json()['id']}") == ["WorkPlanCreated"]
