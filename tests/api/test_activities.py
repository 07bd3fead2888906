"""Activities over REST: back-dated interactions, related records of the same account, what an
assistant enters for its rep, who sees what, integrator keys."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.sales_support import open_opportunity
from tests.work_support import (
    ACTIVITIES,
    assert_problem,
    fields,
    get,
    ok,
    post,
    record_activity,
)


def add_contact(company, who, account_id, name="Ann"):
    response = post(company, who, "/api/v1/contacts", {"account_id": account_id, "name": name})
    return ok(response, 201)


def test_a_back_dated_visit_keeps_when_it_happened_and_when_it_was_entered(client, company, clock):
    account = company.open_account("rep_a")
    yesterday = clock.now() - timedelta(days=1, hours=2)
    activity = record_activity(
        company,
        "rep_a",
        account["id"],
        type="visit",
        occurred_at=yesterday.isoformat(),
        duration_minutes=45,
        outcome="Interested in the new model",
        next_step="Send a quote",
    )
    assert activity["occurred_at"] == yesterday.isoformat().replace("+00:00", "Z")
    assert activity["created_at"] == clock.now().isoformat().replace("+00:00", "Z")
    assert (activity["owner_id"], activity["entered_by"], activity["on_behalf_of"]) == (
        company.ids["rep_a"],
        company.ids["rep_a"],
        None,
    )
    events = ok(get(company, "rep_a", f"{ACTIVITIES}/{activity['id']}/history"))["data"]
    assert [e["type"] for e in events] == ["ActivityCreated"]
    assert events[0]["occurred_at"] == activity["occurred_at"]
    listed = ok(get(company, "rep_a", ACTIVITIES))
    assert listed["data"] == [activity]


def test_an_activity_in_the_future_beyond_the_tolerance_is_refused(client, company, clock):
    account = company.open_account("rep_a")
    soon = clock.now() + timedelta(minutes=3)
    assert record_activity(company, "rep_a", account["id"], occurred_at=soon.isoformat())
    later = clock.now() + timedelta(minutes=10)
    refused = post(
        company,
        "rep_a",
        ACTIVITIES,
        {"account_id": account["id"], "type": "call", "occurred_at": later.isoformat()},
    )
    assert fields(assert_problem(refused, 422, "validation_failed")) == ["occurred_at"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"type": "lunch"}, "type"),
        ({"duration_minutes": -1}, "duration_minutes"),
        ({"colour": "red"}, "colour"),
        ({"subject": ""}, "subject"),
        ({"account_id": "nope"}, "account_id"),
        ({"account_id": "00000000-0000-4000-8000-00000000dead"}, "account_id"),
        ({"service_request_id": "00000000-0000-4000-8000-00000000dead"}, "service_request_id"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, company, overrides, field):
    account = company.open_account("rep_a")
    body = {"account_id": account["id"], "type": "call", **overrides}
    refused = post(company, "rep_a", ACTIVITIES, body)
    assert fields(assert_problem(refused, 422, "validation_failed")) == [field]


def test_contact_and_opportunity_must_belong_to_the_account(client, company):
    account = company.open_account("rep_a")
    other = company.open_account("rep_a", name="Other")
    contact = add_contact(company, "rep_a", account["id"])
    stranger = add_contact(company, "rep_a", other["id"], name="Bob")
    opportunity = open_opportunity(company, "rep_a", account["id"])
    elsewhere = open_opportunity(company, "rep_a", other["id"])
    linked = record_activity(
        company,
        "rep_a",
        account["id"],
        contact_id=contact["id"],
        opportunity_id=opportunity["id"],
    )
    assert (linked["contact_id"], linked["opportunity_id"]) == (contact["id"], opportunity["id"])
    for field, record in (("contact_id", stranger), ("opportunity_id", elsewhere)):
        refused = post(
            company,
            "rep_a",
            ACTIVITIES,
            {"account_id": account["id"], "type": "call", field: record["id"]},
        )
        assert fields(assert_problem(refused, 422, "validation_failed")) == [field]


def test_an_assistant_enters_activities_for_its_rep_and_the_rep_sees_them_marked(client, company):
    account = company.open_account("rep_a")
    entered = record_activity(company, "assistant", account["id"], on_behalf_of="rep_a")
    assert (entered["owner_id"], entered["entered_by"], entered["on_behalf_of"]) == (
        company.ids["rep_a"],
        company.ids["assistant"],
        company.ids["rep_a"],
    )
    seen = ok(get(company, "rep_a", ACTIVITIES, owner_id=company.ids["rep_a"]))["data"]
    assert [(a["id"], a["entered_by"]) for a in seen] == [(entered["id"], company.ids["assistant"])]
    history = ok(get(company, "rep_a", f"{ACTIVITIES}/{entered['id']}/history"))["data"]
    assert (history[0]["actor"], history[0]["on_behalf_of"]) == (
        company.ids["assistant"],
        company.ids["rep_a"],
    )


def test_an_assistant_cannot_act_for_a_rep_it_does_not_assist(client, company):
    account = company.open_account("rep_b")
    refused = post(
        company,
        "assistant",
        ACTIVITIES,
        {"account_id": account["id"], "type": "call"},
        on_behalf_of="rep_b",
    )
    assert_problem(refused, 403, "not_assisting")
    without = post(company, "assistant", ACTIVITIES, {"account_id": account["id"], "type": "call"})
    assert_problem(without, 403, "on_behalf_of_required")


def test_activities_are_seen_by_whoever_sees_the_account(client, company):
    account = company.open_account("rep_a")
    activity = record_activity(company, "rep_a", account["id"])
    url = f"{ACTIVITIES}/{activity['id']}"
    for who in ("rep_a", "manager", "auditor", "admin"):
        assert ok(get(company, who, url))["id"] == activity["id"]
    assert_problem(get(company, "rep_c", url), 404, "not_found")
    assert ok(get(company, "rep_c", ACTIVITIES))["data"] == []
    refused = post(company, "rep_c", ACTIVITIES, {"account_id": account["id"], "type": "note"})
    assert fields(assert_problem(refused, 422, "validation_failed")) == ["account_id"]
    assert_problem(
        post(company, "auditor", ACTIVITIES, {"account_id": account["id"], "type": "note"}),
        403,
        "read_only_role",
    )


def test_the_list_filters_by_account_type_owner_and_period(client, company, clock):
    acme = company.open_account("rep_a")
    other = company.open_account("rep_a", name="Other")
    old = record_activity(
        company,
        "rep_a",
        acme["id"],
        type="visit",
        occurred_at=(clock.now() - timedelta(days=10)).isoformat(),
    )
    call = record_activity(company, "rep_a", acme["id"], type="call")
    record_activity(company, "rep_a", other["id"], type="email")

    def ids(**params):
        return [a["id"] for a in ok(get(company, "manager", ACTIVITIES, **params))["data"]]

    assert ids(account_id=acme["id"]) == [call["id"], old["id"]]
    assert ids(type="visit") == [old["id"]]
    since = (clock.now() - timedelta(days=1)).isoformat()
    assert ids(account_id=acme["id"], **{"from": since}) == [call["id"]]
    assert ids(to=since) == [old["id"]]
    assert ids(owner_id=company.ids["rep_b"]) == []
    page = ok(get(company, "manager", ACTIVITIES, limit=2))
    assert page["has_more"] is True
    rest = ok(get(company, "manager", ACTIVITIES, limit=2, cursor=page["next_cursor"]))
    assert [a["id"] for a in rest["data"]] == [old["id"]]


def test_a_patch_corrects_the_activity_and_is_history(client, company, clock):
    account = company.open_account("rep_a")
    activity = record_activity(company, "rep_a", account["id"], subject="First call")
    earlier = clock.now() - timedelta(hours=3)
    changed = ok(
        company.client.patch(
            f"{ACTIVITIES}/{activity['id']}",
            json={"type": "meeting", "occurred_at": earlier.isoformat(), "outcome": "Agreed"},
            headers={**company.as_("rep_a"), "If-Match": '"1"'},
        )
    )
    assert (changed["type"], changed["outcome"], changed["version"]) == ("meeting", "Agreed", 2)
    assert changed["occurred_at"] == earlier.isoformat().replace("+00:00", "Z")
    stale = company.client.patch(
        f"{ACTIVITIES}/{activity['id']}",
        json={"notes": "x"},
        headers={**company.as_("rep_a"), "If-Match": '"1"'},
    )
    assert_problem(stale, 412, "version_conflict")
    future = company.client.patch(
        f"{ACTIVITIES}/{activity['id']}",
        json={"occurred_at": (clock.now() + timedelta(hours=1)).isoformat()},
        headers=company.as_("rep_a"),
    )
    assert fields(assert_problem(future, 422, "validation_failed")) == ["occurred_at"]
    assert ok(get(company, "rep_a", ACTIVITIES))["data"] == [changed]


def test_an_integrator_key_writes_activities_within_its_scopes(client, company):
    account = company.open_account("rep_a")

    def key(scopes):
        body = {"name": f"erp {scopes}", "role": "integrator", "scopes": scopes}
        created = ok(post(company, "admin", "/api/v1/api-keys", body), 201)
        return {"Authorization": f"Bearer {created['token']}"}

    writer = key(["activities:write", "activities:read"])
    body = {"account_id": account["id"], "type": "email", "subject": "Order confirmation"}
    created = ok(client.post(ACTIVITIES, json=body, headers=writer), 201)
    assert created["owner_id"] == company.ids["rep_a"]
    reader = key(["activities:read"])
    assert_problem(client.post(ACTIVITIES, json=body, headers=reader), 403, "insufficient_scope")
