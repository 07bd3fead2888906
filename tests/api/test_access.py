"""Who sees and changes what: ownership, teams, read-only roles, assistants and API keys."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from tests.support import bearer

API = "/api/v1"


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    assert body["code"] == code, body
    return body


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.text
    return sorted(a["name"] for a in response.json()["data"])


def add_contact(
    company: Any, who: str, account_id: str, name: str = "Ann", **extra: Any
) -> dict[str, Any]:
    response = company.client.post(
        f"{API}/contacts",
        json={"account_id": account_id, "name": name},
        headers=company.as_(who, **extra),
    )
    assert response.status_code == 201, response.text
    return response.json()


def history(client: Any, company: Any, account_id: str, who: str = "admin") -> list[dict[str, Any]]:
    response = client.get(f"{API}/accounts/{account_id}/history", headers=company.as_(who))
    assert response.status_code == 200, response.text
    return response.json()["data"]


@pytest.fixture
def books(client, company) -> dict[str, dict[str, Any]]:
    """One account per rep (A and B in the manager's team, C outside it), each with a contact."""
    accounts = {
        who: company.open_account(who, f"{who} account") for who in ("rep_a", "rep_b", "rep_c")
    }
    for who, account in accounts.items():
        account["contact"] = add_contact(company, who, account["id"], f"{who} contact")
    return accounts


# reps


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/accounts/{account}", None),
        ("GET", "/accounts/{account}?version=1", None),
        ("PATCH", "/accounts/{account}", {"name": "Mine now"}),
        ("GET", "/accounts/{account}/history", None),
        ("GET", "/accounts/{account}/contacts", None),
        ("POST", "/accounts/{account}/archive", None),
        ("GET", "/contacts/{contact}", None),
        ("PATCH", "/contacts/{contact}", {"name": "Mine now"}),
        ("GET", "/contacts/{contact}/history", None),
    ],
)
def test_a_rep_gets_404_for_another_reps_records(client, company, books, method, path, body):
    theirs = books["rep_b"]
    url = f"{API}{path}".format(account=theirs["id"], contact=theirs["contact"]["id"])
    response = client.request(method, url, json=body, headers=company.as_("rep_a"))
    assert_problem(response, 404, "not_found")

    missing = f"{API}{path}".format(account=uuid4(), contact=uuid4())
    nothing = client.request(method, missing, json=body, headers=company.as_("rep_a"))
    assert (nothing.status_code, nothing.json()["title"]) == (404, response.json()["title"])

    current = client.get(f"{API}/accounts/{theirs['id']}", headers=company.as_("rep_b")).json()
    assert (current["name"], current["version"], current["archived"]) == (
        theirs["name"],
        theirs["version"],
        False,
    )


