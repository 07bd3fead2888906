"""Custom fields and preferences through GraphQL: a JSON `customFields` object, one value by
`customField(key:)`, and `customFields` inputs checked exactly as REST checks them."""

from __future__ import annotations

from typing import Any

from tests.api.test_custom_fields import define
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
