"""The event feed: every event in log order as CloudEvents 1.0, gapless and resumable by
position, for the roles that read everything."""

from __future__ import annotations

import json
import threading
from typing import Any

from crm_api.application.app import CommandContext
from crm_api.application.services import Services
from crm_api.domain.people import Principal, Role
from tests.support import Company


def feed(company: Company, who: str = "admin", **params: Any) -> dict[str, Any]:
    response = company.client.get("/api/v1/events", params=params, headers=company.as_(who))
    assert response.status_code == 200, response.text
    return response.json()


def test_the_feed_is_the_log_as_cloudevents(company: Company):
    account = company.open_account("rep_a", "Acme", phone="+1 555 0100")
    page = feed(company, limit=1000)
    positions = [e["data"]["position"] for e in page["data"]]
    assert positions == list(range(1, page["head"] + 1))
    assert page["next_after"] == page["head"] and page["has_more"] is False
    opened = page["data"][-1]
    assert opened == {
        "specversion": "1.0",
        "id": opened["id"],
        "source": "/crm/live",
        "type": "crm.AccountOpened",
        "subject": account["id"],
        "time": "2026-01-05T09:00:00Z",
        "datacontenttype": "application/json",
        "data": {
            "record_id": account["id"],
            "record_type": "account",
            "version": 1,
            "position": page["head"],
            "occurred_at": "2026-01-05T09:00:00+00:00",
            "actor": company.ids["rep_a"],
            "actor_type": "user",
            "on_behalf_of": None,
            "correlation_id": opened["data"]["correlation_id"],
            "payload": {
                "name": "Acme",
                "owner_id": company.ids["rep_a"],
                "industry": None,
                "phone": "+1 555 0100",
                "address": None,
                "manual_grade": None,
            },
        },
    }
    again = feed(company, after=page["head"] - 1)
    assert again["data"] == [opened], "ids and bodies are stable across reads"


def test_pages_resume_from_next_after(company: Company):
    head = feed(company)["head"]
    seen: list[int] = []
    after = 0
    while True:
        page = feed(company, after=after, limit=3)
        seen += [e["data"]["position"] for e in page["data"]]
        after = page["next_after"]
        if not page["has_more"]:
            break
        assert len(page["data"]) == 3
    assert seen == list(range(1, head + 1))
    empty = feed(company, after=head)
    assert empty == {"data": [], "next_after": head, "has_more": False, "head": head}


def test_types_filter_the_feed(company: Company):
    company.open_account("rep_a", "Acme")
    company.open_account("rep_b", "Beta")
    page = feed(company, types="AccountOpened, crm.TeamFormed")
    assert [e["type"] for e in page["data"]] == [
        "crm.TeamFormed",
        "crm.AccountOpened",
        "crm.AccountOpened",
    ]
    first = feed(company, types="AccountOpened", limit=1)
    assert first["has_more"] is True
    rest = feed(company, types="AccountOpened", after=first["next_after"])
    assert [e["data"]["payload"]["name"] for e in first["data"] + rest["data"]] == ["Acme", "Beta"]


def test_unknown_types_are_refused_naming_types(company: Company):
    response = company.client.get(
        "/api/v1/events",
        params={"types": "AccountOpened,NoSuchThing"},
        headers=company.as_("admin"),
    )
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "types", "message": "unknown event type(s): NoSuchThing"}
    ]


def test_only_roles_that_read_everything_follow_the_feed(company: Company):
    company.add_user("integrator", role="integrator")
    for who in ("admin", "auditor", "integrator"):
        assert company.client.get("/api/v1/events", headers=company.as_(who)).status_code == 200
    for who in ("rep_a", "manager", "assistant", "agent"):
        assert company.client.get("/api/v1/events", headers=company.as_(who)).status_code == 403
    assert company.client.get("/api/v1/events").status_code == 401


def test_an_api_key_needs_the_events_scope(company: Company):
    keys = {}
    for scopes in (["events:read"], ["accounts:read"]):
        created = company.client.post(
            "/api/v1/api-keys",
            json={"name": scopes[0], "role": "integrator", "scopes": scopes},
            headers=company.as_("admin"),
        )
        assert created.status_code == 201, created.text
        keys[scopes[0]] = created.json()["token"]
    allowed = company.client.get(
        "/api/v1/events", headers={"Authorization": f"Bearer {keys['events:read']}"}
    )
    refused = company.client.get(
        "/api/v1/events", headers={"Authorization": f"Bearer {keys['accounts:read']}"}
    )
    assert allowed.status_code == 200
    assert refused.status_code == 403 and refused.json()["code"] == "insufficient_scope"


def test_the_feed_is_gapless_and_in_order_under_concurrent_writers(
    company: Company, services: Services
):
    """Writers in several threads; a reader pages meanwhile. It never sees a position before
    the one preceding it, and once the writers stop it has read exactly 1..head."""
    rep = Principal(id=company.ids["rep_a"], kind="user", role=Role.REP, visible_owners=None)
    writers, per_writer = 4, 25
    done = threading.Event()
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            for i in range(per_writer):
                ctx = CommandContext(rep, f"feed-test-{n}-{i}", f"feed-test-{n}")
                services.accounts.open_account(
                    ctx,
                    name=f"A{n}-{i}",
                    owner_id=company.ids["rep_a"],
                    industry=None,
                    phone=None,
                    address=None,
                    manual_grade=None,
                )
        except BaseException as error:
            errors.append(error)

    read: list[int] = []

    def read_pages() -> None:
        after = 0
        try:
            while True:
                finished = done.is_set()
                page = services.feed.page(after, 7)
                got = [json.loads(chunk)["data"]["position"] for chunk in page.events]
                assert got == list(range(after + 1, after + 1 + len(got))), (after, got)
                read.extend(got)
                after = page.next_after
                if finished and not page.has_more and after == services.app.head():
                    return
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(writers)]
    reader = threading.Thread(target=read_pages)
    reader.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done.set()
    reader.join(timeout=60)
    assert not errors, errors
    assert read == list(range(1, services.app.head() + 1))
    assert len(read) >= writers * per_writer
