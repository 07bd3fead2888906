"""The core promises: read-your-writes, optimistic concurrency, idempotency, history, as-of,
ownership, and projections that rebuild to exactly what the live ones hold."""

from __future__ import annotations

import hashlib
import json

from sqlalchemy import select

from crm_api.application.app import CommandContext
from crm_api.application.idempotency import Claimed, command_id_for
from crm_api.domain.people import Principal, Role
from crm_api.projections.accounts import accounts, contacts
from crm_api.projections.directory import teams, users

ACCOUNTS = "/api/v1/accounts"


def test_a_write_is_in_the_list_the_moment_it_is_answered(client, company):
    account = company.open_account("rep_a", "Acme")
    renamed = client.patch(
        f"{ACCOUNTS}/{account['id']}", json={"name": "Acme Europe"}, headers=company.as_("rep_a")
    )
    assert renamed.status_code == 200
    listed = client.get(ACCOUNTS, headers=company.as_("rep_a")).json()["data"]
    assert [(a["id"], a["name"], a["version"]) for a in listed] == [
        (account["id"], "Acme Europe", 2)
    ]


def test_every_write_answers_with_its_etag_and_log_position_and_lists_wait_for_it(client, company):
    response = client.post(
        ACCOUNTS,
        json={"name": "Acme", "owner_id": company.ids["rep_a"]},
        headers=company.as_("rep_a"),
    )
    assert response.headers["ETag"] == '"1"'
    position = int(response.headers["X-Log-Position"])
    assert response.headers["Location"] == f"{ACCOUNTS}/{response.json()['id']}"
    listed = client.get(
        ACCOUNTS, params={"min_position": position}, headers=company.as_("rep_a")
    ).json()
    assert [a["name"] for a in listed["data"]] == ["Acme"]


def test_two_writes_with_the_same_if_match_get_exactly_one_412(client, company):
    account = company.open_account("rep_a", "Acme")
    url = f"{ACCOUNTS}/{account['id']}"
    headers = {**company.as_("rep_a"), "If-Match": '"1"'}
    first = client.patch(url, json={"name": "First"}, headers=headers)
    second = client.patch(url, json={"name": "Second"}, headers=headers)
    assert first.status_code == 200
    assert second.status_code == 412
    problem = second.json()
    assert second.headers["content-type"].startswith("application/problem+json")
    assert (problem["code"], problem["current_version"]) == ("version_conflict", 2)
    assert client.get(url, headers=company.as_("rep_a")).json()["name"] == "First"


def test_an_idempotency_key_replay_returns_the_same_answer_and_records_one_event(client, company):
    body = {"name": "Acme", "owner_id": company.ids["rep_a"]}
    headers = {**company.as_("rep_a"), "Idempotency-Key": "order-42"}
    first = client.post(ACCOUNTS, json=body, headers=headers)
    again = client.post(ACCOUNTS, json=body, headers=headers)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.content == first.content
    assert again.headers["ETag"] == first.headers["ETag"]
    assert again.headers["X-Log-Position"] == first.headers["X-Log-Position"]
    assert again.headers["Idempotent-Replayed"] == "true"
    history = client.get(f"{ACCOUNTS}/{first.json()['id']}/history", headers=company.as_("rep_a"))
    assert [e["type"] for e in history.json()["data"]] == ["AccountOpened"]
    assert len(client.get(ACCOUNTS, headers=company.as_("rep_a")).json()["data"]) == 1


def test_an_idempotency_key_reused_with_another_body_is_refused(client, company):
    headers = {**company.as_("rep_a"), "Idempotency-Key": "k1"}
    client.post(ACCOUNTS, json={"name": "Acme", "owner_id": company.ids["rep_a"]}, headers=headers)
    reused = client.post(
        ACCOUNTS, json={"name": "Other", "owner_id": company.ids["rep_a"]}, headers=headers
    )
    assert reused.status_code == 422
    assert reused.json()["code"] == "idempotency_key_reused"


def test_a_key_still_in_flight_gets_409_until_its_lease_runs_out(client, company, services, clock):
    principal = company.ids["rep_a"]
    body = {"name": "Acme", "owner_id": principal}
    claimed = services.idempotency.claim(principal, "k2", _hash_of(ACCOUNTS, body), clock.now())
    assert isinstance(claimed, Claimed)
    headers = {**company.as_("rep_a"), "Idempotency-Key": "k2"}
    in_flight = client.post(ACCOUNTS, json=body, headers=headers)
    assert in_flight.status_code == 409
    assert in_flight.json()["code"] == "idempotency_key_in_flight"
    clock.advance(seconds=services.settings.idempotency_lease_seconds + 1)
    assert client.post(ACCOUNTS, json=body, headers=headers).status_code == 201


