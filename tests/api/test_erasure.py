"""Erasure by crypto-shredding: the events stay, the personal values are gone everywhere."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from sqlalchemy import select

from crm_api.application.services import Services
from crm_api.db import Store
from crm_api.domain.people import Principal, Role
from crm_api.privacy.keys import subject_keys
from crm_api.projections.accounts import contacts
from tests.support import Company

CONTACTS = "/api/v1/contacts"
ADMIN = Principal(id="admin", kind="user", role=Role.ADMIN, visible_owners=None)
PERSON = {
    "name": "Gretchen Erasable",
    "email": "gretchen.erasable@example.com",
    "phone": "+49 30 999 1234",
    "occupation": "Chief Secrets Officer",
    "birth_year": 1971,
}
SECRETS = [str(PERSON[k]) for k in ("name", "email", "phone", "occupation")]
ERASED_VIEW = {
    "name": "[erased]",
    "email": "[erased]",
    "phone": "[erased]",
    "occupation": "[erased]",
    "birth_year": None,
}


def ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    return body


def a_contact(company: Company, **headers: str) -> dict[str, Any]:
    account = company.open_account("rep_a", "Erasure Account")
    contact = ok(
        company.client.post(
            CONTACTS,
            json={"account_id": account["id"], **PERSON},
            headers={**company.as_("rep_a"), **headers},
        ),
        201,
    )
    ok(
        company.client.patch(
            f"{CONTACTS}/{contact['id']}",
            json={"occupation": "Head of Secrets"},
            headers=company.as_("rep_a"),
        )
    )
    return contact


def erase(company: Company, contact_id: str, who: str = "admin", **body: Any) -> Any:
    return company.client.post(
        f"{CONTACTS}/{contact_id}/erase",
        json={"reason": "subject_request", "reference": "DSR-2026/17", **body},
        headers=company.as_(who),
    )


def personal(view: dict[str, Any]) -> dict[str, Any]:
    return {k: view[k] for k in ERASED_VIEW}


def test_erasing_a_contact_makes_every_reading_show_erased_values(company: Company, services):
    contact = a_contact(company)
    contact_id = contact["id"]
    erased = ok(erase(company, contact_id))
    assert personal(erased) == ERASED_VIEW and erased["version"] == 3
    auditor = company.as_("auditor")

    assert personal(ok(company.client.get(f"{CONTACTS}/{contact_id}", headers=auditor))) == (
        ERASED_VIEW
    )
    first = ok(company.client.get(f"{CONTACTS}/{contact_id}?version=1", headers=auditor))
    assert personal(first) == ERASED_VIEW
    listed = ok(company.client.get(CONTACTS, headers=company.as_("rep_a")))["data"]
    assert [personal(c) for c in listed] == [ERASED_VIEW]
    assert ok(company.client.get(CONTACTS, params={"q": "gretchen"}, headers=auditor))["data"] == []

    history = ok(company.client.get(f"{CONTACTS}/{contact_id}/history", headers=auditor))["data"]
    assert [e["type"] for e in history] == [
        "ContactAdded",
        "ContactDetailsChanged",
        "ContactErased",
    ]
    assert history[1]["data"]["changes"] == {"occupation": "[erased]"}
    assert history[2]["actor"] == company.ids["admin"]
    assert history[2]["data"] == {"reason": "subject_request", "reference": "DSR-2026/17"}

    feed = company.client.get("/api/v1/events", headers=company.as_("admin")).text
    assert "ContactErased" in feed and all(secret not in feed for secret in SECRETS)
    exported = company.client.get(
        "/api/v1/exports/contacts", params={"format": "ndjson"}, headers=company.as_("rep_a")
    ).text
    assert '"[erased]"' in exported and all(secret not in exported for secret in SECRETS)
    history_text = str(history)
    assert all(secret not in history_text for secret in SECRETS)


def test_an_erasure_survives_replay_and_a_rebuild(company: Company, services, settings, clock):
    contact_id = a_contact(company)["id"]
    ok(erase(company, contact_id))
    services.runners["accounts"].rebuild()
    with services.read() as conn:
        row = conn.execute(select(contacts).where(contacts.c.id == contact_id)).one()
    assert personal(dict(row._mapping)) == ERASED_VIEW

    fresh = Services(settings, clock)
    try:
        replayed = fresh.accounts.get_contact(ADMIN, contact_id)
    finally:
        fresh.close()
    assert (replayed.name, replayed.birth_year, replayed.erased) == ("[erased]", None, True)


def test_the_key_is_destroyed_and_a_tombstone_kept(company: Company, services):
    contact_id = a_contact(company)["id"]
    with services.read() as conn:
        assert conn.execute(select(subject_keys.c.key)).scalar() is not None
    ok(erase(company, contact_id))
    with services.read() as conn:
        row = conn.execute(select(subject_keys)).one()
    assert row.subject_id == contact_id and row.key is None and row.erased_at is not None


def test_only_admins_erase_and_only_once(company: Company):
    contact_id = a_contact(company)["id"]
    for who in ("rep_a", "manager", "auditor"):
        assert erase(company, contact_id, who).status_code == 403
    problem(erase(company, "00000000-0000-4000-8000-00000000dead"), 404, "not_found")
    ok(erase(company, contact_id))
    problem(erase(company, contact_id), 409, "already_erased")
    changed = company.client.patch(
        f"{CONTACTS}/{contact_id}", json={"name": "Gretchen Again"}, headers=company.as_("rep_a")
    )
    problem(changed, 409, "erased")


@pytest.mark.parametrize(
    ("body", "field"),
    [({"reason": "because"}, "reason"), ({"reference": "gretchen@example.com"}, "reference")],
)
def test_an_erasure_says_why_without_personal_data(company: Company, body, field):
    contact_id = a_contact(company)["id"]
    refused = problem(erase(company, contact_id, **body), 422, "validation_failed")
    assert [e["field"] for e in refused["errors"]] == [field]


def _sqlite_bytes(store_url: str) -> bytes:
    folder = Store(store_url).sqlite_path.parent
    return b"".join(path.read_bytes() for path in sorted(folder.glob("crm*")))


def _postgres_hits(store_url: str, secret: str) -> list[str]:
    """Tables whose live rows contain the text (bytea columns searched as bytes)."""
    hits = []
    with psycopg.connect(Store(store_url).psycopg_conninfo()) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public'"
        ).fetchall()
        for table, column, data_type in columns:
            if data_type == "bytea":
                condition = f"position(convert_to(%s, 'UTF8') in \"{column}\") > 0"
            else:
                condition = f"\"{column}\"::text LIKE '%%' || %s || '%%'"
            found = conn.execute(f'SELECT 1 FROM "{table}" WHERE {condition} LIMIT 1', (secret,))
            if found.fetchone():
                hits.append(f"{table}.{column}")
    return hits


def _found(store_url: str) -> dict[str, list[str]]:
    if Store(store_url).is_postgres:
        return {s: hits for s in SECRETS if (hits := _postgres_hits(store_url, s))}
    content = _sqlite_bytes(store_url)
    return {s: ["database files"] for s in SECRETS if s.encode() in content}


def test_erased_values_are_nowhere_in_the_database(company: Company, services, store_url):
    contact_id = a_contact(company, **{"Idempotency-Key": "create-gretchen"})["id"]
    services.catch_up()
    assert set(_found(store_url)) == set(SECRETS)  # the search finds them before
    ok(erase(company, contact_id))
    assert _found(store_url) == {}


ERASE_MUTATION = """
mutation Erase($id: ID!, $reason: String!) {
  eraseContact(id: $id, reason: $reason, reference: "DSR-9") { id name email birthYear version }
}
"""


def test_graphql_erases_through_the_same_command(company: Company):
    contact_id = a_contact(company)["id"]

    def run(who: str, reason: str = "subject_request") -> dict[str, Any]:
        response = company.client.post(
            "/graphql",
            json={"query": ERASE_MUTATION, "variables": {"id": contact_id, "reason": reason}},
            headers=company.as_(who),
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    assert run("rep_a")["errors"][0]["extensions"]["code"] == "forbidden"
    assert run("admin", "because")["errors"][0]["extensions"]["code"] == "validation_failed"
    erased = run("admin")["data"]["eraseContact"]
    assert (erased["name"], erased["email"], erased["birthYear"], erased["version"]) == (
        "[erased]",
        "[erased]",
        None,
        3,
    )


def test_a_customer_email_to_an_erased_contact_is_erased_with_it(
    company: Company, services, store_url
):
    """A service request's notification names the contact's address and name: they are
    sealed under the contact's key, so the erasure reaches the event, the outbox and the
    database files alike, and the message is never sent."""
    from tests.service_support import act, open_request

    contact = a_contact(company)
    request = open_request(company, "rep_a", contact["account_id"], contact_id=contact["id"])
    sent = act(
        company,
        "manager",
        request["id"],
        "notify",
        {"template": "update", "message": "We are on it."},
    )
    assert sent.status_code == 200, sent.text
    services.catch_up()
    history = ok(
        company.client.get(
            f"/api/v1/service-requests/{request['id']}/history", headers=company.as_("auditor")
        )
    )["data"]
    notified = next(e for e in history if e["type"].endswith("CustomerNotified"))
    assert notified["data"]["to"] == PERSON["email"]
    assert PERSON["name"] in notified["data"]["body"]
    assert PERSON["email"] in _found(store_url)

    ok(erase(company, contact["id"]))
    services.catch_up()
    history = ok(
        company.client.get(
            f"/api/v1/service-requests/{request['id']}/history", headers=company.as_("auditor")
        )
    )["data"]
    notified = next(e for e in history if e["type"].endswith("CustomerNotified"))
    assert (notified["data"]["to"], notified["data"]["body"]) == ("[erased]", "[erased]")
    with services.read() as conn:
        from crm_api.projections.service import due_messages, service_outbox

        row = conn.execute(select(service_outbox)).one()
        assert (row.recipient, row.body) == ("[erased]", "[erased]")
        assert due_messages(conn, services.clock.now(), 10) == []
    assert _found(store_url) == {}
