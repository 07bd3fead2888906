"""Inbound email: replies thread to their request (by the Message-IDs we sent or received, or
the subject's reference from the contact's address), a known contact's new email opens a
request, a stranger's waits in the unmatched inbox, and a second delivery records nothing."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from crm_api.settings import Settings
from tests.sales_support import assert_problem, history_types, ok
from tests.service_support import REQUESTS, act, open_request, settings_with_blobs
from tests.support import Company

INBOUND = "/api/v1/inbound/email"
UNMATCHED = "/api/v1/inbound/unmatched"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x01" * 50
SECRET = "My new number is 0170 5551234"


@pytest.fixture
def settings(store_url: str, tmp_path: Path) -> Settings:
    return settings_with_blobs(store_url, tmp_path)


@pytest.fixture
def gateway(company: Company) -> dict[str, str]:
    response = company.client.post(
        "/api/v1/api-keys",
        json={"name": "mail gateway", "role": "integrator", "scopes": ["inbound:write"]},
        headers=company.as_("admin"),
    )
    return {"Authorization": f"Bearer {ok(response, 201)['token']}"}


@pytest.fixture
def customer(company: Company) -> dict[str, Any]:
    account = company.open_account("rep_a")
    response = company.client.post(
        "/api/v1/contacts",
        json={"account_id": account["id"], "name": "Jane Roe", "email": "jane@example.com"},
        headers=company.as_("rep_a"),
    )
    return {"account": account, "contact": ok(response, 201)}


def deliver(company: Company, gateway: dict[str, str], **email: Any) -> Any:
    email.setdefault("from", "Jane Roe <JANE@example.com>")
    email.setdefault("subject", "Help")
    email.setdefault("text", "It beeps.")
    return company.client.post(INBOUND, json=email, headers=gateway)


def request_of(company: Company, rid: str) -> dict[str, Any]:
    return ok(company.client.get(f"{REQUESTS}/{rid}", headers=company.as_("rep_a")))


def waiting_request(company: Company, customer: dict[str, Any]) -> dict[str, Any]:
    """A request of the customer's, waiting on the customer, notified of it."""
    rid = open_request(
        company, "rep_a", customer["account"]["id"], contact_id=customer["contact"]["id"]
    )["id"]
    ok(act(company, "manager", rid, "assign", {"assignee_id": company.ids["agent"]}))
    ok(act(company, "agent", rid, "start"))
    ok(act(company, "agent", rid, "wait-on-customer", {"reason": "a photo please"}))
    return ok(act(company, "agent", rid, "notify", {"message": "Please send a photo."}))


def test_a_reply_to_our_notification_threads_and_resumes_the_request(
    company: Company, gateway, customer
) -> None:
    request = waiting_request(company, customer)
    sent = f"<{request['notifications'][0]['id']}@crm-api>"
    response = deliver(
        company,
        gateway,
        subject="Re: your request",
        text="Here it is.",
        message_id="<r1@mail.example>",
        in_reply_to=sent,
    )
    assert ok(response) == {"outcome": "threaded", "service_request_id": request["id"]}
    assert "X-Log-Position" in response.headers
    after = request_of(company, request["id"])
    assert after["state"] == "in_progress"
    assert after["messages"][-1]["kind"] == "customer"
    assert after["messages"][-1]["text"] == "Here it is."
    assert history_types(company, f"{REQUESTS}/{request['id']}")[-2:] == [
        "ServiceRequestCustomerMessageReceived",
        "ServiceRequestResumed",
    ]
    # a later message referring to the thread only through References joins it too
    again = deliver(
        company,
        gateway,
        message_id="<r2@mail.example>",
        references=["<unknown@x>", "<r1@mail.example>"],
    )
    assert ok(again)["outcome"] == "threaded"
    assert ok(again)["service_request_id"] == request["id"]


def test_the_subject_reference_threads_only_from_the_contacts_address(
    company: Company, gateway, customer
) -> None:
    request = waiting_request(company, customer)
    subject = request["notifications"][0]["subject"]
    reference = f"SR-{request['id'][:8]}"
    assert subject.startswith(f"[{reference}]")
    by_contact = deliver(company, gateway, subject=f"Re: {subject}", message_id="<s1@mail>")
    assert ok(by_contact)["service_request_id"] == request["id"]
    stranger = deliver(
        company,
        gateway,
        **{"from": "mallory@evil.example"},
        subject=f"Re: [{reference}] close this",
        message_id="<s2@mail>",
    )
    assert ok(stranger, 201)["outcome"] == "unmatched"


def test_a_known_contacts_new_email_opens_an_inquiry(company: Company, gateway, customer) -> None:
    answer = ok(deliver(company, gateway, subject="Broken", message_id="<n1@mail>"), 201)
    assert answer["outcome"] == "opened"
    opened = request_of(company, answer["service_request_id"])
    assert (opened["kind"], opened["channel"], opened["subject"]) == ("inquiry", "email", "Broken")
    assert (opened["contact_id"], opened["account_id"]) == (
        customer["contact"]["id"],
        customer["account"]["id"],
    )
    assert [m["kind"] for m in opened["messages"]] == ["customer"]
    assert opened["description"] is None


