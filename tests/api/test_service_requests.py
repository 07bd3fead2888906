"""Service requests over REST: routing when opened, the life cycle as history, the SLA clock,
customer notifications, internal notes, and who sees which request."""

from __future__ import annotations

from sqlalchemy import select

from crm_api.projections.service import service_outbox, service_requests
from tests.sales_support import assert_problem, fields, history_types, list_product, ok
from tests.service_support import (
    REQUESTS,
    act,
    add_agent,
    define_policy,
    define_rule,
    form_queue,
    open_request,
    register_asset,
)


def assign(company, request_id, who="agent"):
    return ok(act(company, "manager", request_id, "assign", {"assignee_id": company.ids[who]}))


def test_the_whole_life_of_a_request_is_history(client, company):
    account = company.open_account("rep_a")
    request = open_request(company, "rep_a", account["id"], kind="complaint")
    assert (request["state"], request["assignee_id"], request["sla"]["resolution"]) == (
        "new",
        None,
        "none",
    )
    rid = request["id"]
    assert assign(company, rid)["state"] == "assigned"
    ok(act(company, "agent", rid, "start"))
    ok(act(company, "agent", rid, "wait-on-customer", {"reason": "photo please"}))
    ok(act(company, "agent", rid, "resume"))
    resolved = ok(act(company, "agent", rid, "resolve", {"resolution": "Replaced the fuse"}))
    assert (resolved["state"], resolved["resolution"]) == ("resolved", "Replaced the fuse")
    closed = ok(act(company, "rep_a", rid, "evaluate", {"satisfied": True, "score": 4}))
    assert closed["state"] == "closed"
    assert closed["evaluation"] == {"satisfied": True, "score": 4, "comment": None}
    assert history_types(company, f"{REQUESTS}/{rid}") == [
        "ServiceRequestOpened",
        "ServiceRequestAssigned",
        "ServiceRequestStarted",
        "ServiceRequestWaitingOnCustomer",
        "ServiceRequestResumed",
        "ServiceRequestResolved",
        "ServiceRequestEvaluated",
        "ServiceRequestClosed",
    ]
    listed = ok(client.get(REQUESTS, params={"state": "closed"}, headers=company.as_("rep_a")))
    assert [r["id"] for r in listed["data"]] == [rid]


def test_a_forbidden_transition_is_409_invalid_state_naming_the_state(client, company):
    account = company.open_account("rep_a")
    rid = open_request(company, "rep_a", account["id"])["id"]
    problem = assert_problem(act(company, "manager", rid, "resume"), 409, "invalid_state")
    assert problem["state"] == "new"
    assign(company, rid)
    problem = assert_problem(
        act(company, "agent", rid, "resolve", {"resolution": "done"}), 409, "invalid_state"
    )
    assert problem["state"] == "assigned"


def test_an_unsatisfied_evaluation_reopens_with_a_new_resolve_due_time(client, company, clock):
    define_policy(company, first_response_within_minutes=30, resolve_within_minutes=240)
    account = company.open_account("rep_a")
    rid = open_request(company, "rep_a", account["id"])["id"]
    assign(company, rid)
    ok(act(company, "agent", rid, "start"))
    ok(act(company, "agent", rid, "resolve", {"resolution": "Reset it"}))
    clock.advance(days=2)
    reopened = ok(
        act(company, "rep_a", rid, "evaluate", {"satisfied": False, "score": 1, "comment": "No"})
    )
    assert (reopened["state"], reopened["reopen_count"]) == ("reopened", 1)
    assert reopened["sla"]["resolve_due_at"].startswith("2026-01-07T13:00")
    assert reopened["sla"]["resolution"] == "pending"
    assert ok(act(company, "agent", rid, "start"))["state"] == "in_progress"


def test_sla_due_times_pause_while_waiting_and_breach_by_the_clock(
    client, company, clock, services
):
    define_policy(company, "high", first_response_within_minutes=60, resolve_within_minutes=120)
    account = company.open_account("rep_a")
    opened = open_request(company, "rep_a", account["id"], priority="high")
    rid = opened["id"]
    assert opened["sla"]["first_response_due_at"].startswith("2026-01-05T10:00")
    assert opened["sla"]["resolve_due_at"].startswith("2026-01-05T11:00")
    clock.advance(minutes=90)
    late = ok(client.get(f"{REQUESTS}/{rid}", headers=company.as_("rep_a")))
    assert late["sla"]["first_response"] == "breached"
    assign(company, rid)
    ok(act(company, "agent", rid, "start"))
    ok(act(company, "agent", rid, "wait-on-customer"))
    clock.advance(hours=5)
    waiting = ok(client.get(f"{REQUESTS}/{rid}", headers=company.as_("agent")))
    assert (waiting["sla"]["resolution"], waiting["sla"]["paused_seconds"]) == ("paused", 5 * 3600)
    resumed = ok(act(company, "agent", rid, "resume"))
    assert resumed["sla"]["resolve_due_at"].startswith("2026-01-05T16:00")
    assert resumed["sla"]["resolution"] == "pending"
    with services.read() as conn:
        row = conn.execute(select(service_requests).where(service_requests.c.id == rid)).one()
    assert row.resolve_due_at.isoformat().startswith("2026-01-05T16:00")
    assert (row.paused_since, row.paused_seconds) == (None, 5 * 3600)
    clock.advance(hours=1)
    listed = ok(client.get(REQUESTS, headers=company.as_("agent")))["data"][0]
    assert listed["sla"]["resolution"] == "breached"


