"""Opportunities, forecasts and sales analytics over GraphQL: the same services and codes as
REST."""

from __future__ import annotations

from typing import Any

from tests.sales_support import OPPORTUNITIES, history_types
from tests.support import Company

FIELDS = (
    "id accountId name amount currency expectedCloseDate ownerId stage lostReason wonAt version"
)


def gql(
    company: Company, who: str, query: str, on_behalf_of: str | None = None, **variables: Any
) -> dict[str, Any]:
    response = company.client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers=company.as_(who, on_behalf_of),
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def errors(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["extensions"] for e in body.get("errors", [])]


CREATE = f"""
mutation Create($input: CreateOpportunityInput!, $key: String) {{
  createOpportunity(input: $input, idempotencyKey: $key) {{ {FIELDS} }}
}}"""


def create(
    company: Company, who: str = "rep_a", key: str | None = None, **extra: Any
) -> dict[str, Any]:
    account = company.open_account("rep_a")
    body = gql(
        company,
        who,
        CREATE,
        input={
            "accountId": account["id"],
            "name": "Big deal",
            "amount": "1000.00",
            "currency": "EUR",
            "expectedCloseDate": "2026-03-31",
            **extra,
        },
        key=key,
    )
    assert "errors" not in body, body
    opportunity: dict[str, Any] = body["data"]["createOpportunity"]
    return opportunity


def test_created_moved_lost_reopened_and_won_by_mutations(company):
    opportunity = create(company)
    assert (opportunity["stage"], opportunity["amount"], opportunity["expectedCloseDate"]) == (
        "prospecting",
        "1000.00",
        "2026-03-31",
    )
    oid = opportunity["id"]
    moved = gql(
        company,
        "rep_a",
        f'mutation($id: ID!) {{ moveOpportunityStage(id: $id, stage: "proposal", ifMatch: 1) {{ {FIELDS} }} }}',
        id=oid,
    )
    assert moved["data"]["moveOpportunityStage"]["stage"] == "proposal"
    lost = gql(
        company,
        "rep_a",
        f'mutation($id: ID!) {{ loseOpportunity(id: $id, reason: "budget") {{ {FIELDS} }} }}',
        id=oid,
    )
    assert lost["data"]["loseOpportunity"]["lostReason"] == "budget"
    reopened = gql(
        company,
        "rep_a",
        f'mutation($id: ID!) {{ reopenOpportunity(id: $id, stage: "negotiation") {{ {FIELDS} }} }}',
        id=oid,
    )
    assert reopened["data"]["reopenOpportunity"]["stage"] == "negotiation"
    won = gql(
        company, "rep_a", f"mutation($id: ID!) {{ winOpportunity(id: $id) {{ {FIELDS} }} }}", id=oid
    )
    assert (won["data"]["winOpportunity"]["stage"], won["data"]["winOpportunity"]["version"]) == (
        "won",
        5,
    )
    assert history_types(company, f"{OPPORTUNITIES}/{oid}") == [
        "OpportunityCreated",
        "OpportunityStageChanged",
        "OpportunityLost",
        "OpportunityReopened",
        "OpportunityWon",
    ]
    history = gql(
        company,
        "rep_a",
        "query($id: ID!) { recordHistory(type: OPPORTUNITY, id: $id) { edges { node { type data } } } }",
        id=oid,
    )
    nodes = [e["node"] for e in history["data"]["recordHistory"]["edges"]]
    assert nodes[1] == {
        "type": "OpportunityStageChanged",
        "data": {"from_stage": "prospecting", "to_stage": "proposal"},
    }


def test_errors_carry_the_rest_codes(company):
    opportunity = create(company)
    oid = opportunity["id"]
    win = f"mutation($id: ID!) {{ winOpportunity(id: $id) {{ {FIELDS} }} }}"
    gql(company, "rep_a", win, id=oid)
    again = errors(gql(company, "rep_a", win, id=oid))
    assert again == [{"code": "invalid_state", "status": 409, "state": "won"}]
    stale = gql(
        company,
        "rep_a",
        f'mutation($id: ID!) {{ updateOpportunity(id: $id, input: {{name: "x"}}, ifMatch: 1) {{ {FIELDS} }} }}',
        id=oid,
    )
    assert errors(stale)[0]["code"] == "version_conflict"
    hidden = gql(
        company, "rep_c", f"query($id: ID!) {{ opportunity(id: $id) {{ {FIELDS} }} }}", id=oid
    )
    assert errors(hidden)[0]["code"] == "not_found"
    read_only = gql(company, "auditor", win, id=oid)
    assert errors(read_only)[0]["code"] == "read_only_role"
    account = company.open_account("rep_a")
    bad = gql(
        company,
        "rep_a",
        CREATE,
        input={
            "accountId": account["id"],
            "name": "x",
            "amount": "-1",
            "currency": "eur",
            "expectedCloseDate": "2026-03-31",
        },
    )
    assert errors(bad)[0]["code"] == "validation_failed"
    assert sorted(e["field"] for e in errors(bad)[0]["errors"]) == ["amount", "currency"]


