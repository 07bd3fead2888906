"""SLA policies, routing rules and queues over REST, and the customer mailer against a stub
SMTP server (socketserver, on a loopback port)."""

from __future__ import annotations

import socketserver
import threading
from email import message_from_bytes

import pytest
from sqlalchemy import select

from crm_api.application.service import CustomerMailer
from crm_api.projections.service import service_email_deliveries
from tests.sales_support import assert_problem, fields, history_types, ok
from tests.service_support import (
    POLICIES,
    QUEUES,
    RULES,
    act,
    define_policy,
    define_rule,
    form_queue,
    open_request,
)


def test_a_policy_per_priority_with_business_hours(client, company):
    policy = define_policy(
        company,
        "urgent",
        first_response_within_minutes=15,
        resolve_within_minutes=240,
        business_hours={
            "weekdays": [0, 1, 2, 3, 4],
            "start": "08:00",
            "end": "18:00",
            "timezone": "Europe/Vienna",
        },
    )
    assert policy["business_hours"] == {
        "weekdays": [0, 1, 2, 3, 4],
        "start": "08:00",
        "end": "18:00",
        "timezone": "Europe/Vienna",
    }
    again = client.post(
        POLICIES,
        json={
            "priority": "urgent",
            "first_response_within_minutes": 5,
            "resolve_within_minutes": 10,
        },
        headers=company.as_("admin"),
    )
    assert_problem(again, 409, "sla_policy_exists")
    changed = client.put(
        f"{POLICIES}/{policy['id']}",
        json={"first_response_within_minutes": 30, "resolve_within_minutes": 300},
        headers={**company.as_("manager"), "If-Match": '"1"'},
    )
    assert (ok(changed)["first_response_within_minutes"], ok(changed)["business_hours"]) == (
        30,
        None,
    )
    listed = ok(client.get(POLICIES, headers=company.as_("agent")))
    assert [(p["priority"], p["resolve_within_minutes"]) for p in listed["data"]] == [
        ("urgent", 300)
    ]
    assert history_types(company, f"{POLICIES}/{policy['id']}") == [
        "SlaPolicyDefined",
        "SlaPolicyTermsChanged",
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"first_response_within_minutes": 60, "resolve_within_minutes": 30},
            "resolve_within_minutes",
        ),
        (
            {
                "first_response_within_minutes": 1,
                "resolve_within_minutes": 2,
                "business_hours": {
                    "weekdays": [0],
                    "start": "09:00",
                    "end": "17:00",
                    "timezone": "Nowhere/City",
                },
            },
            "business_hours.timezone",
        ),
    ],
)
def test_bad_policies_name_the_field(client, company, body, field):
    response = client.post(POLICIES, json={"priority": "low", **body}, headers=company.as_("admin"))
    assert fields(assert_problem(response, 422, "validation_failed")) == [field]


def test_only_admins_and_managers_manage_routing(client, company):
    for who in ("rep_a", "agent"):
        response = client.post(
            QUEUES, json={"name": "Q", "member_ids": []}, headers=company.as_(who)
        )
        assert_problem(response, 403, "forbidden")
    bad_member = client.post(
        QUEUES,
        json={"name": "Q", "member_ids": [company.ids["rep_a"]]},
        headers=company.as_("manager"),
    )
    assert fields(assert_problem(bad_member, 422, "validation_failed")) == ["member_ids[0]"]
    both = client.post(
        RULES,
        json={
            "name": "r",
            "position": 1,
            "assignee_id": company.ids["agent"],
            "queue_id": company.ids["agent"],
        },
        headers=company.as_("admin"),
    )
    assert_problem(both, 422, "validation_failed")


