"""The account timeline: activities merged with every event of the account's records, newest
first by business time then log position, cursor-paginated, filterable, visible as the account
is."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from crm_api.projections.timeline import TIMELINE_TYPES, timeline
from tests.sales_support import command, open_opportunity
from tests.work_support import (
    assert_problem,
    fields,
    get,
    ok,
    post,
    record_activity,
    timeline_url,
)


def build_history(company, clock):
    """An account with a contact, a back-dated opportunity moved on, a back-dated visit an
    assistant entered, a call, and an ownership transfer; the clock moves between steps."""
    account = company.open_account("rep_a")
    clock.advance(minutes=1)
    ok(
        post(company, "rep_a", "/api/v1/contacts", {"account_id": account["id"], "name": "Ann"}),
        201,
    )
    clock.advance(minutes=1)
    opportunity = open_opportunity(
        company, "rep_a", account["id"], occurred_at=(clock.now() - timedelta(days=2)).isoformat()
    )
    ok(command(company, "rep_a", opportunity["id"], "stage", {"stage": "qualification"}))
    clock.advance(minutes=1)
    visit = record_activity(
        company,
        "assistant",
        account["id"],
        on_behalf_of="rep_a",
        type="visit",
        subject="Demo at their site",
        occurred_at=(clock.now() - timedelta(days=1)).isoformat(),
    )
    clock.advance(minutes=1)
    call = record_activity(company, "rep_a", account["id"], type="call", subject="Follow-up")
    clock.advance(minutes=1)
    ok(
        post(
            company,
            "manager",
            f"/api/v1/accounts/{account['id']}/transfer",
            {"to_owner_id": company.ids["rep_b"], "reason": "territory"},
        )
    )
    return account, opportunity, visit, call


def test_the_timeline_merges_every_record_newest_first_by_business_time(client, company, clock):
    account, opportunity, visit, call = build_history(company, clock)
    items = ok(get(company, "manager", timeline_url(account["id"])))["data"]
    assert [(i["kind"], i["record_type"], i["event_type"]) for i in items] == [
        ("event", "account", "AccountOwnershipTransferred"),
        ("activity", "activity", "ActivityCreated"),
        ("event", "opportunity", "OpportunityStageChanged"),
        ("event", "contact", "ContactAdded"),
        ("event", "account", "AccountOpened"),
        ("activity", "activity", "ActivityCreated"),
        ("event", "opportunity", "OpportunityCreated"),
    ]
    assert [i["record_id"] for i in items if i["kind"] == "activity"] == [call["id"], visit["id"]]
    times = [i["occurred_at"] for i in items]
    assert times == sorted(times, reverse=True)
    transfer = items[0]
    assert transfer["actor"] == company.ids["manager"]
    assert company.ids["rep_b"] in transfer["summary"]
    entered = items[5]
    assert (entered["summary"], entered["actor"], entered["on_behalf_of"]) == (
        "Visit: Demo at their site",
        company.ids["assistant"],
        company.ids["rep_a"],
    )
    assert items[6]["summary"] == f"Opportunity created: {opportunity['name']}"
    assert items[3]["summary"] == "Contact added", "a contact's name is erasable: never copied"


def test_equal_business_times_are_ordered_by_log_position(client, company, clock):
    account = company.open_account("rep_a")
    first = record_activity(company, "rep_a", account["id"], type="note")
    second = record_activity(company, "rep_a", account["id"], type="email")
    items = ok(get(company, "rep_a", timeline_url(account["id"])))["data"]
    assert [i["record_id"] for i in items] == [second["id"], first["id"], account["id"]]
    positions = [i["position"] for i in items]
    assert positions == sorted(positions, reverse=True)


def test_pages_walk_the_whole_timeline_without_gaps_or_repeats(client, company, clock):
    account, *_ = build_history(company, clock)
    url = timeline_url(account["id"])
    whole = [i["id"] for i in ok(get(company, "admin", url, limit=200))["data"]]
    walked, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = ok(get(company, "admin", url, **params))
        walked += [i["id"] for i in page["data"]]
        if not page["has_more"]:
            break
        cursor = page["next_cursor"]
    assert walked == whole and len(whole) == 7
    bad = get(company, "admin", url, cursor="garbage")
    assert_problem(bad, 400, "invalid_cursor")


def test_types_filter_activity_types_and_record_kinds(client, company, clock):
    account, opportunity, visit, call = build_history(company, clock)
    url = timeline_url(account["id"])

    def kinds(types):
        return [
            (i["record_type"], i["record_id"])
            for i in ok(get(company, "manager", url, types=types))["data"]
        ]

    assert kinds("visit") == [("activity", visit["id"])]
    assert kinds("call,opportunity") == [
        ("activity", call["id"]),
        ("opportunity", opportunity["id"]),
        ("opportunity", opportunity["id"]),
    ]
    refused = get(company, "manager", url, types="lunch")
    assert fields(assert_problem(refused, 422, "validation_failed")) == ["types"]
    assert {"call", "invoice", "order", "quote"} <= set(TIMELINE_TYPES)


def test_the_timeline_is_visible_as_its_account_is(client, company, clock):
    account = company.open_account("rep_a")
    record_activity(company, "assistant", account["id"], on_behalf_of="rep_a")
    url = timeline_url(account["id"])
    for who in ("rep_a", "manager", "auditor"):
        assert len(ok(get(company, who, url))["data"]) == 2
    assert len(ok(get(company, "assistant", url, on_behalf_of="rep_a"))["data"]) == 2
    assert_problem(get(company, "rep_c", url), 404, "not_found")
    assert_problem(get(company, "assistant", url, on_behalf_of="rep_b"), 403, "not_assisting")
    assert_problem(get(company, "agent", url), 403, "forbidden")


def test_a_corrected_activity_moves_to_its_new_time(client, company, services, clock):
    account = company.open_account("rep_a")
    clock.advance(hours=1)
    activity = record_activity(company, "rep_a", account["id"], subject="Lunch")
    earlier = clock.now() - timedelta(days=3)
    ok(
        client.patch(
            f"/api/v1/activities/{activity['id']}",
            json={"occurred_at": earlier.isoformat(), "type": "meeting"},
            headers=company.as_("rep_a"),
        )
    )
    items = ok(get(company, "rep_a", timeline_url(account["id"])))["data"]
    assert [(i["record_id"], i["summary"]) for i in items] == [
        (account["id"], "Account opened: Acme"),
        (activity["id"], "Meeting: Lunch"),
    ]
    with services.read() as conn:
        rows = conn.execute(
            select(timeline.c.id).where(timeline.c.record_id == activity["id"])
        ).all()
    assert len(rows) == 1


def test_assets_and_service_requests_are_on_their_accounts_timeline(client, company, clock):
    from tests.service_support import act, open_request, register_asset

    account = company.open_account("rep_a")
    asset = register_asset(company, "rep_a", account["id"], serial_number="SN-T1")
    clock.advance(minutes=5)
    request = open_request(company, "rep_a", account["id"], asset_id=asset["id"])
    clock.advance(minutes=5)
    assert (
        act(
            company, "manager", request["id"], "assign", {"assignee_id": company.ids["agent"]}
        ).status_code
        == 200
    )
    items = ok(get(company, "manager", timeline_url(account["id"]), types="service_request,asset"))[
        "data"
    ]
    assert [(i["record_type"], i["record_id"]) for i in items][-2:] == [
        ("service_request", request["id"]),
        ("asset", asset["id"]),
    ]
    assert items[-2]["summary"] == "Service request opened: It beeps"
    assert items[0]["record_type"] == "service_request" and items[0]["record_id"] == request["id"]
    assert "assigned" in items[0]["summary"].lower()
