"""GraphQL at /graphql: a thin transport over the same services as REST, with the same codes."""

from __future__ import annotations

from typing import Any

from tests.support import Company

ACCOUNT_FIELDS = "id name ownerId manualGrade version"


def gql(company: Company, who: str | None, query: str, **variables: Any) -> dict[str, Any]:
    headers = company.as_(who) if who else {}
    response = company.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


CREATE_ACCOUNT = f"""
mutation Create($input: CreateAccountInput!, $key: String) {{
  createAccount(input: $input, idempotencyKey: $key) {{ {ACCOUNT_FIELDS} }}
}}"""


def create_account(company: Company, who: str, name: str = "Acme", **extra: Any) -> dict[str, Any]:
    key = extra.pop("key", None)
    body = gql(
        company,
        who,
        CREATE_ACCOUNT,
        input={"name": name, "ownerId": company.ids[who], **extra},
        key=key,
    )
    assert "errors" not in body, body
    account: dict[str, Any] = body["data"]["createAccount"]
    return account


def test_an_account_created_by_mutation_is_listed_at_once(company):
    account = create_account(company, "rep_a", "Acme", manualGrade="A")
    assert account["manualGrade"] == "A" and account["version"] == 1

    body = gql(
        company,
        "rep_a",
        "{ accounts(first: 10) { edges { node { id name } cursor } pageInfo { hasNextPage endCursor } } }",
    )

    connection = body["data"]["accounts"]
    assert [e["node"]["id"] for e in connection["edges"]] == [account["id"]]
    assert connection["pageInfo"] == {
        "hasNextPage": False,
        "endCursor": connection["edges"][0]["cursor"],
    }


def test_pages_resume_after_the_end_cursor(company):
    for name in ("Alpha", "Bravo", "Charlie"):
        create_account(company, "rep_a", name)
    query = """query Page($after: String) {
      accounts(first: 2, after: $after) { edges { node { name } } pageInfo { hasNextPage endCursor } }
    }"""

    first = gql(company, "rep_a", query)["data"]["accounts"]
    second = gql(company, "rep_a", query, after=first["pageInfo"]["endCursor"])["data"]["accounts"]

    assert [e["node"]["name"] for e in first["edges"]] == ["Alpha", "Bravo"]
    assert first["pageInfo"]["hasNextPage"] is True
    assert [e["node"]["name"] for e in second["edges"]] == ["Charlie"]
    assert second["pageInfo"]["hasNextPage"] is False


def test_nested_owner_contacts_and_their_account_resolve(company):
    account = create_account(company, "rep_a", "Acme")
    contact = gql(
        company,
        "rep_a",
        "mutation($input: CreateContactInput!) { createContact(input: $input) { id name } }",
        input={"accountId": account["id"], "name": "Ada", "email": "ada@example.com"},
    )
    assert "errors" not in contact, contact

    body = gql(
        company,
        "rep_a",
        """{ accounts(first: 10) { edges { node {
              name owner { name role team { name } }
              contacts(first: 10) { name email account { id } }
        } } } }""",
    )

    node = body["data"]["accounts"]["edges"][0]["node"]
    assert node["owner"] == {"name": "Rep A", "role": "rep", "team": {"name": "North"}}
    assert node["contacts"] == [
        {"name": "Ada", "email": "ada@example.com", "account": {"id": account["id"]}}
    ]


def test_a_rep_cannot_see_another_reps_account(company):
    account = create_account(company, "rep_b", "Hidden")

    body = gql(
        company, "rep_a", "query($id: ID!) { account(id: $id) { id name } }", id=account["id"]
    )
    listed = gql(company, "rep_a", "{ accounts { edges { node { id } } } }")

    assert body["data"] is None
    assert codes(body) == ["not_found"]
    assert body["errors"][0]["extensions"]["status"] == 404
    assert listed["data"]["accounts"]["edges"] == []


def test_an_unknown_or_malformed_id_is_not_found(company):
    for record_id in ("not-a-uuid", "00000000-0000-4000-8000-00000000abcd"):
        body = gql(company, "admin", "query($id: ID!) { contact(id: $id) { id } }", id=record_id)
        assert codes(body) == ["not_found"]