def test_a_rep_cannot_add_a_contact_to_another_reps_account(client, company, books):
    response = client.post(
        f"{API}/contacts",
        json={"account_id": books["rep_b"]["id"], "name": "Spy"},
        headers=company.as_("rep_a"),
    )
    body = assert_problem(response, 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["account_id"]


def test_a_rep_lists_only_its_own_accounts_and_contacts(client, company, books):
    company.open_account("rep_a", "second rep_a account")
    rep_a = company.as_("rep_a")
    assert names(client.get(f"{API}/accounts", headers=rep_a)) == [
        "rep_a account",
        "second rep_a account",
    ]
    assert names(client.get(f"{API}/contacts", headers=rep_a)) == ["rep_a contact"]
    filtered = client.get(
        f"{API}/accounts", params={"owner_id": company.ids["rep_b"]}, headers=rep_a
    )
    assert names(filtered) == []


def test_a_rep_cannot_open_an_account_for_another_rep(client, company):
    response = client.post(
        f"{API}/accounts",
        json={"name": "Gift", "owner_id": company.ids["rep_b"]},
        headers=company.as_("rep_a"),
    )
    assert_problem(response, 403, "owner_not_allowed")
    assert names(client.get(f"{API}/accounts", headers=company.as_("admin"))) == []


# managers


def test_a_manager_sees_its_teams_accounts_but_not_others(client, company, books):
    manager = company.as_("manager")
    assert names(client.get(f"{API}/accounts", headers=manager)) == [
        "rep_a account",
        "rep_b account",
    ]
    assert names(client.get(f"{API}/contacts", headers=manager)) == [
        "rep_a contact",
        "rep_b contact",
    ]
    assert client.get(f"{API}/accounts/{books['rep_a']['id']}", headers=manager).status_code == 200
    assert_problem(
        client.get(f"{API}/accounts/{books['rep_c']['id']}", headers=manager), 404, "not_found"
    )


def test_a_manager_may_open_an_account_for_a_rep_in_its_team_only(client, company):
    manager = company.as_("manager")
    ok = client.post(
        f"{API}/accounts", json={"name": "For B", "owner_id": company.ids["rep_b"]}, headers=manager
    )
    assert ok.status_code == 201, ok.text
    refused = client.post(
        f"{API}/accounts", json={"name": "For C", "owner_id": company.ids["rep_c"]}, headers=manager
    )
    assert_problem(refused, 403, "owner_not_allowed")


# transfers


def test_a_rep_cannot_transfer_an_account(client, company, books):
    response = client.post(
        f"{API}/accounts/{books['rep_a']['id']}/transfer",
        json={"to_owner_id": company.ids["rep_b"]},
        headers=company.as_("rep_a"),
    )
    assert_problem(response, 403, "forbidden")
    assert history(client, company, books["rep_a"]["id"])[-1]["type"] == "AccountOpened"


def test_a_manager_transfers_an_account_within_its_team_and_it_is_history(client, company, books):
    account = books["rep_a"]
    response = client.post(
        f"{API}/accounts/{account['id']}/transfer",
        json={"to_owner_id": company.ids["rep_b"], "reason": "rep A is on leave"},
        headers=company.as_("manager"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["owner_id"] == company.ids["rep_b"]

    last = history(client, company, account["id"])[-1]
    assert last["type"] == "AccountOwnershipTransferred"
    assert last["actor"] == company.ids["manager"]
    assert last["data"] == {
        "from_owner_id": company.ids["rep_a"],
        "to_owner_id": company.ids["rep_b"],
        "reason": "rep A is on leave",
    }
    assert_problem(
        client.get(f"{API}/accounts/{account['id']}", headers=company.as_("rep_a")),
        404,
        "not_found",
    )
    assert "rep_a account" in names(client.get(f"{API}/accounts", headers=company.as_("rep_b")))


def test_a_manager_cannot_transfer_to_a_rep_outside_its_team(client, company, books):
    response = client.post(
        f"{API}/accounts/{books['rep_a']['id']}/transfer",
        json={"to_owner_id": company.ids["rep_c"]},
        headers=company.as_("manager"),
    )
    assert_problem(response, 403, "owner_not_allowed")
    current = client.get(f"{API}/accounts/{books['rep_a']['id']}", headers=company.as_("manager"))
    assert current.json()["owner_id"] == company.ids["rep_a"]


def test_a_manager_cannot_take_an_account_from_outside_its_team(client, company, books):
    response = client.post(
        f"{API}/accounts/{books['rep_c']['id']}/transfer",
        json={"to_owner_id": company.ids["rep_a"]},
        headers=company.as_("manager"),
    )
    assert_problem(response, 404, "not_found")


def test_an_admin_transfers_across_teams(client, company, books):
    response = client.post(
        f"{API}/accounts/{books['rep_c']['id']}/transfer",
        json={"to_owner_id": company.ids["rep_a"]},
        headers=company.as_("admin"),
    )
    assert response.status_code == 200, response.text
    assert response.json()["owner_id"] == company.ids["rep_a"]


# auditors and service agents


def test_an_auditor_reads_everything_including_history(client, company, books):
    auditor = company.as_("auditor")
    assert names(client.get(f"{API}/accounts", headers=auditor)) == [
        "rep_a account",
        "rep_b account",
        "rep_c account",
    ]
    for account in books.values():
        assert client.get(f"{API}/accounts/{account['id']}", headers=auditor).status_code == 200
        entries = history(client, company, account["id"], who="auditor")
        assert [e["type"] for e in entries] == ["AccountOpened"]
        contact = client.get(f"{API}/contacts/{account['contact']['id']}/history", headers=auditor)
        assert contact.status_code == 200
    users = client.get(f"{API}/users/{company.ids['rep_a']}/history", headers=auditor)
    assert users.status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/accounts", {"name": "Audit Ltd", "owner_id": "{rep_a}"}),
        ("PATCH", "/accounts/{account}", {"name": "Audited"}),
        ("POST", "/accounts/{account}/archive", None),
        ("POST", "/contacts", {"account_id": "{account}", "name": "Eve"}),
        ("PATCH", "/contacts/{contact}", {"name": "Eve"}),
    ],
)
def test_an_auditor_writes_nothing(client, company, books, method, path, body):
    account = books["rep_a"]
    values = {
        "rep_a": company.ids["rep_a"],
        "account": account["id"],
        "contact": account["contact"]["id"],
    }
    if body is not None:
        body = {k: v.format(**values) for k, v in body.items()}
    response = client.request(
        method, f"{API}{path}".format(**values), json=body, headers=company.as_("auditor")
    )
    assert_problem(response, 403, "read_only_role")
    assert [e["type"] for e in history(client, company, account["id"])] == ["AccountOpened"]


def test_a_service_agent_reads_accounts_but_cannot_write(client, company, books):
    agent = company.as_("agent")
    assert len(client.get(f"{API}/accounts", headers=agent).json()["data"]) == 3
    assert client.get(f"{API}/accounts/{books['rep_c']['id']}", headers=agent).status_code == 200
    created = client.post(
        f"{API}/accounts", json={"name": "Service", "owner_id": company.ids["rep_a"]}, headers=agent
    )
    assert_problem(created, 403, "forbidden")
    changed = client.patch(
        f"{API}/accounts/{books['rep_a']['id']}", json={"name": "Fixed"}, headers=agent
    )
    assert_problem(changed, 403, "forbidden")


# assistants


def test_an_assistant_without_x_on_behalf_of_cannot_write(client, company, books):
    response = client.post(
        f"{API}/accounts",
        json={"name": "Errand", "owner_id": company.ids["rep_a"]},
        headers=company.as_("assistant"),
    )
    assert_problem(response, 403, "on_behalf_of_required")
    patched = client.patch(
        f"{API}/accounts/{books['rep_a']['id']}",
        json={"name": "Errand"},
        headers=company.as_("assistant"),
    )
    assert_problem(patched, 403, "on_behalf_of_required")


def test_an_assistant_reads_the_accounts_of_the_reps_it_assists(client, company, books):
    assert names(client.get(f"{API}/accounts", headers=company.as_("assistant"))) == [
        "rep_a account"
    ]
    acting = company.as_("assistant", on_behalf_of="rep_a")
    assert names(client.get(f"{API}/accounts", headers=acting)) == ["rep_a account"]
    assert_problem(
        client.get(f"{API}/accounts/{books['rep_b']['id']}", headers=acting), 404, "not_found"
    )


def test_an_assistant_acting_for_a_rep_is_recorded_as_actor_on_behalf_of_the_rep(client, company):
    account = company.open_account(
        "assistant", "Errand", owner_id=company.ids["rep_a"], on_behalf_of="rep_a"
    )
    assert account["owner_id"] == company.ids["rep_a"]
    (opened,) = history(client, company, account["id"])
    assert opened["type"] == "AccountOpened"
    assert opened["actor"] == company.ids["assistant"]
    assert opened["on_behalf_of"] == company.ids["rep_a"]
    assert names(client.get(f"{API}/accounts", headers=company.as_("rep_a"))) == ["Errand"]


def test_an_assistant_cannot_give_an_account_to_a_rep_it_does_not_act_for(client, company):
    response = client.post(
        f"{API}/accounts",
        json={"name": "Errand", "owner_id": company.ids["rep_b"]},
        headers=company.as_("assistant", on_behalf_of="rep_a"),
    )
    assert_problem(response, 403, "owner_not_allowed")


# users and teams


@pytest.mark.parametrize("who", ["manager", "rep_a", "auditor"])
def test_only_admins_change_users_and_teams(client, company, who):
    headers = company.as_(who)
    attempts = [
        client.post(
            f"{API}/users",
            json={"name": "New", "email": "new@example.com", "role": "rep"},
            headers=headers,
        ),
        client.patch(
            f"{API}/users/{company.ids['rep_a']}", json={"name": "Renamed"}, headers=headers
        ),
        client.post(f"{API}/users/{company.ids['rep_b']}/deactivate", headers=headers),
        client.post(f"{API}/teams", json={"name": "South"}, headers=headers),
        client.patch(
            f"{API}/teams/{company.ids['team']}", json={"name": "Renamed"}, headers=headers
        ),
    ]
    expected = "read_only_role" if who == "auditor" else "forbidden"
    for response in attempts:
        assert_problem(response, 403, expected)
    team = client.get(f"{API}/teams/{company.ids['team']}", headers=company.as_("admin")).json()
    assert team["name"] == "North"
    users = client.get(f"{API}/users", params={"limit": 200}, headers=company.as_("admin")).json()
    assert "new@example.com" not in [u["email"] for u in users["data"]]


def test_a_deactivated_users_token_is_refused(client, company):
    assert client.get(f"{API}/me", headers=company.as_("rep_b")).status_code == 200
    response = client.post(
        f"{API}/users/{company.ids['rep_b']}/deactivate", headers=company.as_("admin")
    )
    assert response.status_code == 200, response.text
    refused = client.get(f"{API}/accounts", headers=company.as_("rep_b"))
    assert_problem(refused, 401, "unauthenticated")
    assert refused.headers["www-authenticate"] == "Bearer"


# API keys


@pytest.fixture
def reader_key(client, company) -> dict[str, Any]:
    response = client.post(
        f"{API}/api-keys",
        json={"name": "BI export", "role": "integrator", "scopes": ["accounts:read"]},
        headers=company.as_("admin"),
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_an_api_key_is_shown_once_with_a_crmk_prefix(reader_key):
    assert reader_key["token"].startswith("crmk_")
    assert reader_key["role"] == "integrator"
    assert reader_key["scopes"] == ["accounts:read"]


def test_an_api_key_reads_within_its_scopes(client, company, books, reader_key):
    key = bearer(reader_key["token"])
    assert names(client.get(f"{API}/accounts", headers=key)) == [
        "rep_a account",
        "rep_b account",
        "rep_c account",
    ]
    assert_problem(client.get(f"{API}/contacts", headers=key), 403, "insufficient_scope")


def test_an_api_key_cannot_write_accounts(client, company, reader_key):
    response = client.post(
        f"{API}/accounts",
        json={"name": "Robot", "owner_id": company.ids["rep_a"]},
        headers=bearer(reader_key["token"]),
    )
    assert_problem(response, 403, "forbidden")


def test_the_api_key_list_never_shows_the_secret(client, company, reader_key):
    response = client.get(f"{API}/api-keys", headers=company.as_("admin"))
    assert response.status_code == 200
    (listed,) = response.json()["data"]
    assert listed["id"] == reader_key["id"]
    assert "token" not in listed and "secret_hash" not in listed
    secret = reader_key["token"].rpartition("_")[2]
    assert secret not in response.text


@pytest.mark.parametrize("who", ["manager", "rep_a", "auditor"])
def test_only_admins_manage_api_keys(client, company, reader_key, who):
    headers = company.as_(who)
    created = client.post(
        f"{API}/api-keys", json={"name": "mine", "scopes": ["accounts:read"]}, headers=headers
    )
    assert created.status_code == 403
    assert client.get(f"{API}/api-keys", headers=headers).status_code == 403
    assert (
        client.post(f"{API}/api-keys/{reader_key['id']}/revoke", headers=headers).status_code == 403
    )
    assert client.get(f"{API}/accounts", headers=bearer(reader_key["token"])).status_code == 200


def test_every_command_an_auditor_sends_is_refused_as_read_only(client, services, company):
    """Not only `:write` permissions: approving, transferring, acknowledging, erasing, defining
    fields, opening service requests and ticking the watchers are commands too."""
    account = company.open_account("rep_a")
    contact = client.post(
        f"{API}/contacts",
        json={"account_id": account["id"], "name": "Ann"},
        headers=company.as_("rep_a"),
    ).json()
    head = services.app.head()
    auditor = company.as_("auditor")
    attempts = [
        client.post(
            f"{API}/accounts/{account['id']}/transfer",
            json={"to_owner_id": company.ids["rep_b"]},
            headers=auditor,
        ),
        client.post(
            f"{API}/contacts/{contact['id']}/erase",
            json={"reason": "subject_request"},
            headers=auditor,
        ),
        client.post(
            f"{API}/field-definitions",
            json={"record_type": "accounts", "key": "tier", "label": "Tier", "type": "text"},
            headers=auditor,
        ),
        client.post(
            f"{API}/service-requests",
            json={
                "account_id": account["id"],
                "subject": "Broken",
                "kind": "fault",
                "channel": "phone",
            },
            headers=auditor,
        ),
        client.post(f"{API}/alerts:tick", headers=auditor),
    ]
    for response in attempts:
        assert_problem(response, 403, "read_only_role")
    assert services.app.head() == head