def test_a_retry_after_a_crash_between_saving_and_answering_records_the_command_once(
    client, company, services, clock
):
    rep_id = company.ids["rep_a"]
    body = {"name": "Acme", "owner_id": rep_id}
    services.idempotency.claim(rep_id, "k3", _hash_of(ACCOUNTS, body), clock.now())
    rep = Principal(id=rep_id, kind="user", role=Role.REP, visible_owners=frozenset({rep_id}))
    ctx = CommandContext(rep, command_id_for(rep_id, "k3"), "crash-test")
    saved = services.accounts.open_account(
        ctx, **body, industry=None, phone=None, address=None, manual_grade=None
    )
    clock.advance(seconds=services.settings.idempotency_lease_seconds + 1)

    retry = client.post(
        ACCOUNTS, json=body, headers={**company.as_("rep_a"), "Idempotency-Key": "k3"}
    )

    assert retry.status_code == 201
    assert retry.json()["id"] == str(saved.record.id)
    history = client.get(f"{ACCOUNTS}/{saved.record.id}/history", headers=company.as_("rep_a"))
    assert len(history.json()["data"]) == 1
    assert len(client.get(ACCOUNTS, headers=company.as_("rep_a")).json()["data"]) == 1


def test_as_of_before_an_update_returns_the_old_name(client, company, clock):
    account = company.open_account("rep_a", "Acme")
    before_rename = clock.advance(minutes=10)
    clock.advance(minutes=10)
    client.patch(
        f"{ACCOUNTS}/{account['id']}", json={"name": "Acme Europe"}, headers=company.as_("rep_a")
    )
    url = f"{ACCOUNTS}/{account['id']}"
    past = client.get(
        url, params={"as_of": before_rename.isoformat()}, headers=company.as_("rep_a")
    )
    assert (past.json()["name"], past.json()["version"]) == ("Acme", 1)
    assert (
        client.get(url, params={"version": 1}, headers=company.as_("rep_a")).json()["name"]
        == "Acme"
    )
    assert client.get(url, headers=company.as_("rep_a")).json()["name"] == "Acme Europe"
    too_early = client.get(
        url, params={"as_of": "2000-01-01T00:00:00Z"}, headers=company.as_("rep_a")
    )
    assert too_early.status_code == 404


def test_history_names_the_actor_and_whom_an_assistant_acted_for(client, company, clock):
    account = company.open_account(
        "assistant", "Acme", owner_id=company.ids["rep_a"], on_behalf_of="rep_a"
    )
    clock.advance(minutes=1)
    client.patch(
        f"{ACCOUNTS}/{account['id']}",
        json={"phone": "+33 1 23 45 67 89"},
        headers=company.as_("rep_a"),
    )
    entries = client.get(
        f"{ACCOUNTS}/{account['id']}/history", headers=company.as_("auditor")
    ).json()["data"]
    assert [(e["type"], e["version"], e["actor"], e["on_behalf_of"]) for e in entries] == [
        ("AccountOpened", 1, company.ids["assistant"], company.ids["rep_a"]),
        ("AccountDetailsChanged", 2, company.ids["rep_a"], None),
    ]
    assert entries[1]["data"] == {"changes": {"phone": "+33 1 23 45 67 89"}}
    assert entries[1]["recorded_at"] > entries[0]["recorded_at"]


def test_rep_a_gets_404_for_rep_b_account(client, company):
    account = company.open_account("rep_b", "Beta")
    response = client.get(f"{ACCOUNTS}/{account['id']}", headers=company.as_("rep_a"))
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert client.get(ACCOUNTS, headers=company.as_("rep_a")).json()["data"] == []


def test_an_auditor_post_is_forbidden(client, company):
    response = client.post(
        ACCOUNTS,
        json={"name": "Nope", "owner_id": company.ids["rep_a"]},
        headers=company.as_("auditor"),
    )
    assert response.status_code == 403
    assert response.json()["code"] == "read_only_role"


def test_projections_rebuilt_from_scratch_equal_the_live_ones(client, company, services, clock):
    for n in range(7):
        account = company.open_account("rep_a" if n % 2 else "rep_b", f"Account {n}")
        clock.advance(minutes=1)
        client.post(
            "/api/v1/contacts",
            json={
                "account_id": account["id"],
                "name": f"Contact {n}",
                "email": f"c{n}@example.com",
            },
            headers=company.as_("rep_a" if n % 2 else "rep_b"),
        )
        if n % 3 == 0:
            client.post(
                f"{ACCOUNTS}/{account['id']}/transfer",
                json={"to_owner_id": company.ids["rep_a"]},
                headers=company.as_("manager"),
            )
    tables = (accounts, contacts, users, teams)
    live = _dump(services, tables)
    for runner in services.runners.values():
        runner.rebuild()
    assert _dump(services, tables) == live
    assert len(live["accounts"]) == 7 and len(live["contacts"]) == 7


def _dump(services, tables):
    with services.read() as conn:
        return {t.name: sorted(tuple(map(str, r)) for r in conn.execute(select(t))) for t in tables}


def _hash_of(path, body):
    """The request fingerprint the Idempotency middleware computes for a JSON POST."""
    raw = json.dumps(body, separators=(",", ":")).encode()
    return hashlib.sha256(b"\n".join([path.encode(), b"", b"", raw])).hexdigest()


def test_idempotency_keys_are_kept_for_their_time_to_live_then_forgotten(services, clock):
    services.idempotency.claim("someone", "old", "hash", clock.now())
    clock.advance(hours=services.settings.idempotency_ttl_hours - 1)
    assert services.idempotency.purge(clock.now()) == 0
    clock.advance(hours=2)
    assert services.idempotency.purge(clock.now()) == 1
    assert isinstance(services.idempotency.claim("someone", "old", "other", clock.now()), Claimed)
