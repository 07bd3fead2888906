"""Tasks over REST: who may assign to whom, the state machine as events, overdue by the
injected clock, what an assistant does for its rep, visibility."""

from __future__ import annotations

import pytest

from tests.sales_support import history_types
from tests.work_support import TASKS, assert_problem, create_task, fields, get, ok, post


def ids(company, who, on_behalf_of=None, **params):
    return [t["id"] for t in ok(get(company, who, TASKS, on_behalf_of, **params))["data"]]


def test_anyone_sets_itself_a_task_and_a_manager_assigns_to_its_team(client, company):
    own = create_task(company, "rep_a")
    assert (own["assignee_id"], own["status"], own["priority"]) == (
        company.ids["rep_a"],
        "open",
        "normal",
    )
    given = create_task(company, "manager", assignee_id=company.ids["rep_b"], priority="high")
    assert (given["assignee_id"], given["created_by"]) == (
        company.ids["rep_b"],
        company.ids["manager"],
    )
    assert ids(company, "rep_b") == [given["id"]]
    assert set(ids(company, "manager")) == {own["id"], given["id"]}


@pytest.mark.parametrize(("who", "assignee"), [("rep_a", "rep_b"), ("manager", "rep_c")])
def test_nobody_else_assigns_tasks_to_others(client, company, who, assignee):
    body = {"title": "x", "due_date": "2026-01-09", "assignee_id": company.ids[assignee]}
    assert_problem(post(company, who, TASKS, body), 403, "assignee_not_allowed")


def test_complete_cancel_reopen_and_reassign_are_events(client, company):
    task = create_task(company, "manager", assignee_id=company.ids["rep_a"])
    url = f"{TASKS}/{task['id']}"
    done = ok(post(company, "rep_a", f"{url}/complete", {"note": "called"}))
    assert done["status"] == "done"
    assert_problem(post(company, "rep_a", f"{url}/cancel"), 409, "invalid_state")
    assert ok(post(company, "rep_a", f"{url}/reopen"))["status"] == "open"
    assert_problem(post(company, "rep_a", f"{url}/reopen"), 409, "invalid_state")
    refused = post(company, "rep_a", f"{url}/reassign", {"assignee_id": company.ids["rep_b"]})
    assert_problem(refused, 403, "forbidden")
    moved = ok(post(company, "manager", f"{url}/reassign", {"assignee_id": company.ids["rep_b"]}))
    assert moved["assignee_id"] == company.ids["rep_b"]
    assert_problem(get(company, "rep_a", url), 404, "not_found")
    cancelled = ok(post(company, "rep_b", f"{url}/cancel", {"reason": "no longer needed"}))
    assert (cancelled["status"], cancelled["version"]) == ("cancelled", 5)
    assert history_types(company, url) == [
        "TaskCreated",
        "TaskCompleted",
        "TaskReopened",
        "TaskReassigned",
        "TaskCancelled",
    ]
    assert ids(company, "manager", status="cancelled") == [task["id"]]


def test_overdue_lists_open_tasks_due_before_today_by_the_clock(client, company, clock):
    monday = create_task(company, "rep_a", due_date="2026-01-05")
    tuesday = create_task(company, "rep_a", due_date="2026-01-06")
    finished = create_task(company, "rep_a", due_date="2026-01-05")
    ok(post(company, "rep_a", f"{TASKS}/{finished['id']}/complete"))
    assert ids(company, "rep_a", overdue="true") == []
    clock.advance(days=1)
    assert ids(company, "rep_a", overdue="true") == [monday["id"]]
    clock.advance(days=1)
    assert ids(company, "rep_a", overdue="true") == [monday["id"], tuesday["id"]]
    assert ids(company, "manager", overdue="true", assignee_id=company.ids["rep_b"]) == []


def test_an_assistant_creates_and_completes_tasks_for_its_rep_only(client, company):
    task = create_task(company, "assistant", on_behalf_of="rep_a")
    assert (task["assignee_id"], task["created_by"], task["on_behalf_of"]) == (
        company.ids["rep_a"],
        company.ids["assistant"],
        company.ids["rep_a"],
    )
    assert ids(company, "rep_a") == [task["id"]]
    done = post(company, "assistant", f"{TASKS}/{task['id']}/complete", on_behalf_of="rep_a")
    assert ok(done)["status"] == "done"
    body = {"title": "x", "due_date": "2026-01-09"}
    assert_problem(
        post(company, "assistant", TASKS, body, on_behalf_of="rep_b"), 403, "not_assisting"
    )
    other = create_task(company, "rep_b")
    hidden = post(company, "assistant", f"{TASKS}/{other['id']}/complete", on_behalf_of="rep_a")
    assert_problem(hidden, 404, "not_found")


def test_a_linked_record_must_exist_and_be_visible(client, company):
    account = company.open_account("rep_a")
    linked = create_task(company, "rep_a", linked_type="account", linked_id=account["id"])
    assert (linked["linked_type"], linked["linked_id"]) == ("account", account["id"])
    for who, body in (
        ("rep_c", {"linked_type": "account", "linked_id": account["id"]}),
        ("rep_a", {"linked_type": "contact", "linked_id": account["id"]}),
    ):
        refused = post(company, who, TASKS, {"title": "x", "due_date": "2026-01-09", **body})
        assert fields(assert_problem(refused, 422, "validation_failed")) == ["linked_id"]
    half = post(
        company, "rep_a", TASKS, {"title": "x", "due_date": "2026-01-09", "linked_type": "account"}
    )
    assert fields(assert_problem(half, 422, "validation_failed")) == ["linked_id"]


def test_tasks_are_hidden_from_other_teams_and_read_only_for_auditors(client, company):
    task = create_task(company, "rep_a")
    url = f"{TASKS}/{task['id']}"
    assert ok(get(company, "auditor", url))["id"] == task["id"]
    assert_problem(get(company, "rep_c", url), 404, "not_found")
    assert ids(company, "rep_c") == []
    assert_problem(post(company, "auditor", f"{url}/complete"), 403, "read_only_role")
    changed = client.patch(url, json={"title": "Call Acme today"}, headers=company.as_("rep_a"))
    assert ok(changed)["title"] == "Call Acme today"
