"""The service area over GraphQL: the same desk, rules and codes as REST."""

from __future__ import annotations

from tests.api.test_graphql_sales import errors, gql
from tests.sales_support import list_product
from tests.service_support import define_policy, define_rule, open_request, register_asset

REQUEST_FIELDS = (
    "id state assigneeId routedByRuleId sla { resolution resolveDueAt } messages { kind text }"
)


def test_open_work_and_evaluate_a_request(client, company):
    define_policy(company)
    define_rule(company, "all", 1, assignee_id=company.ids["agent"])
    account = company.open_account("rep_a")
    opened = gql(
        company,
        "rep_a",
        f"""mutation($input: OpenServiceRequestInput!) {{
              openServiceRequest(input: $input) {{ {REQUEST_FIELDS} }} }}""",
        input={"accountId": account["id"], "kind": "fault", "channel": "web", "subject": "Broken"},
    )["data"]["openServiceRequest"]
    assert (opened["state"], opened["assigneeId"]) == ("assigned", company.ids["agent"])
    rid = opened["id"]
    for mutation in (
        "startServiceRequest(id: $id)",
        'resolveServiceRequest(id: $id, resolution: "Fixed")',
    ):
        body = gql(company, "agent", f"mutation($id: ID!) {{ {mutation} {{ state }} }}", id=rid)
        assert "errors" not in body, body
    note = gql(
        company,
        "agent",
        'mutation($id: ID!) { addServiceNote(id: $id, text: "grumpy") { id } }',
        id=rid,
    )
    assert "errors" not in note
    evaluated = gql(
        company,
        "rep_a",
        "mutation($id: ID!) { evaluateServiceRequest(id: $id, satisfied: false, score: 2) { state } }",
        id=rid,
    )
    assert evaluated["data"]["evaluateServiceRequest"]["state"] == "reopened"
    customer = gql(
        company,
        "rep_a",
        "query($id: ID!) { serviceRequest(id: $id, customerView: true) { messages { kind } } }",
        id=rid,
    )
    assert customer["data"]["serviceRequest"]["messages"] == []
    listed = gql(
        company, "agent", "{ serviceRequests { edges { node { id state sla { resolution } } } } }"
    )
    assert [e["node"]["id"] for e in listed["data"]["serviceRequests"]["edges"]] == [rid]


def test_forbidden_transitions_and_bad_input_carry_the_rest_codes(client, company):
    account = company.open_account("rep_a")
    rid = open_request(company, "rep_a", account["id"])["id"]
    refused = gql(
        company, "manager", "mutation($id: ID!) { resumeServiceRequest(id: $id) { state } }", id=rid
    )
    assert errors(refused)[0]["code"] == "invalid_state"
    bad = gql(
        company,
        "rep_a",
        "mutation($input: OpenServiceRequestInput!) { openServiceRequest(input: $input) { id } }",
        input={"accountId": account["id"], "kind": "praise", "channel": "web", "subject": "x"},
    )
    assert errors(bad)[0]["code"] == "validation_failed"
    hidden = gql(company, "rep_c", "query($id: ID!) { serviceRequest(id: $id) { id } }", id=rid)
    assert errors(hidden)[0]["code"] == "not_found"


def test_assets_policies_rules_and_requests_per_product(client, company):
    account = company.open_account("rep_a")
    product = list_product(company)
    registered = gql(
        company,
        "rep_a",
        "mutation($input: RegisterAssetInput!) { registerAsset(input: $input) { id productId serialNumber } }",
        input={"accountId": account["id"], "serialNumber": "G1", "productId": product["id"]},
    )["data"]["registerAsset"]
    asset = register_asset(company, "rep_a", account["id"], serial_number="G2")
    open_request(company, "rep_a", account["id"], asset_id=registered["id"])
    define_policy(company, "high")
    define_rule(company, "r", 3, assignee_id=company.ids["agent"])
    data = gql(
        company,
        "auditor",
        """{ assets(filter: {serialNumber: "G2"}) { edges { node { id manufacturer } } }
             slaPolicies { edges { node { priority resolveWithinMinutes } } }
             routingRules { edges { node { name position conditions { kinds } } } }
             serviceByProduct { edges { node { productKey requests byKind { fault } } } } }""",
    )["data"]
    assert [e["node"]["id"] for e in data["assets"]["edges"]] == [asset["id"]]
    assert data["slaPolicies"]["edges"][0]["node"] == {
        "priority": "high",
        "resolveWithinMinutes": 480,
    }
    assert data["routingRules"]["edges"][0]["node"] == {
        "name": "r",
        "position": 3,
        "conditions": {"kinds": []},
    }
    assert data["serviceByProduct"]["edges"][0]["node"] == {
        "productKey": f"product:{product['id']}",
        "requests": 1,
        "byKind": {"fault": 1},
    }
