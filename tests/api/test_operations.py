"""What operators rely on: metrics that move, lag that shows, a poisoned event that fails
readiness for its projection only and recovers after resume, and logs without secrets."""

from __future__ import annotations

import json
import logging

import pytest
import structlog
from prometheus_client.parser import text_string_to_metric_families

from crm_api.domain.accounts import Account
from crm_api.observability import configure_logging
from crm_api.projections.accounts import AccountsProjection

ACCOUNTS = "/api/v1/accounts"


def _metric(text: str, name: str, **labels: str) -> float:
    """The value of one series in the Prometheus text format (0 when absent)."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and sample.labels == labels:
                return float(sample.value)
    return 0.0


def test_metrics_are_exposed_and_move_with_traffic(client, company):
    before = client.get("/metrics").text
    company.open_account("rep_a", "Acme")
    client.post(
        ACCOUNTS,
        json={"name": "x" * 300, "owner_id": company.ids["rep_a"]},
        headers=company.as_("rep_a"),
    )
    client.post(
        ACCOUNTS,
        json={"name": "Dup", "owner_id": company.ids["rep_a"]},
        headers={**company.as_("rep_a"), "Idempotency-Key": "m1"},
    )
    client.post(
        ACCOUNTS,
        json={"name": "Dup", "owner_id": company.ids["rep_a"]},
        headers={**company.as_("rep_a"), "Idempotency-Key": "m1"},
    )
    after = client.get("/metrics").text
    assert after.startswith("#") and "text/plain" in client.get("/metrics").headers["content-type"]
    opened = {"command": "open_account", "outcome": "ok"}
    assert (
        _metric(after, "crm_commands_total", **opened)
        == _metric(before, "crm_commands_total", **opened) + 2
    )
    assert (
        _metric(after, "crm_events_appended_total")
        >= _metric(before, "crm_events_appended_total") + 2
    )
    assert _metric(after, "crm_problems_total", status="422", code="validation_failed") == 1
    assert _metric(after, "crm_idempotency_requests_total", outcome="replayed") == 1
    assert (
        _metric(
            after, "http_requests_total", handler="/api/v1/accounts", method="POST", status="201"
        )
        >= 2
    )
    head = int(_metric(after, "crm_log_head"))
    assert _metric(after, "crm_projection_position", projection="accounts") == head
    assert _metric(after, "crm_projection_lag_events", projection="accounts") == 0


@pytest.mark.workers
def test_lag_is_visible_while_a_projection_is_held_back(client, company, services, clock):
    held = client.post("/api/v1/projections/accounts/pause", headers=company.as_("admin"))
    assert held.status_code == 204
    company.open_account("rep_a", "Waiting")
    clock.advance(seconds=90)
    metrics = client.get("/metrics").text
    assert _metric(metrics, "crm_projection_lag_events", projection="accounts") >= 1
    assert _metric(metrics, "crm_projection_lag_seconds", projection="accounts") == pytest.approx(
        90
    )
    assert _metric(metrics, "crm_projection_paused", projection="accounts") == 1
    ready = client.get("/ready")
    assert ready.status_code == 503
    checks = ready.json()["checks"]["projections"]
    assert (checks["accounts"]["ok"], checks["accounts"]["paused"]) == (False, True)
    assert checks["directory"]["ok"] is True
    assert client.get(ACCOUNTS, headers=company.as_("rep_a")).json()["data"] == []

    assert (
        client.post("/api/v1/projections/accounts/resume", headers=company.as_("admin")).status_code
        == 204
    )
    assert services.notifier.wait_for_health("accounts", True, timeout=10)
    assert services.wait_for(services.app.head())
    assert [
        a["name"] for a in client.get(ACCOUNTS, headers=company.as_("rep_a")).json()["data"]
    ] == ["Waiting"]
    assert client.get("/ready").status_code == 200


@pytest.mark.workers
def test_a_poisoned_event_fails_readiness_for_its_projection_only_and_recovers_after_resume(
    client, company, services, monkeypatch
):
    original = AccountsProjection.account_opened

    def poisoned(self, conn, event, position):
        if event.name == "Poison":
            raise ValueError("cannot project this account")
        original(self, conn, event, position)

    monkeypatch.setitem(AccountsProjection._handlers, Account.Opened, poisoned)
    company.open_account("rep_a", "Poison")
    assert services.notifier.wait_for_health("accounts", False, timeout=10)
    ready = client.get("/ready")
    assert ready.status_code == 503
    projections = ready.json()["checks"]["projections"]
    assert projections["directory"]["ok"] is True
    assert projections["accounts"]["ok"] is False
    assert "cannot project this account" in projections["accounts"]["last_error"]
    assert projections["accounts"]["error_position"] == services.app.head()
    listed = client.get("/api/v1/projections", headers=company.as_("auditor")).json()
    assert {p["name"] for p in listed if p["failures"]} == {"accounts"}

    monkeypatch.setitem(AccountsProjection._handlers, Account.Opened, original)
    assert (
        client.post("/api/v1/projections/accounts/resume", headers=company.as_("admin")).status_code
        == 204
    )
    assert services.notifier.wait_for_health("accounts", True, timeout=10)
    assert services.wait_for(services.app.head())
    assert client.get("/ready").status_code == 200
    names = [a["name"] for a in client.get(ACCOUNTS, headers=company.as_("rep_a")).json()["data"]]
    assert names == ["Poison"]


def test_operators_only_may_pause_and_resume(client, company):
    assert (
        client.post(
            "/api/v1/projections/accounts/pause", headers=company.as_("manager")
        ).status_code
        == 403
    )
    assert (
        client.post("/api/v1/projections/nope/resume", headers=company.as_("admin")).status_code
        == 404
    )


def test_no_token_secret_or_personal_field_reaches_the_logs(client, company, capsys):
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("INFO")
        token = company.tokens["rep_a"]
        response = client.post(
            "/api/v1/contacts",
            json={
                "account_id": company.open_account("rep_a", "Acme")["id"],
                "name": "Jane Secretperson",
                "email": "jane.secret@example.com",
                "phone": "+33 6 12 34 56 78",
            },
            headers={**company.as_("rep_a"), "X-Correlation-Id": "corr-42"},
        )
        assert response.status_code == 201
        structlog.get_logger("crm_api.test").info("login", password="hunter2", authorization=token)
        output = capsys.readouterr().out
    finally:
        root.handlers, level = saved
        root.setLevel(level)
    lines = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    access = [
        line
        for line in lines
        if line.get("event") == "request" and line.get("route") == "/api/v1/contacts"
    ]
    assert access, output
    entry = access[-1]
    assert (entry["status"], entry["method"], entry["correlation_id"]) == (201, "POST", "corr-42")
    assert (
        entry["actor"] == company.ids["rep_a"] and entry["duration_ms"] >= 0 and entry["request_id"]
    )
    for secret in (
        token,
        token.split(".")[-1],
        "jane.secret@example.com",
        "Secretperson",
        "12 34 56 78",
        "hunter2",
    ):
        assert secret not in output
