"""Per-client rate limits: 429 `rate_limited` with Retry-After and RateLimit-* headers, per
principal (user or API key) or per client IP without valid credentials, REST and GraphQL alike;
/health, /ready and /metrics are exempt; a refused write records nothing.

The `limits` library counts with the wall clock (it cannot take the injected one), so these
tests use a limit of a few requests per minute and never wait: everything happens well inside
one window."""

from __future__ import annotations

import os
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from crm_api.app import create_app
from crm_api.application.services import Services
from crm_api.settings import Settings
from tests.api.test_bad_input import assert_problem
from tests.support import Company, FrozenClock, bearer

API = "/api/v1"
LIMIT = 3


def limited_client(
    settings: Settings,
    clock: FrozenClock,
    services: Services,
    *,
    client_address: tuple[str, int] = ("10.0.0.1", 50000),
    **overrides: Any,
) -> TestClient:
    """An app over the same store and services with its own rate limit. Used without `with`
    (no lifespan): the services are the test's, closed by their fixture."""
    changed = settings.model_copy(update={"rate_limit": f"{LIMIT}/minute", **overrides})
    app = create_app(changed, clock=clock, services=services, run_workers=False, listen=False)
    return TestClient(app, raise_server_exceptions=False, client=client_address)


@pytest.fixture
def limited(settings: Settings, clock: FrozenClock, services: Services) -> TestClient:
    return limited_client(settings, clock, services)


def list_accounts(client: TestClient, company: Company, who: str) -> Any:
    return client.get(f"{API}/accounts", headers=company.as_(who))


def assert_rate_limited(response: Any) -> dict[str, Any]:
    body = assert_problem(response, 429, "rate_limited")
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    assert response.headers["ratelimit-limit"] == str(LIMIT)
    assert response.headers["ratelimit-remaining"] == "0"
    assert int(response.headers["ratelimit-reset"]) == retry_after
    return body


def test_past_the_limit_a_client_gets_429_with_retry_after(limited, company):
    answers = [list_accounts(limited, company, "rep_a") for _ in range(LIMIT)]

    refused = list_accounts(limited, company, "rep_a")

    assert [r.status_code for r in answers] == [200] * LIMIT
    assert [r.headers["ratelimit-limit"] for r in answers] == [str(LIMIT)] * LIMIT
    assert [r.headers["ratelimit-remaining"] for r in answers] == ["2", "1", "0"]
    assert all(1 <= int(r.headers["ratelimit-reset"]) <= 60 for r in answers)
    body = assert_rate_limited(refused)
    assert "3 per 1 minute" in body["detail"]
    assert refused.headers["x-request-id"]


def test_one_client_over_its_limit_does_not_limit_another(limited, company):
    for _ in range(LIMIT):
        assert list_accounts(limited, company, "rep_a").status_code == 200
    assert_rate_limited(list_accounts(limited, company, "rep_a"))

    others = [list_accounts(limited, company, "rep_b") for _ in range(LIMIT)]

    assert [r.status_code for r in others] == [200] * LIMIT
    assert_rate_limited(list_accounts(limited, company, "rep_b"))
    assert_rate_limited(list_accounts(limited, company, "rep_a"))


def test_health_ready_and_metrics_are_never_limited(limited, company):
    for _ in range(LIMIT):
        assert list_accounts(limited, company, "rep_a").status_code == 200
    assert_rate_limited(list_accounts(limited, company, "rep_a"))

    for path in ("/health", "/ready", "/metrics"):
        for _ in range(LIMIT + 2):
            response = limited.get(path, headers=company.as_("rep_a"))
            assert response.status_code != 429, (path, response.text)
            assert "ratelimit-limit" not in response.headers
    anonymous = [limited.get("/health").status_code for _ in range(LIMIT + 2)]
    assert 429 not in anonymous


def test_graphql_shares_the_clients_budget_with_rest(limited, company):
    query = {"query": "{ me { id role } }"}
    first = limited.post("/graphql", json=query, headers=company.as_("rep_a"))
    rest = [list_accounts(limited, company, "rep_a") for _ in range(LIMIT - 1)]

    refused = limited.post("/graphql", json=query, headers=company.as_("rep_a"))

    assert first.status_code == 200, first.text
    assert first.json()["data"]["me"] == {"id": company.ids["rep_a"], "role": "rep"}
    assert first.headers["ratelimit-remaining"] == str(LIMIT - 1)
    assert [r.status_code for r in rest] == [200] * (LIMIT - 1)
    assert_rate_limited(refused)
    other = limited.post("/graphql", json=query, headers=company.as_("rep_b"))
    assert other.status_code == 200
    assert other.json()["data"]["me"]["id"] == company.ids["rep_b"]