def test_an_unauthenticated_caller_gets_the_unauthenticated_code(company):
    body = gql(company, None, "{ me { id } }")
    assert codes(body) == ["unauthenticated"]


def test_an_auditor_cannot_write(company):
    body = gql(
        company,
        "auditor",
        CREATE_ACCOUNT,
        input={"name": "Nope", "ownerId": company.ids["rep_a"]},
    )
    assert codes(body) == ["read_only_role"]
    assert body["errors"][0]["extensions"]["status"] == 403


def test_invalid_input_is_rejected_by_the_rest_rules(company):
    body = gql(
        company,
        "rep_a",
        CREATE_ACCOUNT,
        input={"name": "", "ownerId": company.ids["rep_a"], "manualGrade": "Z", "phone": "call me"},
    )
    error = body["errors"][0]["extensions"]
    assert error["code"] == "validation_failed"
    assert {e["field"] for e in error["errors"]} == {"name", "manualGrade", "phone"}


def test_a_stale_if_match_is_a_version_conflict(company):
    account = create_account(company, "rep_a", "Acme")
    update = """mutation($id: ID!, $v: Int) {
      updateAccount(id: $id, input: {industry: "Retail"}, ifMatch: $v) { version industry }
    }"""

    changed = gql(company, "rep_a", update, id=account["id"], v=1)
    stale = gql(company, "rep_a", update, id=account["id"], v=1)

    assert changed["data"]["updateAccount"] == {"version": 2, "industry": "Retail"}
    assert codes(stale) == ["version_conflict"]
    assert stale["errors"][0]["extensions"]["current_version"] == 2


def test_a_retried_mutation_with_the_same_key_is_recorded_once(company):
    first = create_account(company, "rep_a", "Acme", key="create-acme-1")
    retried = create_account(company, "rep_a", "Acme", key="create-acme-1")

    history = gql(
        company,
        "rep_a",
        """query($id: ID!) { recordHistory(type: ACCOUNT, id: $id) {
             edges { node { type version actor actorType data } } } }""",
        id=first["id"],
    )

    assert retried["id"] == first["id"]
    entries = [e["node"] for e in history["data"]["recordHistory"]["edges"]]
    assert [(e["type"], e["version"]) for e in entries] == [("AccountOpened", 1)]
    assert entries[0]["actor"] == company.ids["rep_a"]
    assert entries[0]["data"]["name"] == "Acme"


def test_history_names_each_actor_and_reads_the_past(company):
    account = create_account(company, "rep_a", "Acme")
    gql(
        company,
        "manager",
        """mutation($id: ID!, $to: ID!) {
             transferAccountOwnership(id: $id, toOwnerId: $to, reason: "cover") { ownerId } }""",
        id=account["id"],
        to=company.ids["rep_b"],
    )

    body = gql(
        company,
        "auditor",
        """query($id: ID!) {
             recordHistory(type: ACCOUNT, id: $id) { edges { node { type actor } } }
             account(id: $id, version: 1) { ownerId version }
           }""",
        id=account["id"],
    )

    entries = [e["node"] for e in body["data"]["recordHistory"]["edges"]]
    assert entries == [
        {"type": "AccountOpened", "actor": company.ids["rep_a"]},
        {"type": "AccountOwnershipTransferred", "actor": company.ids["manager"]},
    ]
    assert body["data"]["account"] == {"ownerId": company.ids["rep_a"], "version": 1}


def test_a_too_deep_query_is_rejected(company):
    nested = "name"
    for _ in range(5):
        nested = f"team {{ manager {{ {nested} }} }}"
    body = gql(company, "admin", f"{{ users(first: 1) {{ edges {{ node {{ {nested} }} }} }} }}")
    assert body["data"] is None
    assert codes(body) == ["query_too_deep"]


def test_a_query_over_the_complexity_budget_is_rejected(company):
    query = """query($n: Int) { accounts(first: $n) { edges { node {
        name contacts { name account { contacts { name } } } } } } }"""

    over = gql(company, "admin", query, n=200)
    within = gql(company, "admin", "{ accounts(first: 5) { edges { node { name } } } }")

    assert codes(over) == ["query_too_complex"]
    assert "errors" not in within


