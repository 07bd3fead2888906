"""Text search (`q=`) over accounts and contacts is an index lookup (SQLite FTS5 trigram,
PostgreSQL pg_trgm) that finds exactly what a case-insensitive substring match finds."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import event, text

from crm_api.application.services import Services
from crm_api.domain.accounts import Account
from crm_api.domain.context import EventMeta, recording
from crm_api.projections import accounts as accounts_read_model
from crm_api.projections.accounts import ACCOUNT_SEARCHED, CONTACT_SEARCHED
from tests.support import ADMIN_ID, Company

ACCOUNTS = "/api/v1/accounts"
CONTACTS = "/api/v1/contacts"

SOME_ACCOUNTS = [
    {"name": "Zürich Versicherung AG", "industry": "Insurance", "phone": "+41 44 123 4567"},
    {"name": "ÅSA Bygg", "industry": "Construction"},
    {"name": "Weiſs Brauerei", "industry": "Brewing", "phone": "+49 89 555 0101"},
    {"name": "İstanbul Lojistik", "industry": "Logistics"},
    {"name": "ΣΊΣΥΦΟΣ Μεταφορές"},
    {"name": '100% Bio "Grün" GmbH', "industry": "Retail_Food"},
    {"name": "O'Brien & Sons", "industry": "Back\\Office"},
    {"name": "a_b%c\\d", "phone": "030 1234"},
    {"name": "Acme Corp", "industry": "Manufacturing", "phone": "+1 (555) 010-9999"},
    {"name": "ACME Industries"},
]
HOLDER = {"name": "Contact Holder"}
SOME_CONTACTS = [
    {
        "name": "Gretel Müller",
        "email": "gretel.mueller@example.com",
        "phone": "+49 30 1111",
        "occupation": "Head of Procurement",
    },
    {"name": "Åke Öberg", "email": "ake@exempel.se", "occupation": "CFO"},
    {
        "name": 'Bob "The Builder" O\'Neil',
        "email": "bob_builder@example.org",
        "occupation": "Site_Manager 100%",
    },
    {"name": "Back\\Slash", "phone": "030 2222"},
]
ACCOUNT_QUERIES = [
    # every searchable field, any case, across field boundaries
    "zür", "ZÜRICH", "Insurance", "+41 44", "555 0", "(555)", "0101", "acme", "AcMe",
    "corp manufacturing", "ag insurance", "industries",
    # one and two characters
    "a", "z", "ü", "ς", "ac", "ag", "Ü", "%", "_", "\\", '"', "'",
    # wildcards, backslashes and quotes are literal
    "100%", "0% b", "% b", '"grün"', 'grün" g', "l_f", "ail_", "b%c", "%c\\", "\\d", "c\\d",
    "k\\o", "o'b", "''", '""', "%%%", "___", "\\\\\\", "a_b%c\\d", "a%b", "a_b_",
    # non-ASCII: Python lowercases both sides; the index's extra folding must not leak in
    "zurich", "åsa", "ÅSA", "asa", "weis", "weiſ", "ſs", "SS", "istanbul", "İSTANBUL",
    "ΦΟΣ", "φοσ", "συφ", "μεταφορές", "ΜΕΤΑΦΟΡΈΣ",
    "nothing like it",
]  # fmt: skip
CONTACT_QUERIES = [
    "gretel", "MÜLLER", "mueller@", "example", "@example.org", "+49 30", "procurement",
    "head of", "åke", "ÅKE", "öberg", "ake", "oberg", '"the builder"', "o'neil", "bob_",
    "b_b", "100%", "_m", "\\s", "k\\s", "cfo", "fo", "c", "@", "%", "_", "\\", "se cfo",
    "nobody",
]  # fmt: skip


def searched_text(values: dict[str, Any], fields: tuple[str, ...]) -> str:
    """What the substring match runs over: the searchable fields, lowercased, in order."""
    return " ".join(str(values[f]).lower() for f in fields if values.get(f))


def substring_matches(rows: list[dict[str, Any]], fields: tuple[str, ...], q: str) -> list[str]:
    return sorted(r["name"] for r in rows if q.lower() in searched_text(r, fields))


def found(company: Company, path: str, q: str, **params: Any) -> list[str]:
    """Names of every row the list returns for q, following its cursors; sorted here, as the
    stores' collations order names differently."""
    names: list[str] = []
    cursor = None
    while True:
        response = company.client.get(
            path,
            params={"q": q, **params, **({"cursor": cursor} if cursor else {})},
            headers=company.as_("admin"),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        names += [row["name"] for row in body["data"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return sorted(names)


def open_contacts(company: Company) -> dict[str, str]:
    account = company.open_account("rep_a", HOLDER["name"])
    ids = {}
    for person in SOME_CONTACTS:
        response = company.client.post(
            CONTACTS, json={"account_id": account["id"], **person}, headers=company.as_("rep_a")
        )
        assert response.status_code == 201, response.text
        ids[person["name"]] = response.json()["id"]
    return ids


@contextmanager
def statements(services: Services) -> Iterator[list[tuple[str, Any]]]:
    """The SQL the read side runs meanwhile, with its parameters."""
    seen: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        seen.append((statement, parameters))

    event.listen(services.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(services.engine, "before_cursor_execute", record)


def list_query_plan(company: Company, services: Services, q: str) -> str:
    """The database's plan for the accounts list query that `GET /accounts?q=` runs."""
    with statements(services) as seen:
        found(company, ACCOUNTS, q)
    (statement, parameters), *_ = [s for s in seen if "ORDER BY accounts.name" in s[0]]
    explain = "EXPLAIN" if services.store.is_postgres else "EXPLAIN QUERY PLAN"
    with services.read() as conn:
        rows = conn.exec_driver_sql(f"{explain} {statement}", parameters).all()
    return "\n".join(str(row[-1]) for row in rows)


def fts_index_is_consistent(services: Services, table: str) -> None:
    with services.read() as conn:
        conn.exec_driver_sql(
            f"INSERT INTO {table}_search({table}_search, rank) VALUES ('integrity-check', 1)"
        )


def test_accounts_are_found_by_any_substring_of_their_searchable_fields(company: Company):
    for account in SOME_ACCOUNTS:
        company.open_account("rep_a", **account)
    for q in ACCOUNT_QUERIES:
        assert found(company, ACCOUNTS, q) == substring_matches(
            SOME_ACCOUNTS, ACCOUNT_SEARCHED, q
        ), q


def test_contacts_are_found_by_any_substring_of_their_searchable_fields(company: Company):
    open_contacts(company)
    for q in CONTACT_QUERIES:
        assert found(company, CONTACTS, q) == substring_matches(
            SOME_CONTACTS, CONTACT_SEARCHED, q
        ), q


def test_graphql_search_finds_the_same_accounts_and_contacts(company: Company):
    for account in SOME_ACCOUNTS:
        company.open_account("rep_a", **account)
    open_contacts(company)
    query = """query ($q: String) {
        accounts(filter: {q: $q}) { edges { node { name } } }
        contacts(filter: {q: $q}) { edges { node { name } } } }"""
    for q in ["zür", "ac", '"grün"', "100%", "b_b", "müller"]:
        response = company.client.post(
            "/graphql", json={"query": query, "variables": {"q": q}}, headers=company.as_("admin")
        )
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        data = response.json()["data"]
        assert sorted(e["node"]["name"] for e in data["accounts"]["edges"]) == (
            substring_matches([*SOME_ACCOUNTS, HOLDER], ACCOUNT_SEARCHED, q)
        )
        assert sorted(e["node"]["name"] for e in data["contacts"]["edges"]) == (
            substring_matches(SOME_CONTACTS, CONTACT_SEARCHED, q)
        )


def test_after_a_rename_the_old_name_no_longer_matches_and_the_new_one_does(company: Company):
    account = company.open_account("rep_a", "Oldname Trading", industry="Shipping")
    contacts = open_contacts(company)
    renamed = company.client.patch(
        f"{ACCOUNTS}/{account['id']}",
        json={"name": "Newname Trading", "industry": "Aviation"},
        headers=company.as_("rep_a"),
    )
    assert renamed.status_code == 200, renamed.text
    moved = company.client.patch(
        f"{CONTACTS}/{contacts['Gretel Müller']}",
        json={"name": "Gretel Schmidt", "email": None},
        headers=company.as_("rep_a"),
    )
    assert moved.status_code == 200, moved.text

    assert found(company, ACCOUNTS, "oldname") == []
    assert found(company, ACCOUNTS, "shipping") == []
    assert found(company, ACCOUNTS, "newname") == ["Newname Trading"]
    assert found(company, ACCOUNTS, "trading aviation") == ["Newname Trading"]
    assert found(company, CONTACTS, "müller") == []
    assert found(company, CONTACTS, "gretel.mueller") == []
    assert found(company, CONTACTS, "schmidt") == ["Gretel Schmidt"]
    assert found(company, CONTACTS, "schmidt +49") == ["Gretel Schmidt"]


def test_archived_accounts_and_contacts_are_found_only_when_archived_ones_are_asked_for(
    company: Company,
):
    account = company.open_account("rep_a", "Dormant Holdings")
    contacts = open_contacts(company)
    for path, record_id in ((ACCOUNTS, account["id"]), (CONTACTS, contacts["Åke Öberg"])):
        response = company.client.post(
            f"{path}/{record_id}/archive", json={}, headers=company.as_("rep_a")
        )
        assert response.status_code == 200, response.text

    assert found(company, ACCOUNTS, "dormant") == []
    assert found(company, ACCOUNTS, "dormant", archived="true") == ["Dormant Holdings"]
    assert found(company, ACCOUNTS, "dormant", archived="any") == ["Dormant Holdings"]
    assert found(company, CONTACTS, "öberg") == []
    assert found(company, CONTACTS, "öberg", archived="true") == ["Åke Öberg"]


def test_an_erased_contact_is_not_found_by_its_former_details(company: Company):
    contacts = open_contacts(company)
    erased = company.client.post(
        f"{CONTACTS}/{contacts['Gretel Müller']}/erase",
        json={"reason": "subject_request"},
        headers=company.as_("admin"),
    )
    assert erased.status_code == 200, erased.text

    for q in ["gretel", "müller", "mueller@example", "+49 30 1111", "procurement", "erased"]:
        assert found(company, CONTACTS, q) == [], q
    assert found(company, CONTACTS, "example") == ['Bob "The Builder" O\'Neil']


def test_erasing_a_contact_leaves_none_of_its_trigrams_in_the_sqlite_index(
    company: Company, services: Services
):
    """The trigrams with their positions spell the values; merging the index drops them."""
    if services.store.is_postgres:
        pytest.skip("SQLite's FTS5 index")
    account = company.open_account("rep_a", "Erasure Account")
    contact = company.client.post(
        CONTACTS,
        json={"account_id": account["id"], "name": "Gretchen Erasable"},
        headers=company.as_("rep_a"),
    )
    assert contact.status_code == 201, contact.text
    # Rows 1 and 10 of an FTS5 data table are its averages and structure; the rest are segments.
    segments = text("SELECT count(*) FROM contacts_search_data WHERE id NOT IN (1, 10)")
    with services.read() as conn:
        assert conn.execute(segments).scalar_one() > 0

    erased = company.client.post(
        f"{CONTACTS}/{contact.json()['id']}/erase",
        json={"reason": "subject_request"},
        headers=company.as_("admin"),
    )
    assert erased.status_code == 200, erased.text
    with services.read() as conn:
        assert conn.execute(segments).scalar_one() == 0
    fts_index_is_consistent(services, "contacts")


def test_searches_find_the_same_after_a_rebuild_of_the_read_model(
    company: Company, services: Services
):
    for account in SOME_ACCOUNTS:
        company.open_account("rep_a", **account)
    contacts = open_contacts(company)
    slash = contacts["Back\\Slash"]
    renamed = company.client.patch(
        f"{CONTACTS}/{slash}",
        json={"name": "Front/Slash"},
        headers=company.as_("rep_a"),
    )
    assert renamed.status_code == 200, renamed.text
    erased = company.client.post(
        f"{CONTACTS}/{contacts['Gretel Müller']}/erase",
        json={"reason": "subject_request"},
        headers=company.as_("admin"),
    )
    assert erased.status_code == 200, erased.text
    queries = ["zür", "acme", "ac", "100%", '"grün"', "slash", "back", "müller", "b_b", "erased"]
    before = {q: (found(company, ACCOUNTS, q), found(company, CONTACTS, q)) for q in queries}
    assert before["slash"] == ([], ["Front/Slash"]) and before["müller"] == ([], [])
    assert before["acme"] == (["ACME Industries", "Acme Corp"], [])

    services.projections.rebuild(["accounts"])

    assert {q: (found(company, ACCOUNTS, q), found(company, CONTACTS, q)) for q in queries} == (
        before
    )
    if not services.store.is_postgres:
        fts_index_is_consistent(services, "accounts")
        fts_index_is_consistent(services, "contacts")


@pytest.mark.parametrize("q", ["paged partner", "pa"])
def test_cursors_page_through_a_search_result(company: Company, q: str):
    names = [f"Paged Partner {n}" for n in range(7)]
    for name in [*names, "Other Party"]:
        company.open_account("rep_a", name)
    expected = sorted(n for n in [*names, "Other Party"] if q in n.lower())

    pages = []
    cursor = None
    while True:
        response = company.client.get(
            ACCOUNTS,
            params={"q": q, "limit": 3, **({"cursor": cursor} if cursor else {})},
            headers=company.as_("admin"),
        )
        assert response.status_code == 200, response.text
        body = response.json()
        pages.append([row["name"] for row in body["data"]])
        cursor = body["next_cursor"]
        if cursor is None:
            break

    assert [len(p) for p in pages] == [3] * (len(expected) // 3) + [len(expected) % 3]
    assert [name for page in pages for name in page] == expected


def test_many_matches_walk_the_sort_order_and_still_find_exactly_the_substring_matches(
    company: Company, services: Services, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setattr(accounts_read_model, "FEW_MATCHES", 1)
    for account in SOME_ACCOUNTS:
        company.open_account("rep_a", **account)
    for q in ["acme", "ag", "ſs", "weis", "φοσ", "100%"]:
        assert found(company, ACCOUNTS, q) == substring_matches(
            SOME_ACCOUNTS, ACCOUNT_SEARCHED, q
        ), q
    assert "accounts_search" not in list_query_plan(company, services, "acme")


def test_sqlite_looks_up_three_or_more_characters_in_the_trigram_index(
    company: Company, services: Services
):
    if services.store.is_postgres:
        pytest.skip("SQLite's FTS5 index")
    for account in SOME_ACCOUNTS:
        company.open_account("rep_a", **account)
    assert "VIRTUAL TABLE INDEX" in list_query_plan(company, services, "acme")
    assert "accounts_search" in list_query_plan(company, services, '"grün"')
    assert "accounts_search" not in list_query_plan(company, services, "ac")


def test_postgresql_looks_up_three_or_more_characters_in_the_trigram_index(
    company: Company, services: Services
):
    if not services.store.is_postgres:
        pytest.skip("PostgreSQL's pg_trgm index")
    now = datetime.now(UTC)
    meta = EventMeta(ADMIN_ID, "user", None, now, str(uuid4()), str(uuid4()))
    with recording(meta, now):
        batch = [
            Account(
                id=uuid4(),
                name=f"Customer {n:04}",
                owner_id=company.ids["rep_a"],
                industry=None,
                phone=None,
                address=None,
                manual_grade=None,
            )
            for n in range(2000)
        ]
    services.app.save(*batch)
    services.projections.catch_up(["accounts"])
    with services.engine.begin() as conn:
        # Rows inserted in bulk wait in the GIN index's pending list, which the planner prices
        # as read in full, until (auto)VACUUM merges it in: merge it as autovacuum would.
        conn.execute(text("SELECT gin_clean_pending_list('ix_accounts_search_text_trgm')"))
        conn.execute(text("ANALYZE accounts"))

    # Priced by trigram frequency: here "customer 1234" would scan (every row holds most of
    # its trigrams), "1234" looks up the index.
    plan = list_query_plan(company, services, "1234")
    assert "Bitmap Index Scan on ix_accounts_search_text_trgm" in plan, plan
    assert found(company, ACCOUNTS, "1234") == ["Customer 1234"]