def test_a_refused_write_records_nothing(limited, company, services, client):
    for _ in range(LIMIT):
        assert list_accounts(limited, company, "rep_a").status_code == 200
    head = services.app.head()

    rest = limited.post(
        f"{API}/accounts",
        json={"name": "Refused Ltd", "owner_id": company.ids["rep_a"]},
        headers=company.as_("rep_a"),
    )
    graphql = limited.post(
        "/graphql",
        json={
            "query": 'mutation($owner: ID!) { createAccount(input: {name: "Refused GQL", '
            "ownerId: $owner}) { id } }",
            "variables": {"owner": company.ids["rep_a"]},
        },
        headers=company.as_("rep_a"),
    )

    assert_rate_limited(rest)
    assert_rate_limited(graphql)
    assert services.app.head() == head
    names = [a["name"] for a in list_accounts(client, company, "rep_a").json()["data"]]
    assert "Refused Ltd" not in names
    assert "Refused GQL" not in names


def test_a_refused_keyed_write_does_not_use_up_its_idempotency_key(
    limited, settings, clock, services, company
):
    for _ in range(LIMIT):
        assert list_accounts(limited, company, "rep_a").status_code == 200
    body = {"name": "Keyed Ltd", "owner_id": company.ids["rep_a"]}
    headers = {**company.as_("rep_a"), "Idempotency-Key": f"k-{uuid4().hex}"}

    refused = limited.post(f"{API}/accounts", json=body, headers=headers)
    # Another process (its own window) takes the same retry: it runs, it is not a replay.
    retried = limited_client(settings, clock, services).post(
        f"{API}/accounts", json=body, headers=headers
    )

    assert_rate_limited(refused)
    assert retried.status_code == 201, retried.text
    assert "idempotent-replayed" not in retried.headers
    assert retried.json()["name"] == "Keyed Ltd"


def test_requests_without_valid_credentials_are_limited_by_client_address(
    settings, clock, services, company
):
    one = limited_client(settings, clock, services, client_address=("10.0.0.7", 1))
    garbage = [bearer(f"not-a-token-{i}") for i in range(LIMIT)]

    answers = [one.get(f"{API}/accounts", headers=h) for h in garbage]
    refused = one.get(f"{API}/accounts")  # no credentials at all: the same address, same bucket
    # The address is not a user's bucket: a valid token from there still has its own.
    user = one.get(f"{API}/accounts", headers=company.as_("rep_a"))

    assert [r.status_code for r in answers] == [401] * LIMIT
    assert [r.headers["ratelimit-remaining"] for r in answers] == ["2", "1", "0"]
    assert_rate_limited(refused)
    assert user.status_code == 200
    assert user.headers["ratelimit-remaining"] == str(LIMIT - 1)


def test_an_api_key_has_its_own_budget(limited, company, client):
    created = client.post(
        f"{API}/api-keys",
        json={"name": "erp", "role": "integrator", "scopes": ["products:read"]},
        headers=company.as_("admin"),
    )
    assert created.status_code == 201, created.text
    key = bearer(created.json()["token"])
    for _ in range(LIMIT):
        assert list_accounts(limited, company, "admin").status_code == 200
    assert_rate_limited(list_accounts(limited, company, "admin"))

    answers = [limited.get(f"{API}/products", headers=key) for _ in range(LIMIT + 1)]

    assert [r.status_code for r in answers[:LIMIT]] == [200] * LIMIT, answers[0].text
    assert_rate_limited(answers[LIMIT])


def test_off_means_no_limit_and_no_headers(settings, clock, services, company):
    unlimited = limited_client(settings, clock, services, rate_limit="off")

    answers = [list_accounts(unlimited, company, "rep_a") for _ in range(LIMIT * 3)]

    assert {r.status_code for r in answers} == {200}
    assert "ratelimit-limit" not in answers[-1].headers


@pytest.mark.parametrize("text", ["lots", "3/fortnight", "-1/minute"])
def test_a_rate_limit_setting_that_does_not_parse_is_refused_at_start(text):
    with pytest.raises(ValueError, match="rate_limit"):
        Settings(rate_limit=text)


REDIS = os.environ.get("CRM_TEST_RATE_LIMIT_REDIS")


@pytest.mark.skipif(
    not REDIS, reason="set CRM_TEST_RATE_LIMIT_REDIS=redis://127.0.0.1:6379 to test Redis"
)
def test_api_processes_sharing_redis_share_each_clients_window(settings, clock, company):
    """Two apps (as two API processes would) count one window through Redis; a fresh
    workspace name keeps this test's counts apart from anything else in that Redis. Each app
    runs in its own event loop for its whole life (`with`), as under uvicorn: a Redis
    connection belongs to the loop that opened it."""
    shared = settings.model_copy(
        update={
            "rate_limit": f"{LIMIT}/minute",
            "rate_limit_storage": REDIS,
            "workspace_name": f"rl-{uuid4().hex[:12]}",
        }
    )
    apps = [
        create_app(shared, clock=clock, services=Services(shared, clock), run_workers=False)
        for _ in range(2)
    ]
    with TestClient(apps[0]) as first, TestClient(apps[1]) as second:
        answers = [
            list_accounts(first, company, "rep_a"),
            list_accounts(second, company, "rep_a"),
            list_accounts(first, company, "rep_a"),
        ]
        refused = list_accounts(second, company, "rep_a")
        other = list_accounts(first, company, "rep_b")

    assert [r.status_code for r in answers] == [200] * LIMIT
    assert [r.headers["ratelimit-remaining"] for r in answers] == ["2", "1", "0"]
    assert_rate_limited(refused)
    assert other.status_code == 200
