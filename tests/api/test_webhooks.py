"""Webhooks on both stores: subscriptions as history, signed deliveries to a real receiver on
loopback, retries with backoff, in order per record, 410, the SSRF guard, secret rotation, a
deliverer that dies mid-way, redelivery and the delivery log. Time moves by the clock."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from standardwebhooks import Webhook as Verifier
from standardwebhooks import WebhookVerificationError

from crm_api.app import create_app
from crm_api.application.services import Services
from crm_api.integrations.ssrf import UrlGuard, UrlRefused
from crm_api.projections.webhooks import webhook_deliveries
from crm_api.settings import Settings
from tests.support import Company, FrozenClock


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def position(self) -> int:
        return int(self.event["data"]["position"])


@dataclass
class Receiver:
    """A webhook receiver on loopback that answers each request with the next status of
    `script` (then 200), and keeps what it was sent."""

    url: str = ""
    script: list[int] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: Received) -> int:
        with self.lock:
            self.received.append(request)
            status = self.script.pop(0) if self.script else 200
            self.answered.append(status)
            return status

    def delivered(self) -> list[Received]:
        """What was answered 2xx, in arrival order."""
        return [r for r, s in zip(self.received, self.answered, strict=True) if s < 300]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["content-length"]))
            status = state.answer(Received({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/crm"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture
def settings(store_url: str) -> Settings:
    """Loopback allowed (the receiver lives there); deliveries only when a test says so."""
    return Settings(
        database_url=store_url,
        jwt_secret="test-secret-" + "x" * 32,
        webhook_allow="127.0.0.1",
        webhook_delivery=False,
    )


@pytest.fixture
def crm(company: Company) -> Company:
    company.add_user("integrator", role="integrator")
    return company


def subscribe(crm: Company, receiver: Receiver, *types: str, who: str = "integrator") -> dict:
    response = crm.client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "types": list(types) or ["*"], "description": "ERP"},
        headers=crm.as_(who),
    )
    assert response.status_code == 201, response.text
    return response.json()


def deliver_everything(services: Services, clock: FrozenClock, rounds: int = 20) -> None:
    """Apply the log, then deliver what is due, advancing time past every backoff."""
    services.catch_up()
    for _ in range(rounds):
        services.deliverer.deliver_due()
        if not pending(services):
            return
        clock.advance(hours=1)
    raise AssertionError("deliveries still pending")


def pending(services: Services) -> int:
    d = webhook_deliveries
    with services.read() as conn:
        return int(conn.execute(select(func.count()).where(d.c.status == "pending")).scalar_one())


def deliveries(crm: Company, webhook_id: str, **params: Any) -> list[dict[str, Any]]:
    response = crm.client.get(
        f"/api/v1/webhooks/{webhook_id}/deliveries",
        params={"sort": "position", **params},
        headers=crm.as_("auditor"),
    )
    assert response.status_code == 200, response.text
    return response.json()["data"]


def rename(crm: Company, account_id: str, name: str) -> None:
    response = crm.client.patch(
        f"/api/v1/accounts/{account_id}", json={"name": name}, headers=crm.as_("rep_a")
    )
    assert response.status_code == 200, response.text


# subscriptions


def test_the_secret_is_shown_once_and_never_recorded(crm: Company, receiver: Receiver):
    hook = subscribe(crm, receiver, "AccountOpened")
    assert hook["secret"].startswith("whsec_") and hook["status"] == "active"
    shown = crm.client.get(f"/api/v1/webhooks/{hook['id']}", headers=crm.as_("admin")).json()
    assert "secret" not in shown and shown["types"] == ["AccountOpened"]
    listed = crm.client.get("/api/v1/webhooks", headers=crm.as_("auditor")).json()["data"]
    assert [h["id"] for h in listed] == [hook["id"]] and "secret" not in listed[0]
    events = crm.client.get(
        "/api/v1/events", params={"types": "WebhookRegistered"}, headers=crm.as_("admin")
    )
    assert events.json()["data"][0]["data"]["payload"] == {
        "url": receiver.url,
        "types": ["AccountOpened"],
        "description": "ERP",
    }
    history = crm.client.get(f"/api/v1/webhooks/{hook['id']}/history", headers=crm.as_("auditor"))
    assert hook["secret"] not in history.text and hook["secret"] not in events.text


def test_a_given_secret_must_be_a_standard_webhooks_secret(crm: Company, receiver: Receiver):
    response = crm.client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "types": ["*"], "secret": "hunter2"},
        headers=crm.as_("admin"),
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "secret"


def test_unknown_event_types_are_refused(crm: Company, receiver: Receiver):
    response = crm.client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "types": ["AccountOpened", "Nope"]},
        headers=crm.as_("admin"),
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "types", "message": "unknown event type(s): Nope"}
    ]


PRIVATE_OR_NOT_HTTP = [
    "http://10.1.2.3/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::1]:8080/hook",
    "http://0.0.0.0/hook",
    "http://224.0.0.1/hook",
    "http://100.64.0.1/hook",
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "http://user:pw@127.0.0.1/hook",
]


def test_private_and_non_http_urls_are_refused(crm: Company):
    for url in PRIVATE_OR_NOT_HTTP:
        response = crm.client.post(
            "/api/v1/webhooks", json={"url": url, "types": ["*"]}, headers=crm.as_("admin")
        )
        assert response.status_code == 422, (url, response.text)
        assert [e["field"] for e in response.json()["errors"]] == ["url"], url


def test_the_allow_list_admits_hosts_and_networks():
    addresses = {"erp.internal": ["10.1.2.3"], "cache.internal": ["192.168.0.7"]}
    guard = UrlGuard.from_setting(
        "erp.internal, 192.168.0.0/24", resolver=lambda host, _port: addresses[host]
    )
    assert guard.check("https://erp.internal/hooks") == ["10.1.2.3"]
    assert guard.check("http://cache.internal:8080/") == ["192.168.0.7"]
    with pytest.raises(UrlRefused):
        UrlGuard.from_setting("").check("http://cache.internal/")
    mapped = UrlGuard(resolver=lambda _host, _port: ["93.184.215.14", "::ffff:10.0.0.1"])
    with pytest.raises(UrlRefused):
        mapped.check("https://rebound.example/")


def test_roles(crm: Company, receiver: Receiver):
    hook = subscribe(crm, receiver, who="admin")
    body = {"url": receiver.url, "types": ["*"]}
    for who in ("rep_a", "manager", "agent"):
        assert crm.client.get("/api/v1/webhooks", headers=crm.as_(who)).status_code == 403
        refused = crm.client.post("/api/v1/webhooks", json=body, headers=crm.as_(who))
        assert refused.status_code == 403
    auditor = crm.as_("auditor")
    assert crm.client.get(f"/api/v1/webhooks/{hook['id']}", headers=auditor).status_code == 200
    read_only = crm.client.post("/api/v1/webhooks", json=body, headers=auditor)
    assert read_only.status_code == 403 and read_only.json()["code"] == "read_only_role"
    assert crm.client.delete(f"/api/v1/webhooks/{hook['id']}", headers=auditor).status_code == 403


def test_patch_and_delete_are_history(crm: Company, receiver: Receiver):
    hook = subscribe(crm, receiver, "AccountOpened")
    url = f"/api/v1/webhooks/{hook['id']}"
    changed = crm.client.patch(
        url,
        json={"types": ["AccountOpened", "AccountDetailsChanged"], "enabled": False},
        headers={**crm.as_("integrator"), "If-Match": '"1"'},
    )
    assert changed.status_code == 200, changed.text
    assert changed.json()["status"] == "disabled" and changed.json()["version"] == 3
    assert crm.client.patch(url, json={"enabled": True}, headers=crm.as_("admin")).json()["enabled"]
    gone = crm.client.delete(url, headers=crm.as_("admin"))
    assert gone.json()["status"] == "deleted"
    again = crm.client.patch(url, json={"enabled": True}, headers=crm.as_("admin"))
    assert again.status_code == 409 and again.json()["code"] == "webhook_deleted"
    history = crm.client.get(f"{url}/history", headers=crm.as_("auditor")).json()["data"]
    assert [h["type"] for h in history] == [
        "WebhookRegistered",
        "WebhookDetailsChanged",
        "WebhookDisabled",
        "WebhookEnabled",
        "WebhookDeleted",
    ]


# delivery


def test_every_event_arrives_signed_and_in_order_per_record_despite_failures(
    crm: Company, receiver: Receiver, services: Services, clock: FrozenClock
):
    hook = subscribe(crm, receiver, "AccountOpened", "AccountDetailsChanged")
    acme = crm.open_account("rep_a", "Acme")
    beta = crm.open_account("rep_a", "Beta")
    for n in range(3):
        rename(crm, acme["id"], f"Acme {n}")
        rename(crm, beta["id"], f"Beta {n}")
    receiver.script = [500, 500, 503, 500]
    deliver_everything(services, clock)

    log = deliveries(crm, hook["id"])
    assert len(log) == 8 and {d["status"] for d in log} == {"delivered"}
    got = receiver.delivered()
    assert sorted({r.headers["webhook-id"] for r in got}) == sorted(d["id"] for d in log)
    verifier = Verifier(hook["secret"])
    for request in receiver.received:
        assert verifier.verify(request.body, request.headers) == request.event
        assert request.headers["content-type"].startswith("application/cloudevents+json")
    for record in (acme["id"], beta["id"]):
        versions = [r.event["data"]["version"] for r in got if r.event["subject"] == record]
        assert versions == [1, 2, 3, 4]
    feed = crm.client.get(
        "/api/v1/events",
        params={"types": "AccountOpened,AccountDetailsChanged"},
        headers=crm.as_("admin"),
    ).json()["data"]
    assert sorted((r.event for r in got), key=lambda e: e["data"]["position"]) == feed
    retried = [d for d in log if d["attempts"] > 1]
    assert retried and all(d["last_status_code"] == 200 for d in log)


def test_a_failed_delivery_is_retried_with_backoff_then_given_up(
    crm: Company, receiver: Receiver, services: Services, clock: FrozenClock
):
    hook = subscribe(crm, receiver, "AccountOpened", "AccountDetailsChanged")
    acme = crm.open_account("rep_a", "Acme")
    rename(crm, acme["id"], "Acme 2")
    services.deliverer.max_attempts = 3
    receiver.script = [500] * 10
    services.catch_up()
    assert services.deliverer.deliver_due() == 1, "the rename waits for the opening"
    first = deliveries(crm, hook["id"])[0]
    assert first["status"] == "pending" and first["attempts"] == 1
    assert first["last_status_code"] == 500 and first["last_error"] == "HTTP 500"
    assert services.deliverer.deliver_due() == 0, "not due before its backoff"
    clock.advance(seconds=5)
    services.deliverer.deliver_due()
    clock.advance(seconds=10)
    services.deliverer.deliver_due()
    clock.advance(hours=2)
    assert services.deliverer.deliver_due() == 0
    opened, renamed = deliveries(crm, hook["id"])
    assert opened["status"] == "failed" and opened["attempts"] == 3
    assert renamed["status"] == "pending" and renamed["attempts"] == 0
    assert len(receiver.received) == 3

    receiver.script = []
    redone = crm.client.post(
        f"/api/v1/webhooks/{hook['id']}/deliveries/{opened['id']}/redeliver",
        headers=crm.as_("integrator"),
    )
    assert redone.status_code == 200 and redone.json()["status"] == "pending"
    assert services.deliverer.deliver_due() == 2
    assert [r.headers["webhook-id"] for r in receiver.delivered()] == [opened["id"], renamed["id"]]
    assert {d["status"] for d in deliveries(crm, hook["id"])} == {"delivered"}


def test_redelivery_sends_a_delivered_event_again_under_the_same_id(
    crm: Company, receiver: Receiver, services: Services, clock: FrozenClock
):
    hook = subscribe(crm, receiver, "AccountOpened")
    crm.open_account("rep_a", "Acme")
    deliver_everything(services, clock)
    (delivery,) = deliveries(crm, hook["id"])
    url = f"/api/v1/webhooks/{hook['id']}/deliveries/{delivery['id']}/redeliver"
    assert crm.client.post(url, headers=crm.as_("auditor")).status_code == 403
    assert crm.client.post(url, headers=crm.as_("admin")).status_code == 200
    deliver_everything(services, clock)
    assert [r.headers["webhook-id"] for r in receiver.received] == [delivery["id"]] * 2
    missing = f"/api/v1/webhooks/{hook['id']}/deliveries/{hook['id']}/redeliver"
    assert crm.client.post(missing, headers=crm.as_("admin")).status_code == 404


def test_the_delivery_log(crm: Company, receiver: Receiver, services: Services, clock: FrozenClock):
    hook = subscribe(crm, receiver, "AccountOpened")
    acme = crm.open_account("rep_a", "Acme")
    receiver.script = [502]
    services.catch_up()
    services.deliverer.deliver_due()
    (entry,) = deliveries(crm, hook["id"])
    assert entry == {
        "id": entry["id"],
        "webhook_id": hook["id"],
        "position": entry["position"],
        "event_type": "AccountOpened",
        "record_id": acme["id"],
        "status": "pending",
        "attempts": 1,
        "next_attempt_at": entry["next_attempt_at"],
        "last_attempt_at": "2026-01-05T09:00:00Z",
        "last_status_code": 502,
        "last_error": "HTTP 502",
        "delivered_at": None,
        "created_at": "2026-01-05T09:00:00Z",
    }
    backoff = datetime.fromisoformat(entry["next_attempt_at"]) - clock.now()
    assert timedelta(seconds=1) <= backoff <= timedelta(seconds=5)
    assert deliveries(crm, hook["id"], status="delivered") == []
    clock.advance(minutes=1)
    services.deliverer.deliver_due()
    (entry,) = deliveries(crm, hook["id"])
    assert entry["status"] == "delivered" and entry["delivered_at"] == "2026-01-05T09:01:00Z"


def test_a_410_disables_the_webhook(
    crm: Company, receiver: Receiver, services: Services, clock: FrozenClock
):
    hook = subscribe(crm, receiver, "AccountOpened")
    crm.open_account("rep_a", "Acme")
    receiver.script = [410]
    deliver_everything(services, clock)
    shown = crm.client.get(f"/api/v1/webhooks/{hook['id']}", headers=crm.as_("admin")).json()
    assert shown["status"] == "disabled" and shown["disabled_reason"] == "gone"
    history = crm.client.get(
        f"/api/v1/webhooks/{hook['id']}/history", headers=crm.as_("admin")
    ).json()["data"]
    assert history[-1]["type"] == "WebhookDisabled" and history[-1]["actor"] == "system"
    assert deliveries(crm, hook["id"])[0]["status"] == "failed"
    crm.open_account("rep_a", "Beta")
    services.catch_up()
    assert len(deliveries(crm, hook["id"])) == 1, "nothing is enqueued while disabled"


def test_the_url_is_checked_again_at_send_time(
    crm: Company, receiver: Receiver, services: Services, clock: FrozenClock
):
    hook = subscribe(crm, receiver, "AccountOpened")
    crm.open_account("rep_a", "Acme")
    services.deliverer.guard = UrlGuard.from_setting("")
    services.catch_up()
    services.deliverer.deliver_due()
    (entry,) = deliveries(crm, hook["id"])
    assert entry["status"] == "pending" and entry["last_error"].startswith("blocked: ")
    assert receiver.received == []


def test_after_a_rotation_both_secrets_sign_until_the_grace_period_ends(
    crm: Company, receiver: Receiver, services: Services, clock: FrozenClock
):
    hook = subscribe(crm, receiver, "AccountOpened")
    rotated = crm.client.post(
        f"/api/v1/webhooks/{hook['id']}/rotate-secret", headers=crm.as_("integrator")
    )
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    assert new_secret != hook["secret"]
    assert rotated.json()["previous_secret_valid_until"] == "2026-01-06T09:00:00Z"
    crm.open_account("rep_a", "Acme")
    deliver_everything(services, clock)
    during = receiver.received[-1]
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    for secret in (hook["secret"], new_secret):
        Verifier(secret).verify(during.body, during.headers)

    clock.advance(hours=25)
    crm.open_account("rep_a", "Beta")
    deliver_everything(services, clock)
    after = receiver.received[-1]
    assert len(after.headers["webhook-signature"].split(" ")) == 1
    Verifier(new_secret).verify(after.body, after.headers)
    with pytest.raises(WebhookVerificationError):
        Verifier(hook["secret"]).verify(after.body, after.headers)


def test_a_deliverer_killed_mid_way_loses_nothing(
    crm: Company,
    receiver: Receiver,
    services: Services,
    settings: Settings,
    clock: FrozenClock,
):
    """A first process enqueues and claims deliveries, then dies before sending them; the
    next process waits out the claims and sends every one, once."""
    hook = subscribe(crm, receiver, "AccountOpened", "AccountDetailsChanged")
    acme = crm.open_account("rep_a", "Acme")
    first = Services(settings, clock)
    try:
        first.catch_up()
        claimed = first.deliverer.claim(clock.now())
        assert [c.webhook_id for c in claimed] == [hook["id"]]
    finally:
        first.close()
    rename(crm, acme["id"], "Acme 2")
    services.catch_up()
    assert services.deliverer.deliver_due() == 0, "the dead deliverer's claim still holds"
    clock.advance(seconds=services.deliverer.lease.total_seconds())
    assert services.deliverer.deliver_due() == 2
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert ids == [d["id"] for d in deliveries(crm, hook["id"])]
    assert [r.event["data"]["version"] for r in receiver.received] == [1, 2]


def test_two_deliverers_never_send_one_delivery_at_once(
    crm: Company,
    receiver: Receiver,
    services: Services,
    settings: Settings,
    clock: FrozenClock,
):
    subscribe(crm, receiver, "AccountOpened")
    for n in range(6):
        crm.open_account("rep_a", f"Account {n}")
    other = Services(settings, clock)
    try:
        services.catch_up()
        workers = [
            threading.Thread(target=d.deliver_due) for d in (services.deliverer, other.deliverer)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        other.close()
    ids = [r.headers["webhook-id"] for r in receiver.received]
    assert len(ids) == 6 and len(set(ids)) == 6


def test_the_deliverer_thread_sends_on_its_own(
    store_url: str, receiver: Receiver, clock: FrozenClock
):
    settings = Settings(
        database_url=store_url, jwt_secret="test-secret-" + "x" * 32, webhook_allow="127.0.0.1"
    )
    services = Services(settings, clock)
    with TestClient(create_app(settings, clock=clock, services=services)) as client:
        crm = Company.build(client, settings, clock)
        subscribe(crm, receiver, "AccountOpened", who="admin")
        recorded = threading.Event()
        metrics = services.deliverer.observer

        class Spy:
            def webhook_delivery(self, outcome: str) -> None:
                metrics.webhook_delivery(outcome)
                recorded.set()

        services.deliverer.observer = Spy()
        crm.open_account("rep_a", "Acme")
        assert recorded.wait(timeout=10), "the deliverer thread sent nothing"
        assert [r.event["type"] for r in receiver.received] == ["crm.AccountOpened"]
        scraped = client.get("/metrics").text
    assert 'crm_webhook_deliveries_total{outcome="delivered"} 1.0' in scraped