def test_an_idempotency_key_is_recorded_once(company):
    first = create(company, key="gql-opp-1")
    account = company.open_account("rep_a", "Second")
    again = gql(
        company,
        "rep_a",
        CREATE,
        input={
            "accountId": account["id"],
            "name": "Other",
            "amount": "1.00",
            "currency": "EUR",
            "expectedCloseDate": "2026-03-31",
        },
        key="gql-opp-1",
    )
    assert errors(again)[0]["code"] == "idempotency_key_reused"
    listed = gql(
        company, "rep_a", "{ opportunities { edges { node { id } } pageInfo { hasNextPage } } }"
    )
    assert [e["node"]["id"] for e in listed["data"]["opportunities"]["edges"]] == [first["id"]]


def test_lists_filter_and_the_manager_sees_the_team(company):
    opportunity = create(company)
    query = (
        "query($f: OpportunityFilter) { opportunities(filter: $f) { edges { node { id stage } } } }"
    )
    for who in ("manager", "rep_a", "auditor"):
        body = gql(company, who, query, f={"stage": "prospecting"})
        assert [e["node"]["id"] for e in body["data"]["opportunities"]["edges"]] == [
            opportunity["id"]
        ]
    assert gql(company, "rep_c", query)["data"]["opportunities"]["edges"] == []
    assert (
        errors(gql(company, "rep_a", query, f={"stage": "closed"}))[0]["code"]
        == "validation_failed"
    )


PUT = """
mutation($owner: ID!, $period: String!, $input: PutForecastInput!) {
  putForecast(ownerId: $owner, period: $period, input: $input) {
    id ownerId period currency total version lines { productId amount }
  }
}"""


def test_forecasts_put_read_and_compared_with_wins(company):
    rep_a = company.ids["rep_a"]
    put = gql(
        company,
        "rep_a",
        PUT,
        owner=rep_a,
        period="2026-01",
        input={"currency": "EUR", "lines": [{"amount": "2000"}]},
    )
    forecast = put["data"]["putForecast"]
    assert (forecast["total"], forecast["version"], forecast["lines"]) == (
        "2000.00",
        1,
        [{"productId": None, "amount": "2000.00"}],
    )
    revised = gql(
        company,
        "rep_a",
        PUT,
        owner=rep_a,
        period="2026-01",
        input={"currency": "EUR", "lines": [{"amount": "4000"}]},
    )
    assert revised["data"]["putForecast"]["version"] == 2
    bad = gql(
        company,
        "rep_a",
        PUT,
        owner=rep_a,
        period="2026-13",
        input={"currency": "EUR", "lines": [{"amount": "1"}]},
    )
    assert errors(bad)[0]["code"] == "validation_failed"
    assert errors(bad)[0]["errors"] == [
        {"field": "period", "message": errors(bad)[0]["errors"][0]["message"]}
    ]
    other = gql(
        company,
        "rep_a",
        PUT,
        owner=company.ids["rep_b"],
        period="2026-01",
        input={"currency": "EUR", "lines": [{"amount": "1"}]},
    )
    assert errors(other)[0]["code"] == "owner_not_allowed"
    opportunity = create(company)
    gql(
        company,
        "rep_a",
        f"mutation($id: ID!) {{ winOpportunity(id: $id) {{ {FIELDS} }} }}",
        id=opportunity["id"],
    )
    read = gql(
        company,
        "rep_a",
        """query($id: ID!) {
          forecast(id: $id, version: 1) { total }
          forecasts(filter: {period: "2026-01"}) { edges { node { id } } }
          forecastVsActual(period: "2026-01") {
            edges { node { ownerId period currency forecastAmount wonAmount wonCount attainmentPct } }
          }
          funnel(from: "2026-01-01", to: "2026-02-01") {
            edges { node { group currency counts { prospecting won } winRate avgCycleDays } }
          }
        }""",
        id=forecast["id"],
    )
    assert "errors" not in read, read
    data = read["data"]
    assert data["forecast"] == {"total": "2000.00"}
    assert [e["node"]["id"] for e in data["forecasts"]["edges"]] == [forecast["id"]]
    assert [e["node"] for e in data["forecastVsActual"]["edges"]] == [
        {
            "ownerId": rep_a,
            "period": "2026-01",
            "currency": "EUR",
            "forecastAmount": "4000.00",
            "wonAmount": "1000.00",
            "wonCount": 1,
            "attainmentPct": 25.0,
        }
    ]
    assert [e["node"] for e in data["funnel"]["edges"]] == [
        {
            "group": "total",
            "currency": "EUR",
            "counts": {"prospecting": 1, "won": 1},
            "winRate": 1.0,
            "avgCycleDays": 0.0,
        }
    ]
    hidden = gql(
        company, "rep_c", "query($id: ID!) { forecast(id: $id) { id } }", id=forecast["id"]
    )
    assert errors(hidden)[0]["code"] == "not_found"
    bad_group = gql(company, "rep_a", '{ funnel(groupBy: "week") { edges { cursor } } }')
    assert errors(bad_group)[0]["code"] == "validation_failed"


def test_an_assistant_acts_on_behalf_of_its_rep(company):
    account = company.open_account("rep_a")
    variables = {
        "input": {
            "accountId": account["id"],
            "name": "Via assistant",
            "amount": "10.00",
            "currency": "EUR",
            "expectedCloseDate": "2026-03-31",
        }
    }
    refused = gql(company, "assistant", CREATE, **variables)
    assert errors(refused)[0]["code"] == "on_behalf_of_required"
    made = gql(company, "assistant", CREATE, on_behalf_of="rep_a", **variables)
    assert made["data"]["createOpportunity"]["ownerId"] == company.ids["rep_a"]