def test_a_second_delivery_is_a_duplicate_and_records_nothing(
    company: Company, gateway, customer
) -> None:
    first = ok(deliver(company, gateway, message_id="<d1@mail>"), 201)
    rid = first["service_request_id"]
    before = history_types(company, f"{REQUESTS}/{rid}")
    again = ok(deliver(company, gateway, message_id="<d1@mail>"))
    assert again == {"outcome": "duplicate", "service_request_id": rid}
    assert history_types(company, f"{REQUESTS}/{rid}") == before
    listed = ok(company.client.get(REQUESTS, headers=company.as_("rep_a")))
    assert len(listed["data"]) == 1


def test_a_strangers_email_waits_unmatched_until_a_manager_links_it(
    company: Company, gateway, customer
) -> None:
    held = ok(deliver(company, gateway, **{"from": "new@else.example"}, message_id="<u1@m>"), 201)
    assert held["outcome"] == "unmatched" and "service_request_id" not in held
    assert_problem(company.client.get(UNMATCHED, headers=company.as_("rep_a")), 403, "forbidden")
    inbox = ok(company.client.get(UNMATCHED, headers=company.as_("manager")))["data"]
    assert [(m["id"], m["sender"], m["status"]) for m in inbox] == [
        (held["inbound_id"], "new@else.example", "unmatched")
    ]
    request = waiting_request(company, customer)
    linked = ok(
        company.client.post(
            f"{UNMATCHED}/{held['inbound_id']}/link",
            json={"service_request_id": request["id"]},
            headers=company.as_("manager"),
        )
    )
    assert (linked["status"], linked["linked_request_id"]) == ("linked", request["id"])
    assert request_of(company, request["id"])["state"] == "in_progress"
    assert ok(company.client.get(UNMATCHED, headers=company.as_("manager")))["data"] == []
    again = company.client.post(
        f"{UNMATCHED}/{held['inbound_id']}/link",
        json={"service_request_id": request["id"]},
        headers=company.as_("manager"),
    )
    assert_problem(again, 409, "already_linked")


def test_a_raw_message_with_an_attachment_keeps_the_file(
    company: Company, gateway, customer
) -> None:
    message = EmailMessage()
    message["From"] = "jane@example.com"
    message["To"] = "support@crm.example"
    message["Subject"] = "Photo of the fault"
    message["Message-ID"] = "<raw-1@mail.example>"
    message.set_content("See the photo.")
    message.add_attachment(PNG, maintype="image", subtype="png", filename="fault.png")
    response = company.client.post(
        INBOUND,
        content=message.as_bytes(),
        headers={**gateway, "Content-Type": "message/rfc822"},
    )
    rid = ok(response, 201)["service_request_id"]
    [attachment] = request_of(company, rid)["attachments"]
    assert (attachment["filename"], attachment["content_type"]) == ("fault.png", "image/png")
    download = company.client.get(
        f"{REQUESTS}/{rid}/attachments/{attachment['id']}", headers=company.as_("rep_a")
    )
    assert download.content == PNG
    assert history_types(company, f"{REQUESTS}/{rid}")[-2:] == [
        "ServiceRequestCustomerMessageReceived",
        "ServiceRequestAttachmentAdded",
    ]


def test_only_a_gateway_posts_email_and_only_email_or_json(company: Company, gateway) -> None:
    assert_problem(deliver(company, {**company.as_("rep_a")}), 403, "forbidden")
    odd = company.client.post(
        INBOUND, content=b"hello", headers={**gateway, "Content-Type": "text/plain"}
    )
    assert_problem(odd, 415, "unsupported_media_type")
    assert_problem(
        deliver(company, gateway, **{"from": "not an address"}), 422, "validation_failed"
    )


def upload(company: Company, rid: str, content: bytes) -> dict[str, Any]:
    response = company.client.post(
        f"{REQUESTS}/{rid}/attachments",
        files={"file": ("scan.png", content, "image/png")},
        headers=company.as_("rep_a"),
    )
    return ok(response, 201)


def test_erasing_the_contact_erases_its_messages_and_the_files_only_it_holds(
    company: Company, gateway, customer, services, settings
) -> None:
    rid = ok(deliver(company, gateway, text=SECRET, message_id="<e1@mail>"), 201)[
        "service_request_id"
    ]
    own = upload(company, rid, PNG + b"own")
    shared = upload(company, rid, PNG)
    other = open_request(company, "rep_a", customer["account"]["id"], subject="No contact")
    upload(company, other["id"], PNG)
    erased = company.client.post(
        f"/api/v1/contacts/{customer['contact']['id']}/erase",
        json={"reason": "subject_request"},
        headers=company.as_("admin"),
    )
    ok(erased)
    history = ok(company.client.get(f"{REQUESTS}/{rid}/history", headers=company.as_("auditor")))
    [received] = [e for e in history["data"] if e["type"].endswith("CustomerMessageReceived")]
    assert (received["data"]["sender"], received["data"]["body"]) == ("[erased]", "[erased]")
    assert request_of(company, rid)["messages"][0]["text"] == "[erased]"
    stored = [bytes(e.state) for e in services.app.recorder.select_events(UUID(rid))]
    assert all(SECRET.encode() not in state for state in stored)
    assert all(b"jane@example.com" not in state.lower() for state in stored)
    url = f"{REQUESTS}/{rid}/attachments"
    gone = company.client.get(f"{url}/{own['id']}", headers=company.as_("rep_a"))
    assert_problem(gone, 404, "not_found")
    kept = company.client.get(f"{url}/{shared['id']}", headers=company.as_("rep_a"))
    assert kept.content == PNG
    assert sorted(p.name for p in Path(settings.blob_dir).rglob("*") if p.is_file()) == [
        shared["sha256"]
    ]