def test_too_many_aliases_are_rejected(company):
    aliases = " ".join(f"a{i}: me {{ id }}" for i in range(31))
    assert codes(gql(company, "admin", f"{{ {aliases} }}")) == ["too_many_aliases"]


def test_users_and_teams_are_listed(company):
    body = gql(
        company,
        "manager",
        """{ users(filter: {role: "rep"}) { edges { node { name } } }
             teams { edges { node { name manager { name } } } }
             me { role workspace } }""",
    )
    assert [e["node"]["name"] for e in body["data"]["users"]["edges"]] == [
        "Rep A",
        "Rep B",
        "Rep C",
    ]
    assert body["data"]["teams"]["edges"] == [
        {"node": {"name": "North", "manager": {"name": "Manager"}}}
    ]
    assert body["data"]["me"] == {"role": "manager", "workspace": "live"}


def test_an_admin_manages_users_and_teams(company):
    team = gql(
        company,
        "admin",
        'mutation { createTeam(input: {name: "South"}) { id name } }',
    )["data"]["createTeam"]
    user = gql(
        company,
        "admin",
        """mutation($team: ID!) { createUser(input: {name: "Rep D", email: "d@example.com",
             role: "rep", teamId: $team}) { id team { name } } }""",
        team=team["id"],
    )["data"]["createUser"]
    deactivated = gql(
        company, "admin", "mutation($id: ID!) { deactivateUser(id: $id) { active } }", id=user["id"]
    )

    assert user["team"] == {"name": "South"}
    assert deactivated["data"]["deactivateUser"] == {"active": False}


def test_the_event_feed_streams_an_opened_account(client, company, services):
    after = services.app.head()
    subscription = """subscription($after: Int) {
      events(types: ["AccountOpened"], after: $after) { type recordId actor data }
    }"""
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": company.as_("admin")})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": subscription, "variables": {"after": after}},
            }
        )
        account = create_account(company, "rep_a", "Streamed")

        message = ws.receive_json()

        ws.send_json({"id": "1", "type": "complete"})
    assert message["type"] == "next", message
    event = message["payload"]["data"]["events"]
    assert event["type"] == "AccountOpened"
    assert event["recordId"] == account["id"]
    assert event["actor"] == company.ids["rep_a"]
    assert event["data"]["name"] == "Streamed"


def test_a_rep_may_not_subscribe_to_the_feed(client, company):
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": company.as_("rep_a")})
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": "subscription { events { type } }"},
            }
        )

        message = ws.receive_json()

    assert message["type"] in ("error", "next"), message
    errors = message["payload"] if message["type"] == "error" else message["payload"]["errors"]
    assert [e["extensions"]["code"] for e in errors] == ["forbidden"]


def test_an_unexpected_failure_is_answered_without_details(company, services, monkeypatch):
    def broken(team_id: str) -> None:
        raise RuntimeError("database password is hunter2")

    monkeypatch.setattr(services.directory, "get_team", broken)

    body = gql(
        company, "admin", "query($id: ID!) { team(id: $id) { name } }", id=company.ids["team"]
    )

    assert codes(body) == ["internal_error"]
    assert "hunter2" not in str(body)


def test_an_idempotency_key_reused_for_other_arguments_is_refused(client, company):
    mutation = """mutation($name: String!, $owner: ID!) {
      createAccount(input: {name: $name, ownerId: $owner}, idempotencyKey: "gk-1") { id name }
    }"""
    owner = company.ids["rep_a"]
    first = client.post(
        "/graphql",
        json={"query": mutation, "variables": {"name": "Acme", "owner": owner}},
        headers=company.as_("rep_a"),
    ).json()
    again = client.post(
        "/graphql",
        json={"query": mutation, "variables": {"name": "Acme", "owner": owner}},
        headers=company.as_("rep_a"),
    ).json()
    other = client.post(
        "/graphql",
        json={"query": mutation, "variables": {"name": "Globex", "owner": owner}},
        headers=company.as_("rep_a"),
    ).json()
    assert first["data"]["createAccount"]["name"] == "Acme"
    assert again["data"]["createAccount"] == first["data"]["createAccount"]
    assert other["data"] is None
    assert other["errors"][0]["extensions"]["code"] == "idempotency_key_reused"