def test_routing_first_match_wins_and_queues_take_turns(client, company):
    add_agent(company, "agent_2")
    queue = form_queue(company, "Complaints", "agent", "agent_2")
    product = list_product(company)
    define_rule(
        company,
        "complaints to the queue",
        10,
        conditions={"kinds": ["complaint"]},
        queue_id=queue["id"],
    )
    define_rule(company, "everything else", 20, assignee_id=company.ids["agent_2"])
    define_rule(
        company,
        "our widgets first",
        5,
        conditions={"product_ids": [product["id"]], "kinds": ["fault"]},
        assignee_id=company.ids["agent"],
    )
    account = company.open_account("rep_a")
    picks = [
        open_request(company, "rep_a", account["id"], kind="complaint")["assignee_id"]
        for _ in range(3)
    ]
    assert picks == [company.ids["agent"], company.ids["agent_2"], company.ids["agent"]]
    asset = register_asset(company, "rep_a", account["id"], product_id=product["id"])
    widget = open_request(company, "rep_a", account["id"], asset_id=asset["id"])
    assert (widget["assignee_id"], widget["product_id"]) == (company.ids["agent"], product["id"])
    other = open_request(company, "rep_a", account["id"], kind="inquiry")
    assert (other["state"], other["assignee_id"], other["queue_id"]) == (
        "assigned",
        company.ids["agent_2"],
        None,
    )
    routed = ok(client.get(f"{REQUESTS}/{other['id']}/history", headers=company.as_("auditor")))
    assert routed["data"][1]["type"] == "ServiceRequestRouted"
    assert routed["data"][1]["data"]["rule_id"] == other["routed_by_rule_id"]


def test_with_no_matching_rule_a_request_stays_new_and_unassigned(client, company):
    define_rule(
        company,
        "repairs only",
        1,
        conditions={"kinds": ["repair"]},
        assignee_id=company.ids["agent"],
    )
    account = company.open_account("rep_a", manual_grade="B")
    request = open_request(company, "rep_a", account["id"], kind="inquiry")
    assert (request["state"], request["assignee_id"], request["routed_by_rule_id"]) == (
        "new",
        None,
        None,
    )


def test_an_agent_sees_its_own_and_its_queues_requests_a_rep_its_accounts(client, company):
    add_agent(company, "agent_2")
    queue = form_queue(company, "Shared", "agent_2", "agent")
    define_rule(
        company, "faults to the queue", 1, conditions={"kinds": ["fault"]}, queue_id=queue["id"]
    )
    mine = company.open_account("rep_a")
    theirs = company.open_account("rep_c", name="Other")
    to_queue = open_request(company, "rep_a", mine["id"])  # picked: agent_2, in the queue
    direct = open_request(company, "rep_c", theirs["id"], kind="inquiry")
    ok(act(company, "admin", direct["id"], "assign", {"assignee_id": company.ids["agent"]}))
    hidden = open_request(company, "rep_c", theirs["id"], kind="inquiry")
    seen = ok(client.get(REQUESTS, headers=company.as_("agent")))
    assert {r["id"] for r in seen["data"]} == {to_queue["id"], direct["id"]}
    assert client.get(f"{REQUESTS}/{hidden['id']}", headers=company.as_("agent")).status_code == 404
    rep = ok(client.get(REQUESTS, headers=company.as_("rep_a")))
    assert [r["id"] for r in rep["data"]] == [to_queue["id"]]
    assert client.get(f"{REQUESTS}/{direct['id']}", headers=company.as_("rep_a")).status_code == 404
    assert len(ok(client.get(REQUESTS, headers=company.as_("auditor")))["data"]) == 3
    assert_problem(act(company, "rep_a", to_queue["id"], "start"), 403, "forbidden")


