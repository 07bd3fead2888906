"""Daily work over GraphQL: the same services, rules and codes as REST."""

from __future__ import annotations

from datetime import timedelta

from tests.api.test_graphql_sales import errors, gql
from tests.work_support import TASKS, create_task, draft_plan, get, ok, plan_command


def data(body):
    assert "errors" not in body, body
    return body["data"]


def test_activities_and_the_timeline(client, company, clock):
    account = company.open_account("rep_a")
    yesterday = (clock.now() - timedelta(days=1)).isoformat()
    created = data(
        gql(
            company,
            "assistant",
            """mutation($input: CreateActivityInput!) {
                 createActivity(input: $input) { id type occurredAt enteredBy onBehalfOf ownerId }
               }""",
            on_behalf_of="rep_a",
            input={"accountId": account["id"], "type": "visit", "occurredAt": yesterday},
        )
    )["createActivity"]
    assert (created["enteredBy"], created["onBehalfOf"], created["ownerId"]) == (
        company.ids["assistant"],
        company.ids["rep_a"],
        company.ids["rep_a"],
    )
    found = data(
        gql(
            company,
            "rep_a",
            """query($account: ID!) {
                 activities(filter: {accountId: $account, type: "visit"}) { edges { node { id } } }
                 timeline(accountId: $account, first: 1) {
                   edges { node { kind recordType recordId summary } } pageInfo { hasNextPage }
                 }
               }""",
            account=account["id"],
        )
    )
    assert [e["node"]["id"] for e in found["activities"]["edges"]] == [created["id"]]
    assert found["timeline"]["edges"][0]["node"] == {
        "kind": "event",
        "recordType": "account",
        "recordId": account["id"],
        "summary": "Account opened: Acme",
    }
    assert found["timeline"]["pageInfo"]["hasNextPage"] is True
    hidden = gql(
        company,
        "rep_c",
        "query($a: ID!) { timeline(accountId: $a) { edges { cursor } } }",
        a=account["id"],
    )
    assert [e["code"] for e in errors(hidden)] == ["not_found"]
    bad = gql(
        company,
        "rep_a",
        "mutation($i: CreateActivityInput!) { createActivity(input: $i) { id } }",
        i={"accountId": account["id"], "type": "lunch"},
    )
    assert [e["code"] for e in errors(bad)] == ["validation_failed"]


def test_tasks_overdue_and_complete(client, company, clock):
    task = create_task(company, "manager", assignee_id=company.ids["rep_a"], due_date="2026-01-05")
    clock.advance(days=1)
    overdue = data(
        gql(company, "rep_a", "{ tasks(filter: {overdue: true}) { edges { node { id status } } } }")
    )["tasks"]["edges"]
    assert [e["node"] for e in overdue] == [{"id": task["id"], "status": "open"}]
    done = data(
        gql(
            company,
            "rep_a",
            'mutation($id: ID!) { completeTask(id: $id, note: "done") { status version } }',
            id=task["id"],
        )
    )["completeTask"]
    assert done == {"status": "done", "version": 2}
    assert ok(get(company, "rep_a", f"{TASKS}/{task['id']}"))["status"] == "done"


def test_work_plan_review_rules_hold(client, company):
    plan = draft_plan(company, "rep_a")
    ok(plan_command(company, "rep_a", plan, "submit"))
    accept = "mutation($id: ID!) { acceptWorkPlan(id: $id) { state reviewedBy } }"
    own = gql(company, "rep_a", accept, id=plan["id"])
    assert [e["code"] for e in errors(own)] == ["forbidden"]
    accepted = data(gql(company, "manager", accept, id=plan["id"]))["acceptWorkPlan"]
    assert accepted == {"state": "accepted", "reviewedBy": company.ids["manager"]}
    missing = data(
        gql(
            company,
            "manager",
            '{ missingWorkPlans(period: "2026-W02") { edges { node { userId state } } } }',
        )
    )["missingWorkPlans"]["edges"]
    assert [e["node"] for e in missing] == [{"userId": company.ids["rep_b"], "state": None}]


def test_notices_and_reports(client, company):
    issued = data(
        gql(
            company,
            "manager",
            """mutation($input: IssueMeetingNoticeInput!) {
                 issueMeetingNotice(input: $input) { id acknowledgedCount }
               }""",
            input={
                "title": "Kick-off",
                "startsAt": "2026-01-12T08:00:00Z",
                "attendeeIds": [company.ids["rep_a"]],
            },
        )
    )["issueMeetingNotice"]
    ack = "mutation($id: ID!) { acknowledgeMeetingNotice(id: $id) { acknowledgedCount attendees { userId acknowledgedAt } } }"
    done = data(gql(company, "rep_a", ack, id=issued["id"]))["acknowledgeMeetingNotice"]
    assert done["acknowledgedCount"] == 1
    again = gql(company, "rep_a", ack, id=issued["id"])
    assert [e["code"] for e in errors(again)] == ["already_acknowledged"]
    report = data(
        gql(
            company,
            "rep_a",
            """mutation($input: FileMatterReportInput!) {
                 fileMatterReport(input: $input) { id addressedTo severity }
               }""",
            input={"title": "Price war", "text": "Details", "severity": "critical"},
        )
    )["fileMatterReport"]
    assert report["addressedTo"] == company.ids["manager"]
    seen = data(gql(company, "manager", "{ matterReports { edges { node { id } } } }"))
    assert [e["node"]["id"] for e in seen["matterReports"]["edges"]] == [report["id"]]
    hidden = data(gql(company, "rep_b", "{ matterReports { edges { node { id } } } }"))
    assert hidden["matterReports"]["edges"] == []