def test_rules_are_listed_by_position_changed_and_retired(client, company):
    queue = form_queue(company, "Hotline", "agent")
    late = define_rule(company, "late", 20, queue_id=queue["id"])
    early = define_rule(
        company, "early", 10, conditions={"kinds": ["fault"]}, assignee_id=company.ids["agent"]
    )
    listed = ok(client.get(RULES, headers=company.as_("auditor")))
    assert [r["name"] for r in listed["data"]] == ["early", "late"]
    moved = client.patch(
        f"{RULES}/{late['id']}",
        json={"position": 5},
        headers={**company.as_("admin"), "If-Match": '"1"'},
    )
    assert ok(moved)["position"] == 5
    retired = ok(client.post(f"{RULES}/{early['id']}/retire", headers=company.as_("manager")))
    assert retired["active"] is False
    assert_problem(
        client.post(f"{RULES}/{early['id']}/retire", headers=company.as_("manager")),
        409,
        "invalid_state",
    )
    account = company.open_account("rep_a")
    request = open_request(company, "rep_a", account["id"])
    assert (request["queue_id"], request["routed_by_rule_id"]) == (queue["id"], late["id"])
    active = ok(client.get(RULES, params={"active": "true"}, headers=company.as_("admin")))
    assert [r["id"] for r in active["data"]] == [late["id"]]


def test_a_queue_keeps_its_turn_order_and_last_pick(client, company):
    queue = form_queue(company, "Hotline", "agent")
    define_rule(company, "all", 1, queue_id=queue["id"])
    account = company.open_account("rep_a")
    open_request(company, "rep_a", account["id"])
    read = ok(client.get(f"{QUEUES}/{queue['id']}", headers=company.as_("agent")))
    assert (read["member_ids"], read["last_picked"]) == (
        [company.ids["agent"]],
        company.ids["agent"],
    )
    listed = ok(client.get(QUEUES, headers=company.as_("agent")))
    assert listed["data"][0]["last_picked"] == company.ids["agent"]


class _SmtpStub(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: every command accepted, DATA kept."""

    received: list[bytes] = []

    def handle(self) -> None:
        self.wfile.write(b"220 stub\r\n")
        while line := self.rfile.readline():
            verb = line[:4].upper()
            if verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                data = b""
                while (chunk := self.rfile.readline()) != b".\r\n":
                    data += chunk
                self.received.append(data)
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_stub():
    _SmtpStub.received = []
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpStub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], _SmtpStub.received
    server.shutdown()
    server.server_close()


def notified_request(client, company):
    account = company.open_account("rep_a")
    rid = open_request(company, "rep_a", account["id"])["id"]
    ok(act(company, "manager", rid, "assign", {"assignee_id": company.ids["agent"]}))
    ok(act(company, "agent", rid, "notify", {"to": "ann@example.com", "message": "On our way"}))
    return rid


def mailer(services, clock, port):
    return CustomerMailer(
        reader=services.engine,
        writer=services.writer,
        clock=clock,
        host="127.0.0.1",
        port=port,
        sender="service@example.com",
        timeout=2,
    )


def test_the_mailer_sends_each_recorded_notification_once(
    client, company, services, clock, smtp_stub
):
    port, received = smtp_stub
    notified_request(client, company)
    sender = mailer(services, clock, port)
    assert sender.deliver_due() == 1
    assert sender.deliver_due() == 0
    email = message_from_bytes(received[0])
    assert (email["To"], email["From"]) == ("ann@example.com", "service@example.com")
    assert "On our way" in email.get_payload()


def test_a_failed_send_is_retried_later_not_faked(client, company, services, clock):
    with socketserver.TCPServer(("127.0.0.1", 0), _SmtpStub) as closed:
        port = closed.server_address[1]
    notified_request(client, company)
    sender = mailer(services, clock, port)
    assert sender.deliver_due() == 0
    with services.read() as conn:
        row = conn.execute(select(service_email_deliveries)).one()
    assert (row.status, row.attempts) == ("retrying", 1)
    assert sender.deliver_due() == 0
    clock.advance(minutes=1)
    sender.deliver_due()
    with services.read() as conn:
        assert conn.execute(select(service_email_deliveries)).one().attempts == 2
