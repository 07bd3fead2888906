"""Transport: secure headers on every response, HSTS over https, a CORS allow-list."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from crm_api.app import create_app
from crm_api.settings import Settings
from tests.support import Company

FRONT_END = "https://crm.example.com"


def test_every_response_says_nosniff_no_referrer_never_framed(company: Company):
    for response in (
        company.client.get("/api/v1/accounts", headers=company.as_("rep_a")),
        company.client.get("/api/v1/accounts"),
        company.client.get("/health"),
    ):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["content-security-policy"] == "frame-ancestors 'none'"


def test_hsts_only_over_https(client: TestClient):
    assert "strict-transport-security" not in client.get("/health").headers
    over_tls = TestClient(client.app, base_url="https://testserver")
    assert (
        over_tls.get("/health").headers["strict-transport-security"].startswith("max-age=63072000")
    )


@pytest.fixture
def app_with(settings: Settings, clock, services) -> Callable[..., TestClient]:
    """A client of an app built with these settings (over the test's services)."""

    def make(**overrides: object) -> TestClient:
        configured = settings.model_copy(update=overrides)
        return TestClient(create_app(configured, clock=clock, services=services))

    return make


def test_hsts_when_tls_ends_at_a_proxy_and_the_setting_says_so(app_with):
    assert app_with(hsts=True).get("/health").headers["strict-transport-security"]


def preflight(client: TestClient, origin: str) -> object:
    return client.options(
        "/api/v1/accounts",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "Authorization, Idempotency-Key",
        },
    )


def test_no_origin_is_allowed_by_default(client: TestClient):
    response = preflight(client, FRONT_END)
    assert "access-control-allow-origin" not in response.headers
    assert (
        "access-control-allow-origin"
        not in client.get("/health", headers={"Origin": FRONT_END}).headers
    )


def test_listed_front_end_origins_may_call_and_others_may_not(app_with):
    client = app_with(cors_origins=f"{FRONT_END}/, https://admin.example.com")
    allowed = preflight(client, FRONT_END)
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == FRONT_END
    assert "idempotency-key" in allowed.headers["access-control-allow-headers"].lower()
    assert preflight(client, "https://evil.example.net").status_code == 400
    simple = client.get("/health", headers={"Origin": FRONT_END})
    assert simple.headers["access-control-allow-origin"] == FRONT_END
    assert "x-log-position" in simple.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-credentials" not in simple.headers
