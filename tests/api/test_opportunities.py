"""Opportunities over REST: stages as history, visibility by the account's owner, bad input."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from crm_api.projections.opportunities import opportunities as opportunity_rows
from tests.sales_support import (
    OPPORTUNITIES,
    assert_problem,
    command,
    fields,
    history_types,
    list_product,
    ok,
    open_opportunity,
    opportunity_body,
)


def setup(company, who="rep_a", **overrides):
    account = company.open_account(who)
    return account, open_opportunity(company, who, account["id"], **overrides)


def read_model_row(services, opportunity_id):
    with services.read() as conn:
        row = conn.execute(
            select(opportunity_rows).where(opportunity_rows.c.id == opportunity_id)
        ).one()
    return row._mapping


# create


def test_a_new_opportunity_belongs_to_the_account_owner_and_is_listed_at_once(client, company):
    _account, opportunity = setup(company)
    assert (opportunity["owner_id"], opportunity["stage"], opportunity["amount"]) == (
        company.ids["rep_a"],
        "prospecting",
        "1000.00",
    )
    assert opportunity["version"] == 1
    listed = ok(client.get(OPPORTUNITIES, headers=company.as_("rep_a")))
    assert listed["data"] == [opportunity]
    assert listed["has_more"] is False


def test_a_manager_may_give_it_to_a_team_rep_but_a_rep_not_to_another(client, company):
    account = company.open_account("rep_a")
    given = open_opportunity(company, "manager", account["id"], owner_id=company.ids["rep_b"])
    assert given["owner_id"] == company.ids["rep_b"]
    refused = client.post(
        OPPORTUNITIES,
        json=opportunity_body(account["id"], owner_id=company.ids["rep_b"]),
        headers=company.as_("rep_a"),
    )
    assert_problem(refused, 403, "owner_not_allowed")


def test_a_product_must_exist(client, company):
    account = company.open_account("rep_a")
    product = list_product(company)
    opportunity = open_opportunity(company, "rep_a", account["id"], product_id=product["id"])
    assert opportunity["product_id"] == product["id"]
    refused = client.post(
        OPPORTUNITIES,
        json=opportunity_body(account["id"], product_id="00000000-0000-4000-8000-00000000dead"),
        headers=company.as_("rep_a"),
    )
    assert fields(assert_problem(refused, 422, "validation_failed")) == ["product_id"]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"currency": "eur"}, "currency"),
        ({"currency": "EURO"}, "currency"),
        ({"amount": "-1.00"}, "amount"),
        ({"amount": "1.001"}, "amount"),
        ({"amount": "lots"}, "amount"),
        ({"expected_close_date": "31/03/2026"}, "expected_close_date"),
        ({"stage": "won"}, "stage"),
        ({"colour": "red"}, "colour"),
        ({"name": ""}, "name"),
        ({"account_id": "not-a-uuid"}, "account_id"),
    ],
)
def test_bad_input_is_422_naming_the_field(client, company, overrides, field):
    account = company.open_account("rep_a")
    refused = client.post(
        OPPORTUNITIES,
        json={**opportunity_body(account["id"]), **overrides},
        headers=company.as_("rep_a"),
    )
    assert fields(assert_problem(refused, 422, "validation_failed")) == [field]


def test_an_account_the_caller_cannot_see_is_an_unknown_account(client, company):
    account = company.open_account("rep_a")
    refused = client.post(
        OPPORTUNITIES, json=opportunity_body(account["id"]), headers=company.as_("rep_c")
    )
    assert fields(assert_problem(refused, 422, "validation_failed")) == ["account_id"]


def test_a_creation_in_the_future_is_refused_and_one_in_the_past_is_its_business_time(
    client, company, clock
):
    account = company.open_account("rep_a")
    future = (clock.now() + timedelta(minutes=5)).isoformat()
    refused = client.post(
        OPPORTUNITIES,
        json=opportunity_body(account["id"], occurred_at=future),
        headers=company.as_("rep_a"),
    )
    assert fields(assert_problem(refused, 422, "validation_failed")) == ["occurred_at"]
    past = clock.now() - timedelta(days=30)
    opportunity = open_opportunity(company, "rep_a", account["id"], occurred_at=past.isoformat())
    assert opportunity["opened_at"] == past.isoformat().replace("+00:00", "Z")
    events = ok(
        client.get(f"{OPPORTUNITIES}/{opportunity['id']}/history", headers=company.as_("rep_a"))
    )
    assert events["data"][0]["occurred_at"] == past.isoformat().replace("+00:00", "Z")


# stages


def test_every_transition_is_its_own_event_with_from_and_to(client, company, services):
    _account, opportunity = setup(company)
    url = f"{OPPORTUNITIES}/{opportunity['id']}"
    for stage in ("qualification", "proposal", "negotiation", "proposal"):
        moved = ok(command(company, "rep_a", opportunity["id"], "stage", {"stage": stage}))
        assert moved["stage"] == stage
    lost = ok(command(company, "rep_a", opportunity["id"], "lose", {"reason": "budget cut"}))
    assert (lost["stage"], lost["lost_reason"]) == ("lost", "budget cut")
    reopened = ok(command(company, "rep_a", opportunity["id"], "reopen", {"stage": "negotiation"}))
    assert (reopened["stage"], reopened["lost_reason"], reopened["lost_at"]) == (
        "negotiation",
        None,
        None,
    )
    won = ok(command(company, "rep_a", opportunity["id"], "win"))
    assert (won["stage"], won["version"]) == ("won", 8)
    events = ok(client.get(f"{url}/history", headers=company.as_("rep_a")))["data"]
    assert [
        (e["type"], e["data"].get("from_stage"), e["data"].get("to_stage")) for e in events
    ] == [
        ("OpportunityCreated", None, None),
        ("OpportunityStageChanged", "prospecting", "qualification"),
        ("OpportunityStageChanged", "qualification", "proposal"),
        ("OpportunityStageChanged", "proposal", "negotiation"),
        ("OpportunityStageChanged", "negotiation", "proposal"),
        ("OpportunityLost", "proposal", "lost"),
        ("OpportunityReopened", "lost", "negotiation"),
        ("OpportunityWon", "negotiation", "won"),
    ]
    assert events[5]["data"]["reason"] == "budget cut"
    row = read_model_row(services, opportunity["id"])
    assert (row["stage"], row["version"], row["won_at"] is not None) == ("won", 8, True)
    at_lost = ok(client.get(url, params={"version": 6}, headers=company.as_("rep_a")))
    assert (at_lost["stage"], at_lost["lost_reason"]) == ("lost", "budget cut")


@pytest.mark.parametrize(
    ("verb", "body"),
    [
        ("stage", {"stage": "proposal"}),
        ("win", {}),
        ("lose", {"reason": "late"}),
        ("reopen", {"stage": "proposal"}),
    ],
)
def test_nothing_changes_a_won_opportunity(client, company, verb, body):
    _account, opportunity = setup(company)
    ok(command(company, "rep_a", opportunity["id"], "win"))
    problem = assert_problem(
        command(company, "rep_a", opportunity["id"], verb, body), 409, "invalid_state"
    )
    assert problem["state"] == "won"
    patch = client.patch(
        f"{OPPORTUNITIES}/{opportunity['id']}", json={"name": "x"}, headers=company.as_("rep_a")
    )
    assert assert_problem(patch, 409, "invalid_state")["state"] == "won"
    assert history_types(company, f"{OPPORTUNITIES}/{opportunity['id']}") == [
        "OpportunityCreated",
        "OpportunityWon",
    ]


@pytest.mark.parametrize(
    ("verb", "body", "state"),
    [
        ("stage", {"stage": "prospecting"}, "prospecting"),
        ("lose", {}, "prospecting"),
        ("lose", {"reason": "   "}, "prospecting"),
        ("reopen", {"stage": "proposal"}, "prospecting"),
    ],
)
def test_forbidden_transitions_of_an_open_opportunity_are_409_with_the_state(
    company, verb, body, state
):
    _account, opportunity = setup(company)
    problem = assert_problem(
        command(company, "rep_a", opportunity["id"], verb, body), 409, "invalid_state"
    )
    assert problem["state"] == state


def test_a_lost_opportunity_only_reopens(company):
    _account, opportunity = setup(company)
    ok(command(company, "rep_a", opportunity["id"], "lose", {"reason": "price"}))
    for verb, body in (("stage", {"stage": "proposal"}), ("win", {}), ("lose", {"reason": "x"})):
        problem = assert_problem(
            command(company, "rep_a", opportunity["id"], verb, body), 409, "invalid_state"
        )
        assert problem["state"] == "lost"


@pytest.mark.parametrize(
    ("verb", "body", "field"),
    [
        ("stage", {"stage": "won"}, "stage"),
        ("stage", {}, "stage"),
        ("stage", {"stage": "proposal", "extra": 1}, "extra"),
        ("reopen", {"stage": "lost"}, "stage"),
        ("lose", {"reason": "x" * 501}, "reason"),
        ("win", {"occurred_at": "yesterday"}, "occurred_at"),
    ],
)
def test_bad_command_bodies_are_422_naming_the_field(company, verb, body, field):
    _account, opportunity = setup(company)
    problem = assert_problem(
        command(company, "rep_a", opportunity["id"], verb, body), 422, "validation_failed"
    )
    assert fields(problem) == [field]


def test_business_time_is_not_in_the_future_nor_before_creation(company, clock):
    _account, opportunity = setup(company)
    clock.advance(days=2)
    for occurred_at in (clock.now() + timedelta(seconds=1), clock.now() - timedelta(days=3)):
        problem = assert_problem(
            command(
                company, "rep_a", opportunity["id"], "win", {"occurred_at": occurred_at.isoformat()}
            ),
            422,
            "validation_failed",
        )
        assert fields(problem) == ["occurred_at"]
    yesterday = clock.now() - timedelta(days=1)
    won = ok(
        command(company, "rep_a", opportunity["id"], "win", {"occurred_at": yesterday.isoformat()})
    )
    assert won["won_at"] == yesterday.isoformat().replace("+00:00", "Z")


# details, concurrency, idempotency


def test_details_change_with_if_match_and_a_stale_version_is_412(client, company, services):
    _account, opportunity = setup(company)
    url = f"{OPPORTUNITIES}/{opportunity['id']}"
    changed = client.patch(
        url,
        json={"amount": "1500.00", "expected_close_date": "2026-04-30"},
        headers={**company.as_("rep_a"), "If-Match": '"1"'},
    )
    assert ok(changed)["amount"] == "1500.00" and changed.headers["ETag"] == '"2"'
    stale = client.patch(
        url, json={"name": "x"}, headers={**company.as_("rep_a"), "If-Match": '"1"'}
    )
    problem = assert_problem(stale, 412, "version_conflict")
    assert problem["current_version"] == 2
    stale_stage = client.post(
        f"{url}/stage",
        json={"stage": "proposal"},
        headers={**company.as_("rep_a"), "If-Match": '"1"'},
    )
    assert_problem(stale_stage, 412, "version_conflict")
    row = read_model_row(services, opportunity["id"])
    assert (row["amount"], row["expected_close_date"], row["version"]) == (1500, "2026-04-30", 2)
    events = ok(client.get(f"{url}/history", headers=company.as_("rep_a")))["data"]
    assert events[1]["data"] == {
        "changes": {"amount": "1500.00", "expected_close_date": "2026-04-30"}
    }


def test_patch_refuses_nulls_for_required_fields(client, company):
    _account, opportunity = setup(company)
    refused = client.patch(
        f"{OPPORTUNITIES}/{opportunity['id']}", json={"amount": None}, headers=company.as_("rep_a")
    )
    assert fields(assert_problem(refused, 422, "validation_failed")) == ["amount"]


def test_the_same_idempotency_key_replays_the_first_answer(client, company):
    account = company.open_account("rep_a")
    headers = {**company.as_("rep_a"), "Idempotency-Key": "opp-1"}
    first = client.post(OPPORTUNITIES, json=opportunity_body(account["id"]), headers=headers)
    again = client.post(OPPORTUNITIES, json=opportunity_body(account["id"]), headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    other = client.post(
        OPPORTUNITIES, json=opportunity_body(account["id"], name="Other"), headers=headers
    )
    assert_problem(other, 422, "idempotency_key_reused")
    assert len(ok(client.get(OPPORTUNITIES, headers=company.as_("rep_a")))["data"]) == 1
    url = f"{OPPORTUNITIES}/{first.json()['id']}/win"
    win_headers = {**company.as_("rep_a"), "Idempotency-Key": "win-1"}
    assert client.post(url, json={}, headers=win_headers).status_code == 200
    assert client.post(url, json={}, headers=win_headers).status_code == 200
    assert history_types(company, f"{OPPORTUNITIES}/{first.json()['id']}") == [
        "OpportunityCreated",
        "OpportunityWon",
    ]


# visibility


def test_a_rep_of_another_team_sees_nothing_of_it(client, company):
    _account, opportunity = setup(company)
    url = f"{OPPORTUNITIES}/{opportunity['id']}"
    assert_problem(client.get(url, headers=company.as_("rep_c")), 404, "not_found")
    assert_problem(client.get(f"{url}/history", headers=company.as_("rep_c")), 404, "not_found")
    assert_problem(command(company, "rep_c", opportunity["id"], "win"), 404, "not_found")
    assert ok(client.get(OPPORTUNITIES, headers=company.as_("rep_c")))["data"] == []
    assert ok(client.get(OPPORTUNITIES, headers=company.as_("rep_b")))["data"] == []


def test_the_manager_sees_the_team_and_the_auditor_reads_but_never_writes(client, company):
    _account, opportunity = setup(company)
    url = f"{OPPORTUNITIES}/{opportunity['id']}"
    assert ok(client.get(url, headers=company.as_("manager")))["id"] == opportunity["id"]
    assert [
        o["id"] for o in ok(client.get(OPPORTUNITIES, headers=company.as_("manager")))["data"]
    ] == [opportunity["id"]]
    assert ok(client.get(url, headers=company.as_("auditor")))["id"] == opportunity["id"]
    assert ok(client.get(OPPORTUNITIES, headers=company.as_("admin")))["data"] != []
    assert_problem(command(company, "auditor", opportunity["id"], "win"), 403, "read_only_role")
    account = company.open_account("rep_a", "Other")
    refused = client.post(
        OPPORTUNITIES, json=opportunity_body(account["id"]), headers=company.as_("auditor")
    )
    assert_problem(refused, 403, "read_only_role")
    assert ok(command(company, "manager", opportunity["id"], "win"))["stage"] == "won"


def test_an_assistant_writes_only_on_behalf_of_its_rep(client, company):
    account = company.open_account("rep_a")
    refused = client.post(
        OPPORTUNITIES, json=opportunity_body(account["id"]), headers=company.as_("assistant")
    )
    assert_problem(refused, 403, "on_behalf_of_required")
    opportunity = open_opportunity(company, "assistant", account["id"], on_behalf_of="rep_a")
    events = ok(
        client.get(f"{OPPORTUNITIES}/{opportunity['id']}/history", headers=company.as_("rep_a"))
    )
    assert events["data"][0]["on_behalf_of"] == company.ids["rep_a"]
    assert ok(client.get(f"{OPPORTUNITIES}/{opportunity['id']}", headers=company.as_("assistant")))


def test_an_account_transfer_moves_its_opportunities_to_the_new_owners_view(
    client, company, services
):
    account, opportunity = setup(company)
    transferred = client.post(
        f"/api/v1/accounts/{account['id']}/transfer",
        json={"to_owner_id": company.ids["rep_b"]},
        headers=company.as_("manager"),
    )
    assert transferred.status_code == 200, transferred.text
    assert [
        o["id"] for o in ok(client.get(OPPORTUNITIES, headers=company.as_("rep_b")))["data"]
    ] == [opportunity["id"]]
    assert ok(client.get(OPPORTUNITIES, headers=company.as_("rep_a")))["data"] == []
    assert_problem(
        client.get(f"{OPPORTUNITIES}/{opportunity['id']}", headers=company.as_("rep_a")),
        404,
        "not_found",
    )
    row = read_model_row(services, opportunity["id"])
    assert (row["account_owner_id"], row["owner_id"]) == (
        company.ids["rep_b"],
        company.ids["rep_a"],
    )


# lists


def test_lists_filter_sort_and_page(client, company):
    account = company.open_account("rep_a")
    other = company.open_account("rep_a", "Other")
    names = ["Alpha", "Bravo", "Charlie"]
    made = [open_opportunity(company, "rep_a", account["id"], name=n) for n in names]
    open_opportunity(company, "rep_a", other["id"], name="Delta")
    ok(command(company, "rep_a", made[1]["id"], "stage", {"stage": "proposal"}))
    by_account = ok(
        client.get(
            OPPORTUNITIES, params={"account_id": account["id"]}, headers=company.as_("rep_a")
        )
    )
    assert [o["name"] for o in by_account["data"]] == names
    proposals = ok(
        client.get(OPPORTUNITIES, params={"stage": "proposal"}, headers=company.as_("rep_a"))
    )
    assert [o["name"] for o in proposals["data"]] == ["Bravo"]
    found = ok(client.get(OPPORTUNITIES, params={"q": "harl"}, headers=company.as_("rep_a")))
    assert [o["name"] for o in found["data"]] == ["Charlie"]
    first = ok(
        client.get(
            OPPORTUNITIES, params={"limit": 2, "sort": "-name"}, headers=company.as_("rep_a")
        )
    )
    assert [o["name"] for o in first["data"]] == ["Delta", "Charlie"] and first["has_more"]
    rest = ok(
        client.get(
            OPPORTUNITIES,
            params={"limit": 2, "sort": "-name", "cursor": first["next_cursor"]},
            headers=company.as_("rep_a"),
        )
    )
    assert [o["name"] for o in rest["data"]] == ["Bravo", "Alpha"] and not rest["has_more"]
    bad = client.get(OPPORTUNITIES, params={"stage": "closed"}, headers=company.as_("rep_a"))
    assert fields(assert_problem(bad, 422, "validation_failed")) == ["stage"]
    bad_sort = client.get(OPPORTUNITIES, params={"sort": "amount"}, headers=company.as_("rep_a"))
    assert fields(assert_problem(bad_sort, 422, "validation_failed")) == ["sort"]


def test_as_of_shows_what_was_known_then(client, company, clock):
    _account, opportunity = setup(company)
    before = clock.now()
    clock.advance(hours=1)
    ok(command(company, "rep_a", opportunity["id"], "stage", {"stage": "proposal"}))
    then = ok(
        client.get(
            f"{OPPORTUNITIES}/{opportunity['id']}",
            params={"as_of": before.isoformat()},
            headers=company.as_("rep_a"),
        )
    )
    assert (then["stage"], then["version"]) == ("prospecting", 1)


def test_a_timestamp_sorted_list_pages_and_a_foreign_cursor_is_a_400(client, company, clock):
    account = company.open_account("rep_a")
    for name in ("One", "Two", "Three"):
        open_opportunity(company, "rep_a", account["id"], name=name)
        clock.advance(minutes=1)
    params = {"sort": "-created_at", "limit": 2}
    first = ok(client.get(OPPORTUNITIES, params=params, headers=company.as_("rep_a")))
    rest = ok(
        client.get(
            OPPORTUNITIES,
            params={**params, "cursor": first["next_cursor"]},
            headers=company.as_("rep_a"),
        )
    )
    assert [o["name"] for o in first["data"] + rest["data"]] == ["Three", "Two", "One"]
    foreign = client.get(
        OPPORTUNITIES, params={"cursor": first["next_cursor"]}, headers=company.as_("rep_a")
    )
    assert_problem(foreign, 400, "invalid_cursor")
    assert_problem(
        client.get(OPPORTUNITIES, params={"cursor": "!!"}, headers=company.as_("rep_a")),
        400,
        "invalid_cursor",
    )


def test_an_id_that_is_not_an_opportunity_is_a_404(client, company):
    account = company.open_account("rep_a")
    for record_id in ("not-a-uuid", account["id"]):
        assert_problem(
            client.get(f"{OPPORTUNITIES}/{record_id}", headers=company.as_("admin")),
            404,
            "not_found",
        )
        assert_problem(command(company, "admin", record_id, "win"), 404, "not_found")
