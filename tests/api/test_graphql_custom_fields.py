"""Custom fields and preferences through GraphQL: a JSON `customFields` object, one value by
`customField(key:)`, and `customFields` inputs checked exactly as REST checks them."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.test_custom_fields import WRITER, _make, company_post, define
from tests.api.test_graphql import codes, gql
from tests.support import Company

FIELDS = 'id version preferences customFields tier: customField(key: "tier")'

CREATE = f"""
mutation Create($input: CreateAccountInput!) {{ createAccount(input: $input) {{ {FIELDS} }} }}"""
UPDATE = f"""
mutation Update($id: ID!, $input: UpdateAccountInput!) {{
  updateAccount(id: $id, input: $input) {{ {FIELDS} }}
}}"""


def create(company: Company, **extra: Any) -> dict[str, Any]:
    body = gql(
        company,
        "rep_a",
        CREATE,
        input={"name": "Acme", "ownerId": company.ids["rep_a"], **extra},
    )
    assert "errors" not in body, body
    account: dict[str, Any] = body["data"]["createAccount"]
    return account


def test_accounts_carry_custom_fields_and_preferences_in_graphql(company: Company) -> None:
    define(company, "accounts", "tier", "enum", options=["gold", "silver"])
    define(company, "accounts", "employees", "number")
    account = create(
        company, customFields={"tier": "gold"}, preferences={"channel": "email", "tags": ["vip"]}
    )
    assert account["customFields"] == {"tier": "gold"} and account["tier"] == "gold"
    assert account["preferences"] == {"channel": "email", "tags": ["vip"]}

    body = gql(
        company,
        "rep_a",
        UPDATE,
        id=account["id"],
        input={"customFields": {"employees": 12, "tier": None}, "preferences": {"language": "de"}},
    )
    assert "errors" not in body, body
    updated = body["data"]["updateAccount"]
    assert updated["customFields"] == {"employees": 12} and updated["tier"] is None
    assert updated["preferences"] == {"channel": "email", "tags": ["vip"], "language": "de"}

    listed = gql(
        company,
        "rep_a",
        f"query {{ accounts(first: 10) {{ edges {{ node {{ {FIELDS} }} }} }} }}",
    )
    [edge] = listed["data"]["accounts"]["edges"]
    assert edge["node"]["customFields"] == {"employees": 12}
    one = gql(
        company,
        "rep_a",
        'query($id: ID!) { account(id: $id) { n: customField(key: "employees") } }',
        id=account["id"],
    )
    assert one["data"]["account"]["n"] == 12


def test_graphql_refuses_bad_custom_values_with_the_rest_code(company: Company) -> None:
    define(company, "accounts", "tier", "enum", options=["gold", "silver"])
    body = gql(
        company,
        "rep_a",
        CREATE,
        input={"name": "Acme", "ownerId": company.ids["rep_a"], "customFields": {"tier": "x"}},
    )
    assert codes(body) == ["validation_failed"]
    assert body["errors"][0]["extensions"]["errors"][0]["field"] == "custom_fields.tier"
    unknown = gql(
        company,
        "rep_a",
        CREATE,
        input={"name": "Acme", "ownerId": company.ids["rep_a"], "customFields": {"nope": 1}},
    )
    assert codes(unknown) == ["validation_failed"]


def test_activities_take_custom_fields_in_their_mutations(company: Company) -> None:
    define(company, "activities", "mood", "text")
    account = create(company)
    body = gql(
        company,
        "rep_a",
        """mutation($input: CreateActivityInput!) {
             createActivity(input: $input) { id customFields mood: customField(key: "mood") }
           }""",
        input={"accountId": account["id"], "type": "call", "customFields": {"mood": "happy"}},
    )
    assert "errors" not in body, body
    activity = body["data"]["createActivity"]
    assert activity["customFields"] == {"mood": "happy"} and activity["mood"] == "happy"


# connections: filter and sort by custom fields

CONNECTIONS = {
    "accounts": "accounts",
    "contacts": "contacts",
    "opportunities": "opportunities",
    "quotes": "quotes",
    "orders": "orders",
    "assets": "assets",
    "service-requests": "serviceRequests",
    "activities": "activities",
}


def listed(
    company: Company,
    who: str,
    connection: str,
    *,
    conditions: list[dict[str, str]] | None = None,
    sort: str | None = None,
    first: int = 2,
) -> list[dict[str, Any]]:
    """Every node of a connection, page by page through each page's `endCursor`; each edge's
    own cursor must resume right after that edge."""
    query = f"""
    query($first: Int, $after: String, $cf: [CustomFieldCondition!], $sort: String) {{
      {connection}(first: $first, after: $after, customFields: $cf, sort: $sort) {{
        edges {{ cursor node {{ id customFields }} }}
        pageInfo {{ hasNextPage endCursor }}
      }}
    }}"""
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        body = gql(company, who, query, first=first, after=after, cf=conditions, sort=sort)
        assert "errors" not in body, body
        found = body["data"][connection]
        edges = found["edges"]
        if len(edges) > 1:
            resumed = gql(
                company, who, query, first=1, after=edges[0]["cursor"], cf=conditions, sort=sort
            )
            assert resumed["data"][connection]["edges"][0]["node"] == edges[1]["node"]
        nodes += [edge["node"] for edge in edges]
        if not found["pageInfo"]["hasNextPage"]:
            return nodes
        after = found["pageInfo"]["endCursor"]


def ids_of(nodes: list[dict[str, Any]]) -> list[str]:
    return [str(node["id"]) for node in nodes]


def make(
    company: Company, services: Any, record_type: str, account_id: str | None, tier: str
) -> str:
    """A record of the type whose custom field `tier` is `tier`."""
    if record_type == "accounts":
        return str(company.open_account("rep_a", tier, custom_fields={"tier": tier})["id"])
    assert account_id is not None
    return _make(company, services, record_type, account_id, tier)


def clear_tier(company: Company, record_type: str, record_id: str) -> None:
    response = company.client.patch(
        f"/api/v1/{record_type}/{record_id}",
        json={"custom_fields": {"tier": None}},
        headers=company.as_(WRITER.get(record_type, "rep_a")),
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("record_type", list(CONNECTIONS))
def test_every_connection_filters_and_pages_by_a_custom_field(
    company: Company, services: Any, record_type: str
) -> None:
    define(company, record_type, "tier", "text")
    account_id = None if record_type == "accounts" else company.open_account("rep_a")["id"]
    tiers = ("delta", "alpha", "echo", "charlie", "bravo")
    ids = {tier: make(company, services, record_type, account_id, tier) for tier in tiers}
    clear_tier(company, record_type, ids["charlie"])
    connection = CONNECTIONS[record_type]

    [gold] = listed(company, "rep_a", connection, conditions=[{"key": "tier", "value": "alpha"}])
    assert gold == {"id": ids["alpha"], "customFields": {"tier": "alpha"}}
    assert listed(company, "rep_a", connection, conditions=[{"key": "tier", "value": "zulu"}]) == []
    assert (
        listed(company, "rep_a", connection, conditions=[{"key": "tier", "value": "Alpha"}]) == []
    )

    ascending = ["charlie", "alpha", "bravo", "delta", "echo"]
    assert ids_of(listed(company, "rep_a", connection, sort="cf.tier")) == [
        ids[t] for t in ascending
    ]
    assert ids_of(listed(company, "rep_a", connection, sort="-cf.tier")) == [
        ids[t] for t in reversed(ascending)
    ]


def test_conditions_of_every_kind_combine_with_and(company: Company) -> None:
    define(company, "accounts", "employees", "number")
    define(company, "accounts", "founded", "date")
    define(company, "accounts", "labels", "multi_enum", options=["vip", "new", "old"])
    define(company, "accounts", "partner", "boolean")
    rows = {
        "A": {"employees": 20, "founded": "2020-01-31", "labels": ["vip", "new"], "partner": True},
        "B": {"employees": 12.5, "founded": "2021-06-01", "labels": ["vip"], "partner": False},
        "C": {"employees": 20, "founded": "2021-06-01", "labels": ["old"]},
        "D": {},
    }
    ids = {
        name: company.open_account("rep_a", name, custom_fields=values)["id"]
        for name, values in rows.items()
    }

    def matching(*conditions: tuple[str, str]) -> list[str]:
        found = listed(
            company,
            "rep_a",
            "accounts",
            conditions=[{"key": key, "value": value} for key, value in conditions],
            sort="name",
        )
        return [name for name, record_id in ids.items() if record_id in ids_of(found)]

    assert matching(("labels", "vip")) == ["A", "B"]
    assert matching(("labels", "ne")) == []
    assert matching(("employees", "20")) == ["A", "C"]
    assert matching(("employees", "20.0")) == ["A", "C"]
    assert matching(("employees", "12.5")) == ["B"]
    assert matching(("founded", "2021-06-01")) == ["B", "C"]
    assert matching(("partner", "false")) == ["B"]
    assert matching(("labels", "vip"), ("employees", "20")) == ["A"]
    assert matching(("labels", "vip"), ("founded", "2021-06-01"), ("employees", "20")) == []


def field_errors_of(body: dict[str, Any]) -> list[str]:
    assert codes(body) == ["validation_failed"], body
    return [e["field"] for e in body["errors"][0]["extensions"]["errors"]]


def test_unknown_keys_bad_values_and_unsortable_fields_are_refused(company: Company) -> None:
    define(company, "opportunities", "employees", "number")
    define(company, "opportunities", "founded", "date")
    define(company, "opportunities", "labels", "multi_enum", options=["vip"])
    define(company, "accounts", "colour", "text")
    query = """query($cf: [CustomFieldCondition!], $sort: String) {
      opportunities(customFields: $cf, sort: $sort) { edges { node { id } } }
    }"""

    def refused(
        conditions: list[dict[str, str]] | None = None, sort: str | None = None
    ) -> list[str]:
        return field_errors_of(gql(company, "rep_a", query, cf=conditions, sort=sort))

    assert refused([{"key": "colour", "value": "red"}]) == ["customFields.colour"]
    assert refused([{"key": "Bad Key", "value": "x"}]) == ["customFields.Bad Key"]
    assert refused([{"key": "employees", "value": "abc"}]) == ["customFields.employees"]
    assert refused(
        [{"key": "founded", "value": "yesterday"}, {"key": "employees", "value": "1e3"}]
    ) == ["customFields.founded", "customFields.employees"]
    assert refused(sort="cf.labels") == ["sort"]
    assert refused(sort="-cf.colour") == ["sort"]
    fine = gql(company, "rep_a", query, cf=[{"key": "employees", "value": "3"}], sort="cf.founded")
    assert fine == {"data": {"opportunities": {"edges": []}}}


def test_a_rep_filtering_still_sees_only_their_own_records(company: Company) -> None:
    define(company, "accounts", "tier", "text")
    mine = company.open_account("rep_a", "Mine", custom_fields={"tier": "gold"})
    theirs = company.open_account("rep_c", "Theirs", custom_fields={"tier": "gold"})
    silver = company.open_account("rep_a", "Silver", custom_fields={"tier": "silver"})
    gold = [{"key": "tier", "value": "gold"}]

    assert ids_of(listed(company, "rep_a", "accounts", conditions=gold)) == [mine["id"]]
    assert ids_of(listed(company, "rep_c", "accounts", conditions=gold)) == [theirs["id"]]
    assert sorted(ids_of(listed(company, "admin", "accounts", conditions=gold))) == sorted(
        [mine["id"], theirs["id"]]
    )
    assert ids_of(listed(company, "rep_a", "accounts", sort="-cf.tier")) == [
        silver["id"],
        mine["id"],
    ]


def test_account_contacts_carry_their_custom_fields(company: Company) -> None:
    define(company, "contacts", "nickname", "text")
    define(company, "contacts", "score", "number")
    first = company.open_account("rep_a", "First")
    second = company.open_account("rep_a", "Second")
    for account, name, custom in (
        (first, "Ann", {"nickname": "annie", "score": 3}),
        (first, "Bob", {}),
        (second, "Cid", {"nickname": "c"}),
    ):
        company_post(
            company,
            "/api/v1/contacts",
            {"account_id": account["id"], "name": name, "custom_fields": custom},
        )

    body = gql(
        company,
        "rep_a",
        """{ accounts(first: 10, sort: "name") { edges { node { name contacts(first: 10) {
              name customFields nick: customField(key: "nickname") } } } } }""",
    )
    assert "errors" not in body, body
    contacts = {
        edge["node"]["name"]: edge["node"]["contacts"] for edge in body["data"]["accounts"]["edges"]
    }
    assert contacts == {
        "First": [
            {"name": "Ann", "customFields": {"nickname": "annie", "score": 3}, "nick": "annie"},
            {"name": "Bob", "customFields": {}, "nick": None},
        ],
        "Second": [{"name": "Cid", "customFields": {"nickname": "c"}, "nick": "c"}],
    }


def test_rest_lists_sorted_by_a_custom_field_show_no_sort_columns(company: Company) -> None:
    """The `cf.<key>` columns rows keep for GraphQL's cursors never reach a REST body."""
    define(company, "accounts", "tier", "text")
    company.open_account("rep_a", "A", custom_fields={"tier": "gold"})
    company.open_account("rep_a", "B")
    response = company.client.get(
        "/api/v1/accounts", params={"sort": "-cf.tier"}, headers=company.as_("rep_a")
    )
    assert response.status_code == 200, response.text
    rows = response.json()["data"]
    assert [row["name"] for row in rows] == ["A", "B"]
    assert all(not key.startswith("cf.") for row in rows for key in row)
    assert [row["custom_fields"] for row in rows] == [{"tier": "gold"}, {}]
