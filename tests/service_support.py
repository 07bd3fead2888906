"""Test support for assets, service requests, routing, SLA policies and service analytics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crm_api.settings import Settings
from tests.sales_support import ok
from tests.support import Company

ASSETS = "/api/v1/assets"
REQUESTS = "/api/v1/service-requests"
POLICIES = "/api/v1/sla-policies"
RULES = "/api/v1/routing-rules"
QUEUES = "/api/v1/queues"


def register_asset(company: Company, who: str, account_id: str, **body: Any) -> dict[str, Any]:
    body.setdefault("serial_number", "SN-1")
    if "product_id" not in body:
        body.setdefault("manufacturer", "Other Corp")
        body.setdefault("model", "X-100")
    response = company.client.post(
        ASSETS, json={"account_id": account_id, **body}, headers=company.as_(who)
    )
    return ok(response, 201)


def open_request(company: Company, who: str, account_id: str, **body: Any) -> dict[str, Any]:
    body.setdefault("kind", "fault")
    body.setdefault("channel", "phone")
    body.setdefault("subject", "It beeps")
    response = company.client.post(
        REQUESTS, json={"account_id": account_id, **body}, headers=company.as_(who)
    )
    return ok(response, 201)


def act(company: Company, who: str, request_id: str, verb: str, body: Any = None) -> Any:
    return company.client.post(
        f"{REQUESTS}/{request_id}/{verb}", json=body, headers=company.as_(who)
    )


def define_policy(company: Company, priority: str = "normal", **body: Any) -> dict[str, Any]:
    body.setdefault("first_response_within_minutes", 60)
    body.setdefault("resolve_within_minutes", 480)
    response = company.client.post(
        POLICIES, json={"priority": priority, **body}, headers=company.as_("admin")
    )
    return ok(response, 201)


def form_queue(company: Company, name: str, *members: str) -> dict[str, Any]:
    body = {"name": name, "member_ids": [company.ids[m] for m in members]}
    return ok(company.client.post(QUEUES, json=body, headers=company.as_("admin")), 201)


def define_rule(company: Company, name: str, position: int, **body: Any) -> dict[str, Any]:
    response = company.client.post(
        RULES, json={"name": name, "position": position, **body}, headers=company.as_("admin")
    )
    return ok(response, 201)


def add_agent(company: Company, key: str) -> str:
    company.add_user(key, role="service_agent")
    return company.ids[key]


def settings_with_blobs(store_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Test settings whose blob store (attachments, inbound email files) is the test's own."""
    return Settings(
        database_url=store_url,
        jwt_secret="test-secret-" + "x" * 32,
        blob_dir=str(tmp_path / "blobs"),
        **overrides,
    )