def test_only_managers_and_admins_assign_and_the_assignee_must_work_requests(client, company):
    account = company.open_account("rep_a")
    rid = open_request(company, "rep_a", account["id"])["id"]
    refused = act(company, "agent", rid, "assign", {"assignee_id": company.ids["agent"]})
    assert_problem(refused, 403, "forbidden")
    to_rep = act(company, "manager", rid, "assign", {"assignee_id": company.ids["rep_b"]})
    assert fields(assert_problem(to_rep, 422, "validation_failed")) == ["assignee_id"]
    first = assign(company, rid)
    add_agent(company, "agent_2")
    again = ok(act(company, "manager", rid, "assign", {"assignee_id": company.ids["agent_2"]}))
    assert again["assignee_id"] == company.ids["agent_2"]
    entries = ok(client.get(f"{REQUESTS}/{rid}/history", headers=company.as_("auditor")))["data"]
    assert entries[-1]["data"]["from_assignee_id"] == first["assignee_id"]
    assert entries[-1]["data"]["to_assignee_id"] == company.ids["agent_2"]


def test_managers_close_in_any_open_state_agents_only_resolved_ones(client, company):
    account = company.open_account("rep_a")
    rid = open_request(company, "rep_a", account["id"])["id"]
    assign(company, rid)
    assert_problem(act(company, "agent", rid, "close"), 409, "invalid_state")
    closed = ok(act(company, "manager", rid, "close", {"reason": "duplicate"}))
    assert closed["state"] == "closed"
    assert (
        ok(act(company, "agent", rid, "reopen", {"reason": "not a duplicate"}))["state"]
        == "reopened"
    )


def test_internal_notes_stay_out_of_the_customer_view(client, company):
    account = company.open_account("rep_a")
    rid = open_request(company, "rep_a", account["id"])["id"]
    ok(act(company, "rep_a", rid, "notes", {"text": "Customer is grumpy"}))
    replied = ok(act(company, "manager", rid, "replies", {"text": "We are looking into it"}))
    assert [m["kind"] for m in replied["messages"]] == ["note", "reply"]
    assert replied["first_responded_at"] is not None
    customer = ok(
        client.get(
            f"{REQUESTS}/{rid}", params={"audience": "customer"}, headers=company.as_("rep_a")
        )
    )
    assert [m["text"] for m in customer["messages"]] == ["We are looking into it"]


def test_notifying_the_customer_records_the_email_in_the_outbox(client, company, services):
    account = company.open_account("rep_a")
    contact = ok(
        client.post(
            "/api/v1/contacts",
            json={"account_id": account["id"], "name": "Ann", "email": "ann@example.com"},
            headers=company.as_("rep_a"),
        ),
        201,
    )
    rid = open_request(company, "rep_a", account["id"], contact_id=contact["id"])["id"]
    assign(company, rid)
    ok(act(company, "agent", rid, "start"))
    notified = ok(act(company, "agent", rid, "notify", {"message": "A technician comes Monday."}))
    assert notified["notifications"][0]["to"] == "ann@example.com"
    resolved = ok(act(company, "agent", rid, "resolve", {"resolution": "Fuse replaced"}))
    assert [n["template"] for n in resolved["notifications"]] == ["update", "resolved"]
    with services.read() as conn:
        rows = conn.execute(select(service_outbox).order_by(service_outbox.c.position)).all()
    assert [r.recipient for r in rows] == ["ann@example.com", "ann@example.com"]
    assert "A technician comes Monday." in rows[0].body and "Dear Ann," in rows[0].body
    assert "Fuse replaced" in rows[1].body
    feed = ok(
        client.get(
            "/api/v1/events",
            params={"types": "ServiceRequestCustomerNotified"},
            headers=company.as_("admin"),
        )
    )
    assert len(feed["data"]) == 2


def test_notifying_without_an_address_names_the_field(client, company):
    account = company.open_account("rep_a")
    rid = open_request(company, "rep_a", account["id"])["id"]
    assign(company, rid)
    response = act(company, "agent", rid, "notify", {})
    assert fields(assert_problem(response, 422, "validation_failed")) == ["to"]


def test_the_asset_and_contact_must_belong_to_the_account(client, company):
    mine = company.open_account("rep_a")
    other = company.open_account("rep_a", name="Other")
    asset = register_asset(company, "rep_a", other["id"])
    response = client.post(
        REQUESTS,
        json={
            "account_id": mine["id"],
            "kind": "fault",
            "channel": "web",
            "subject": "x",
            "asset_id": asset["id"],
        },
        headers=company.as_("rep_a"),
    )
    assert fields(assert_problem(response, 422, "validation_failed")) == ["asset_id"]
    bad = client.post(
        REQUESTS,
        json={"account_id": mine["id"], "kind": "praise", "channel": "web", "subject": "x"},
        headers=company.as_("rep_a"),
    )
    assert fields(assert_problem(bad, 422, "validation_failed")) == ["kind"]
