"""Alerts: dormant accounts and SLA warnings/breaches, raised once per episode by the
watchers' tick as the clock moves, cleared when the cause ends, seen by the right people."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from crm_api.application.services import Services
from crm_api.settings import Settings
from tests.insights_support import ALERTS, WIDGET, alerts, order
from tests.sales_support import assert_problem, ok
from tests.service_support import act, define_policy, open_request
from tests.support import Company, FrozenClock

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def settings(store_url: str) -> Settings:
    return Settings(
        database_url=store_url,
        jwt_secret="test-secret-" + "x" * 32,
        dormancy_days=90,
        dormancy_days_by_grade="A=30",
    )


def test_a_dormant_account_is_alerted_once_and_cleared_when_an_order_arrives(
    company: Company, services: Services, clock: FrozenClock
) -> None:
    account = company.open_account("rep_a")
    clock.advance(days=90, seconds=-1)
    assert services.run_watchers().raised == 0
    clock.advance(seconds=1)
    assert services.run_watchers().raised == 1
    assert services.run_watchers().raised == 0

    [alert] = alerts(company, "rep_a", open="true")
    assert alert["kind"] == "account_dormant"
    assert alert["subject_id"] == account["id"]
    assert alert["owner_id"] == company.ids["rep_a"]
    assert alert["threshold_at"] == "2026-04-05T09:00:00Z"
    assert alert["raised_at"] == "2026-04-05T09:00:00Z"
    assert alert["episode"] == 0

    order(services, account["id"], clock.now(), (WIDGET, "1", "10.00", None))
    report = services.run_watchers()
    assert (report.raised, report.cleared) == (0, 1)
    assert services.run_watchers().cleared == 0
    assert alerts(company, "rep_a", open="true") == []
    [cleared] = alerts(company, "rep_a", open="false")
    assert cleared["id"] == alert["id"]
    assert cleared["clear_reason"] == "order_placed"
    assert cleared["cleared_at"] == "2026-04-05T09:00:00Z"

    clock.advance(days=90, seconds=1)
    assert services.run_watchers().raised == 1
    newest = alerts(company, "rep_a", open="true")
    assert [a["episode"] for a in newest] == [1]


def test_an_order_dated_in_the_past_does_not_end_dormancy(
    company: Company, services: Services, clock: FrozenClock
) -> None:
    account = company.open_account("rep_a")
    clock.advance(days=91)
    assert services.run_watchers().raised == 1
    order(services, account["id"], T0 - timedelta(days=10), (WIDGET, "1", "10.00", None))
    assert services.run_watchers().cleared == 0
    assert len(alerts(company, "rep_a", open="true")) == 1


def test_the_manual_grade_sets_the_dormancy_days_and_a_new_grade_starts_over(
    company: Company, services: Services, clock: FrozenClock
) -> None:
    account = company.open_account("rep_a", manual_grade="A")
    clock.advance(days=30, seconds=1)
    assert services.run_watchers().raised == 1
    response = company.client.patch(
        f"/api/v1/accounts/{account['id']}",
        json={"manual_grade": "B"},
        headers=company.as_("rep_a"),
    )
    ok(response)
    report = services.run_watchers()
    assert (report.raised, report.cleared) == (0, 1)
    clock.advance(days=60)
    assert services.run_watchers().raised == 1
    [alert] = alerts(company, "rep_a", open="true")
    assert alert["threshold_at"] == "2026-04-05T09:00:00Z"


def test_an_archived_account_is_not_watched(
    company: Company, services: Services, clock: FrozenClock
) -> None:
    account = company.open_account("rep_a")
    ok(
        company.client.post(
            f"/api/v1/accounts/{account['id']}/archive", headers=company.as_("rep_a")
        )
    )
    clock.advance(days=200)
    assert services.run_watchers().raised == 0


def test_alerts_are_seen_by_the_owner_its_manager_and_auditors_and_acknowledged_once(
    company: Company, services: Services, clock: FrozenClock
) -> None:
    company.open_account("rep_a")
    clock.advance(days=91)
    services.run_watchers()
    [alert] = alerts(company, "rep_a")
    for who in ("manager", "auditor", "admin"):
        assert [a["id"] for a in alerts(company, who)] == [alert["id"]]
    for who in ("rep_b", "rep_c", "agent"):
        assert alerts(company, who) == []
    url = f"{ALERTS}/{alert['id']}"
    assert_problem(company.client.get(url, headers=company.as_("rep_b")), 404, "not_found")
    assert_problem(
        company.client.post(f"{url}/acknowledge", headers=company.as_("rep_b")), 404, "not_found"
    )
    assert_problem(
        company.client.post(f"{url}/acknowledge", headers=company.as_("auditor")),
        403,
        "read_only_role",
    )
    acknowledged = ok(company.client.post(f"{url}/acknowledge", headers=company.as_("rep_a")))
    assert acknowledged["acknowledged_by"] == company.ids["rep_a"]
    assert acknowledged["cleared_at"] is None
    assert acknowledged["version"] == 2
    assert_problem(
        company.client.post(f"{url}/acknowledge", headers=company.as_("manager")),
        409,
        "already_acknowledged",
    )
    history = ok(
        company.client.get(
            "/api/v1/events?types=AlertRaised,AlertAcknowledged", headers=company.as_("admin")
        )
    )
    assert [e["type"] for e in history["data"]] == ["crm.AlertRaised", "crm.AlertAcknowledged"]


def test_sla_warning_and_breach_are_raised_for_the_assignee_and_cleared_by_the_first_response(
    company: Company, services: Services, clock: FrozenClock
) -> None:
    define_policy(company, "normal", first_response_within_minutes=60, resolve_within_minutes=480)
    account = company.open_account("rep_a")
    request = open_request(company, "rep_a", account["id"])
    ok(act(company, "manager", request["id"], "assign", {"assignee_id": company.ids["agent"]}))
    clock.advance(minutes=47)
    assert services.run_watchers().raised == 0
    clock.advance(minutes=1)
    assert services.run_watchers().raised == 1
    [warning] = alerts(company, "agent")
    assert (warning["kind"], warning["target"]) == ("sla_warning", "first_response")
    assert warning["threshold_at"] == "2026-01-05T09:48:00Z"
    assert warning["assignee_id"] == company.ids["agent"]
    clock.advance(minutes=12, seconds=1)
    assert services.run_watchers().raised == 1
    assert services.run_watchers().raised == 0
    kinds = sorted(a["kind"] for a in alerts(company, "agent", open="true"))
    assert kinds == ["sla_breached", "sla_warning"]
    assert len(alerts(company, "rep_a")) == 2
    assert alerts(company, "rep_b") == []

    ok(act(company, "agent", request["id"], "start"))
    report = services.run_watchers()
    assert (report.raised, report.cleared) == (0, 2)
    assert alerts(company, "agent", open="true") == []
    assert {a["clear_reason"] for a in alerts(company, "agent")} == {"responded"}

    clock.advance(minutes=384 - 60)
    assert services.run_watchers().raised == 1
    [resolution] = alerts(company, "agent", open="true")
    assert (resolution["kind"], resolution["target"]) == ("sla_warning", "resolution")
    assert resolution["threshold_at"] == "2026-01-05T15:24:00Z"
    ok(act(company, "agent", request["id"], "resolve", {"resolution": "Fixed"}))
    assert services.run_watchers().cleared == 1


def test_waiting_on_the_customer_pauses_the_resolution_alerts(
    company: Company, services: Services, clock: FrozenClock
) -> None:
    define_policy(company, "normal", first_response_within_minutes=60, resolve_within_minutes=100)
    account = company.open_account("rep_a")
    request = open_request(company, "rep_a", account["id"])
    ok(act(company, "manager", request["id"], "assign", {"assignee_id": company.ids["agent"]}))
    ok(act(company, "agent", request["id"], "start"))
    clock.advance(minutes=10)
    ok(act(company, "agent", request["id"], "wait-on-customer", {"reason": "photos"}))
    clock.advance(minutes=200)
    assert services.run_watchers().raised == 0
    ok(act(company, "agent", request["id"], "resume"))
    clock.advance(minutes=69)
    assert services.run_watchers().raised == 0
    clock.advance(minutes=1)
    assert services.run_watchers().raised == 1
    [warning] = alerts(company, "agent", open="true")
    assert warning["threshold_at"] == "2026-01-05T13:40:00Z"


def gql(company: Company, who: str, query: str, **variables: Any) -> dict[str, Any]:
    response = company.client.post(
        "/graphql", json={"query": query, "variables": variables}, headers=company.as_(who)
    )
    body: dict[str, Any] = ok(response)
    return body


def test_alerts_over_graphql_list_acknowledge_and_stream(
    client: Any, company: Company, services: Services, clock: FrozenClock
) -> None:
    account = company.open_account("rep_a")
    subscription = (
        "subscription($after: Int) { alerts(after: $after) { kind subjectId clearedAt } }"
    )
    with client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": company.as_("manager")})
        assert ws.receive_json()["type"] == "connection_ack"
        payload = {"query": subscription, "variables": {"after": services.app.head()}}
        ws.send_json({"id": "1", "type": "subscribe", "payload": payload})
        clock.advance(days=91)
        services.run_watchers()
        message = ws.receive_json()
        ws.send_json({"id": "1", "type": "complete"})
    assert message["type"] == "next", message
    assert message["payload"]["data"]["alerts"] == {
        "kind": "account_dormant",
        "subjectId": account["id"],
        "clearedAt": None,
    }

    listed = gql(
        company,
        "rep_a",
        "{ alerts(filter: {open: true}) { edges { node { id kind ownerId } } } }",
    )["data"]["alerts"]["edges"]
    [node] = [edge["node"] for edge in listed]
    assert (node["kind"], node["ownerId"]) == ("account_dormant", company.ids["rep_a"])
    assert gql(company, "rep_b", "{ alerts { edges { node { id } } } }")["data"]["alerts"] == {
        "edges": []
    }
    acknowledged = gql(
        company,
        "rep_a",
        "mutation($id: ID!) { acknowledgeAlert(id: $id) { acknowledgedBy version } }",
        id=node["id"],
    )
    assert acknowledged["data"]["acknowledgeAlert"] == {
        "acknowledgedBy": company.ids["rep_a"],
        "version": 2,
    }


def test_a_tick_takes_every_due_alert_batch_after_batch(
    company: Company, services: Services, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("crm_api.application.watchers.BATCH", 2)
    for name in ("One", "Two", "Three"):
        company.open_account("rep_a", name)
    clock.advance(days=91)
    assert services.run_watchers().raised == 3
    assert len(alerts(company, "rep_a", open="true")) == 3


def test_a_tick_raises_its_due_alerts_in_one_save_and_each_once_after_a_race(
    company: Company, services: Services, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Due alerts go in one append; when another process raised one of them between the
    check and the save, the save fails as a whole and each is raised on its own: every
    episode once, nothing lost."""
    for name in ("One", "Two", "Three", "Four"):
        company.open_account("rep_a", name)
    clock.advance(days=91)
    app = services.app
    saves: list[int] = []
    save = app.save

    def counting_save(*aggregates: Any, **kwargs: Any) -> Any:
        saves.append(len(aggregates))
        return save(*aggregates, **kwargs)

    monkeypatch.setattr(app, "save", counting_save)
    assert services.run_watchers().raised == 4
    assert saves == [4]

    # The race: another process raises Five's alert after this tick looked (exists() says
    # no), before it saves.
    five = company.open_account("rep_a", "Five")
    six = company.open_account("rep_a", "Six")
    clock.advance(days=91)
    exists = app.exists
    services.watchers._raise(
        clock.now(),
        [],
        alert_kind="account_dormant",
        subject_type="account",
        subject_id=five["id"],
        account_id=five["id"],
        owner_id=company.ids["rep_a"],
        assignee_id=None,
        target=None,
        threshold_at=clock.now(),
        episode=0,
    )
    monkeypatch.setattr(app, "exists", lambda record_id: False)
    saves.clear()
    report = services.run_watchers()
    assert report.raised == 1
    assert saves[0] == 2  # Five and Six together, refused as a whole
    monkeypatch.setattr(app, "exists", exists)
    open_alerts = alerts(company, "rep_a", open="true")
    assert sorted(
        a["subject_id"] for a in open_alerts if a["subject_id"] in (five["id"], six["id"])
    ) == sorted([five["id"], six["id"]])
    assert len(open_alerts) == 6
