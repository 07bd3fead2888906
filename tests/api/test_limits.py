"""Limits not covered elsewhere (test_bad_input: 1 MiB REST bodies, REST page sizes;
test_graphql: depth, aliases and complexity of queries; test_graphql_products: `first` of
products): the 10 MiB batch limit, GraphQL bodies, GraphQL page sizes, refused mutations over
depth, aliases or complexity, and batched GraphQL operations. Each refusal records nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.test_bad_input import assert_problem
from tests.api.test_graphql import codes

API = "/api/v1"
MIB = 1024 * 1024
CREATE = """mutation($owner: ID!) { createAccount(input: {name: "Over", ownerId: $owner}) %s }"""


def graphql(company: Any, who: str, query: str, **variables: Any) -> Any:
    return company.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=company.as_(who)
    )


def account_names(company: Any) -> list[str]:
    listed = company.client.get(f"{API}/accounts", headers=company.as_("admin"))
    assert listed.status_code == 200, listed.text
    return [a["name"] for a in listed.json()["data"]]


def test_a_batch_body_over_ten_mebibytes_is_a_413(client, company, services):
    head = services.app.head()
    filler = "x" * (10 * MIB)
    body = json.dumps({"orders": [{"source": "erp", "external_id": "E-1", "note": filler}]})
    headers = {**company.as_("admin"), "Content-Type": "application/json"}

    response = client.post(f"{API}/orders:batch", content=body.encode(), headers=headers)

    assert_problem(response, 413, "payload_too_large")
    assert "10485760" in response.json()["detail"]
    assert services.app.head() == head


def test_a_batch_body_between_one_and_ten_mebibytes_is_judged_on_its_content(client, company):
    body = json.dumps({"orders": [{"source": "erp", "external_id": "E-1"}], "pad": "x" * (2 * MIB)})
    headers = {**company.as_("admin"), "Content-Type": "application/json"}

    response = client.post(f"{API}/orders:batch", content=body.encode(), headers=headers)

    assert response.status_code != 413
    assert response.status_code < 500, response.text


def test_a_graphql_body_over_one_mebibyte_is_a_413(client, company, services):
    head = services.app.head()
    query = """mutation($input: CreateAccountInput!) { createAccount(input: $input) { id } }"""
    variables = {"input": {"name": "Huge", "ownerId": company.ids["rep_a"], "industry": "x" * MIB}}

    response = client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=company.as_("rep_a")
    )

    assert_problem(response, 413, "payload_too_large")
    assert services.app.head() == head
    assert "Huge" not in account_names(company)


@pytest.mark.parametrize("first", [0, 201, -1])
def test_a_graphql_page_size_outside_1_to_200_is_refused(company, first):
    response = graphql(
        company, "admin", "query($n: Int) { accounts(first: $n) { edges { cursor } } }", n=first
    )

    body = response.json()
    assert codes(body) == ["validation_failed"], body
    assert [e["field"] for e in body["errors"][0]["extensions"]["errors"]] == ["first"]


@pytest.mark.parametrize("first", [1, 200])
def test_graphql_page_sizes_1_and_200_are_accepted(company, first):
    response = graphql(
        company, "admin", "query($n: Int) { accounts(first: $n) { edges { cursor } } }", n=first
    )

    assert response.status_code == 200
    assert "errors" not in response.json(), response.json()


def test_a_mutation_with_too_many_aliases_records_nothing(company, services):
    head = services.app.head()
    aliased = " ".join(
        f'a{i}: createAccount(input: {{name: "Alias {i}", ownerId: $owner}}) {{ id }}'
        for i in range(31)
    )

    response = graphql(
        company, "rep_a", f"mutation($owner: ID!) {{ {aliased} }}", owner=company.ids["rep_a"]
    )

    body = response.json()
    assert body.get("data") is None
    assert codes(body) == ["too_many_aliases"]
    assert services.app.head() == head
    assert account_names(company) == []


def test_a_mutation_selecting_too_deep_records_nothing(company, services):
    head = services.app.head()
    nested = "name"
    for _ in range(5):
        nested = f"team {{ manager {{ {nested} }} }}"

    response = graphql(
        company, "rep_a", CREATE % f"{{ id owner {{ {nested} }} }}", owner=company.ids["rep_a"]
    )

    body = response.json()
    assert body.get("data") is None
    assert codes(body) == ["query_too_deep"]
    assert services.app.head() == head
    assert account_names(company) == []


def test_a_mutation_over_the_complexity_budget_records_nothing(company, services):
    head = services.app.head()
    selection = "{ id contacts(first: 200) { name account { contacts(first: 200) { name } } } }"

    response = graphql(company, "rep_a", CREATE % selection, owner=company.ids["rep_a"])

    body = response.json()
    assert body.get("data") is None
    assert codes(body) == ["query_too_complex"]
    assert body["errors"][0]["extensions"]["cost"] > 5000
    assert services.app.head() == head
    assert account_names(company) == []


def test_batched_graphql_operations_are_refused_and_record_nothing(client, company, services):
    head = services.app.head()
    operation = {"query": CREATE % "{ id }", "variables": {"owner": company.ids["rep_a"]}}

    response = client.post("/graphql", json=[operation, operation], headers=company.as_("rep_a"))

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_graphql_request"
    assert "Batching is not enabled" in response.json()["detail"]
    assert services.app.head() == head
    assert account_names(company) == []


@pytest.mark.parametrize(
    ("body", "content_type", "reason"),
    [
        (b"{not json", "application/json", "Unable to parse request body as JSON"),
        (b'{"variables": {}}', "application/json", "No GraphQL query found"),
        (b'{"query": "{ me { id } }", "variables": "x"}', "application/json", "variables"),
        (b"query { me { id } }", "text/plain", "Unsupported content type"),
    ],
)
def test_a_request_that_is_not_graphql_gets_a_problem_document(
    client, company, body, content_type, reason
):
    response = client.post(
        "/graphql", content=body, headers={**company.as_("rep_a"), "Content-Type": content_type}
    )
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == "invalid_graphql_request" and problem["status"] == 400
    assert reason in problem["detail"]
