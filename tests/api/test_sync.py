"""Offline sync: POST /api/v1/sync and GraphQL `sync` answer each command applied, duplicate,
conflict or rejected, in order, and never record a command twice."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.support import Company


def command(
    command_id: str,
    type: str,
    target: dict[str, Any],
    body: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return {"command_id": command_id, "type": type, "target": target, "body": body or {}, **extra}


def sync(company: Company, who: str, commands: list[Any]) -> Any:
    response = company.client.post(
        "/api/v1/sync", json={"commands": commands}, headers=company.as_(who)
    )
    assert response.status_code == 200, response.text
    return response


def statuses(response: Any) -> list[str]:
    return [r["status"] for r in response.json()["results"]]


def test_a_batch_answers_each_command_and_a_resent_batch_records_nothing_twice(
    company: Company, services, clock
):
    account = company.open_account("rep_a", "Acme")
    on_the_road = clock.now() - timedelta(hours=3)
    clock.advance(hours=1)
    target = {"type": "account", "id": account["id"]}
    batch = [
        command("c1", "account.update", target, {"industry": "Retail"}, expected_version=1),
        command(
            "c2",
            "contact.create",
            {"type": "contact"},
            {"account_id": account["id"], "name": "Olga Offline"},
            occurred_at=on_the_road.isoformat(),
        ),
        command(
            "c3", "task.create", {"type": "task"}, {"title": "Call back", "due_date": "2026-01-09"}
        ),
        command("c4", "contact.create", {"type": "contact"}, {"account_id": account["id"]}),
        command("c5", "account.update", target, {"phone": "+33 1 23"}, expected_version=1),
        command("c6", "account.update", target, {"name": "Acme SA"}, expected_version=2),
        command("c7", "account.delete", target),
        command("c8", "task.complete", {"type": "task"}),
    ]
    head = services.app.head()
    first = sync(company, "rep_a", batch)
    assert statuses(first) == [
        "applied",
        "applied",
        "applied",
        "rejected",
        "conflict",
        "conflict",
        "rejected",
        "rejected",
    ]
    assert services.app.head() == head + 3
    assert int(first.headers["x-log-position"]) == head + 3
    results = first.json()["results"]
    assert results[0]["version"] == 2 and results[0]["record"]["industry"] == "Retail"
    contact = results[1]["record"]
    assert results[1]["target"] == {"type": "contact", "id": contact["id"]}
    assert contact["name"] == "Olga Offline"
    assert results[3]["problem"]["code"] == "validation_failed"
    assert [e["field"] for e in results[3]["problem"]["errors"]] == ["commands[3].body.name"]
    stale = results[4]
    assert stale["problem"]["code"] == "version_conflict"
    assert stale["record"]["industry"] == "Retail" and stale["version"] == 2
    assert [(e["type"], e["version"]) for e in stale["events"]] == [("AccountDetailsChanged", 2)]
    assert results[5]["problem"]["code"] == "blocked_by_conflict"
    assert [e["field"] for e in results[6]["problem"]["errors"]] == ["commands[6].type"]
    assert [e["field"] for e in results[7]["problem"]["errors"]] == ["commands[7].target.id"]

    history = company.client.get(
        f"/api/v1/contacts/{contact['id']}/history", headers=company.as_("rep_a")
    ).json()["data"]
    assert history[0]["occurred_at"].startswith(on_the_road.isoformat()[:19])
    assert history[0]["recorded_at"].startswith(clock.now().isoformat()[:19])

    again = sync(company, "rep_a", batch)
    assert statuses(again) == [
        "duplicate",
        "duplicate",
        "duplicate",
        "rejected",
        "conflict",
        "conflict",
        "rejected",
        "rejected",
    ]
    assert again.json()["results"][1]["target"]["id"] == contact["id"]
    assert services.app.head() == head + 3


def test_a_command_id_sent_again_with_another_body_is_refused(company: Company, services):
    account = company.open_account("rep_a", "Acme")
    target = {"type": "account", "id": account["id"]}
    sync(company, "rep_a", [command("same", "account.update", target, {"industry": "Retail"})])
    head = services.app.head()
    reused = sync(
        company, "rep_a", [command("same", "account.update", target, {"industry": "Food"})]
    )
    result = reused.json()["results"][0]
    assert result["status"] == "rejected" and result["problem"]["code"] == "command_id_reused"
    assert result["problem"]["status"] == 422
    assert services.app.head() == head


def test_each_command_is_checked_against_the_callers_rights(company: Company, services):
    account = company.open_account("rep_a", "Acme")
    head = services.app.head()
    answer = sync(
        company,
        "rep_c",
        [
            command(
                "x1", "account.update", {"type": "account", "id": account["id"]}, {"name": "Mine"}
            ),
            command(
                "x2", "task.create", {"type": "task"}, {"title": "Own", "due_date": "2026-01-09"}
            ),
        ],
    )
    first, second = answer.json()["results"]
    assert first["status"] == "rejected" and first["problem"]["status"] == 404
    assert first["record"] is None
    assert second["status"] == "applied"
    assert services.app.head() == head + 1


def test_a_batch_is_limited_to_500_commands(company: Company):
    commands = [
        command(f"t{i}", "task.create", {"type": "task"}, {"title": "T", "due_date": "2026-01-09"})
        for i in range(501)
    ]
    response = company.client.post(
        "/api/v1/sync", json={"commands": commands}, headers=company.as_("rep_a")
    )
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["errors"]] == ["commands"]
    empty = company.client.post("/api/v1/sync", json={"commands": []}, headers=company.as_("rep_a"))
    assert empty.status_code == 422


def test_occurred_at_in_the_future_is_refused(company: Company, clock):
    answer = sync(
        company,
        "rep_a",
        [
            command(
                "f1",
                "task.create",
                {"type": "task"},
                {"title": "T", "due_date": "2026-01-09"},
                occurred_at=(clock.now() + timedelta(hours=1)).isoformat(),
            )
        ],
    )
    problem = answer.json()["results"][0]["problem"]
    assert [e["field"] for e in problem["errors"]] == ["commands[0].occurred_at"]


SYNC = """
mutation Sync($commands: [SyncCommandInput!]!) {
  sync(commands: $commands) {
    position
    results { index commandId status target version record events problem }
  }
}
"""


def test_graphql_sync_answers_like_rest(company: Company, services):
    account = company.open_account("rep_a", "Acme")
    commands = [
        {
            "commandId": "g1",
            "type": "opportunity.create",
            "target": {"type": "opportunity"},
            "body": {
                "account_id": account["id"],
                "name": "Pumps",
                "amount": "1200.00",
                "currency": "EUR",
                "expected_close_date": "2026-03-01",
            },
        },
        {
            "commandId": "g2",
            "type": "account.update",
            "target": {"type": "account", "id": account["id"]},
            "expectedVersion": 5,
            "body": {"industry": "Energy"},
        },
    ]

    def run() -> dict[str, Any]:
        response = company.client.post(
            "/graphql",
            json={"query": SYNC, "variables": {"commands": commands}},
            headers=company.as_("rep_a"),
        )
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        return response.json()["data"]["sync"]

    head = services.app.head()
    first = run()
    opened, stale = first["results"]
    assert opened["status"] == "applied" and opened["record"]["name"] == "Pumps"
    assert opened["target"]["type"] == "opportunity"
    assert stale["status"] == "conflict" and stale["problem"]["code"] == "version_conflict"
    assert stale["record"]["version"] == 1 and stale["events"] == []
    again = run()
    assert [r["status"] for r in again["results"]] == ["duplicate", "conflict"]
    assert again["results"][0]["target"] == opened["target"]
    assert services.app.head() == head + 1 == first["position"]
