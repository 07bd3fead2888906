"""The access-control matrix: for every REST route and GraphQL root field, who may call it on
whose record, and what a caller that may not gets (OWASP API1 object level, API5 function level).

Expectations come from /work/shared/API.md ("401 without a valid token, 403 for a role that may
not call the function, 404 for a record the caller may not see") and the docs under docs/.

Callers (ROLES): an admin user; the manager of team North (rep A and rep B); rep A; the
assistant of rep A (acting for it with X-On-Behalf-Of); the auditor; the service agent (rep A's
service request is assigned to it, rep C's to another agent); and API keys of role integrator,
auditor and service_agent with every scope ("*").

Sides: "own" is a record of rep A's (so the manager's own team's, the assistant's rep's); "other"
is the same kind of record owned by rep C (another team). Records no rep owns (users, products,
webhooks, ...) are the same on both sides, or the side names whose they are (users, teams).

An outcome is OK (the call is allowed: any 2xx, or one of the route's `Call.conflicts`, e.g.
409 for a command an earlier case already ran), 403 (with a problem code), 404 `not_found`, or
REF (422 `validation_failed`: the body refers to a record the caller may not see; existence
doesn't leak, the reference just doesn't resolve). Batch routes (orders:batch, sync) answer 200
with a result per item: the item's status is the outcome.

The world (`World.build`) makes, through the API, one record of each kind per side, and each
REST route names how to fill its path (PARAM_KINDS), its body (a VALID one: FastAPI validates
before the handler, so an invalid body would hide the decision) and, for destructive commands,
a fresh record per case.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

from tests.support import Company, bearer

API = "/api/v1"

OK = "ok"
FORBIDDEN = 403
NOT_FOUND = 404
REF = 422

ROLES = (
    "admin",
    "manager",
    "rep",
    "assistant",
    "auditor",
    "agent",
    "integrator_key",
    "auditor_key",
    "agent_key",
)
SIDES = ("own", "other")

Outcome = str | int
Policy = dict[str, tuple[Outcome, Outcome]]


def policy(**rules: str) -> Policy:
    """policy(admin="ok", rep="ok/404", ...): one outcome for both sides, or own/other.
    `rest="403"` fills the roles not named."""
    rest = rules.pop("rest", None)
    table: Policy = {}
    for role in ROLES:
        text = rules.pop(role, rest)
        if text is None:
            raise ValueError(f"policy has no outcome for {role}")
        own, _, other = text.partition("/")
        table[role] = (_outcome(own), _outcome(other or own))
    if rules:
        raise ValueError(f"unknown roles {sorted(rules)}")
    return table


def _outcome(text: str) -> Outcome:
    return OK if text == "ok" else REF if text == "ref" else int(text)


# policies: role -> (outcome on rep A's record, outcome on rep C's record)

PUBLIC = policy(rest="ok")
"""Probes and metrics: no token needed at all."""
READ_ALL_ROLES = policy(rest="ok")
"""Every caller; lists are filtered to what the caller sees, reference data is everyone's."""
OWNED_RECORD_READ = policy(
    admin="ok", manager="ok/404", rep="ok/404", assistant="ok/404", rest="ok"
)
"""A rep's records: its own, its manager's team's, its assistant's; roles that read all."""
OWNED_RECORD_WRITE = policy(
    admin="ok", manager="ok/404", rep="ok/404", assistant="ok/404", rest="403"
)
"""Changing a rep's record; auditors read only, agents and integrators don't do sales."""
OWNED_RECORD_WRITE_INTEGRATOR = {**OWNED_RECORD_WRITE, "integrator_key": (OK, OK)}
"""Orders, shipments, invoices, payments, activities: an integrator keeps them in step too."""
OWNED_RECORD_CREATE = policy(
    admin="ok", manager="ok/ref", rep="ok/ref", assistant="ok/ref", rest="403"
)
"""A new record under a rep's account: another team's account is an unknown reference (422)."""
OWNED_RECORD_CREATE_INTEGRATOR = {**OWNED_RECORD_CREATE, "integrator_key": (OK, OK)}
OWNER_CREATE = policy(admin="ok", manager="ok/403", rep="ok/403", assistant="ok/403", rest="403")
"""A record whose owner is named (accounts, forecasts): not for an owner one doesn't act for."""
ADMIN_ONLY = policy(admin="ok", rest="403")
CATALOGUE_WRITE = policy(admin="ok", integrator_key="ok", rest="403")
"""Products, webhooks and inbound mail: the admin and integrators' keys."""
FEED_READ = policy(admin="ok", auditor="ok", integrator_key="ok", auditor_key="ok", rest="403")
"""The event feed and webhook subscriptions."""
OPERATIONS_READ = policy(admin="ok", auditor="ok", auditor_key="ok", rest="403")
TEAM_LEAD = policy(admin="ok", manager="ok", rest="403")
"""Service set-up (queues, routing, SLA), the unmatched inbox, missing work plans."""
TRANSFER = policy(admin="ok", manager="ok/404", rest="403")
"""Ownership transfer is a manager's command (and the admin's)."""
QUOTE_DECISION = policy(manager="ok/404", rest="403")
"""Only managers approve or reject (their approval limit is the authority)."""
WORK_RECORD_READ = policy(
    admin="ok",
    manager="ok/404",
    rep="ok/404",
    assistant="ok/404",
    auditor="ok",
    auditor_key="ok",
    rest="403",
)
"""Tasks, work plans, meeting notices, matter reports: people's daily work."""
WORK_LIST = policy(
    admin="ok", manager="ok", rep="ok", assistant="ok", auditor="ok", auditor_key="ok", rest="403"
)
ACTIVITY_READ = {**WORK_RECORD_READ, "integrator_key": (OK, OK)}
ACTIVITY_LIST = {**WORK_LIST, "integrator_key": (OK, OK)}
WORK_CREATE = policy(admin="ok", manager="ok", rep="ok", assistant="ok", rest="403")
PLAN_CREATE = policy(admin="ref", manager="ok", rep="ok", assistant="ok", rest="403")
"""A work plan's author is a manager or rep: an admin's plan is refused (owner_id, 422)."""
AUTHOR_ONLY = policy(admin="403", manager="403/404", rep="ok/404", assistant="ok/404", rest="403")
"""The plan's author (or its assistant) changes, submits and reports on it."""
REVIEWER = policy(admin="ok", manager="ok/404", rep="403/404", assistant="403/404", rest="403")
"""Reviewing work plans and reassigning tasks: the manager of the team (and the admin)."""
ATTENDEE_ONLY = policy(rep="ok/404", manager="403/404", rest="403")
"""Only an attendee acknowledges a notice, itself, never through an assistant."""
ADDRESSEE_ONLY = policy(admin="ok", manager="ok/404", rep="403/404", rest="403")
"""A matter report is acknowledged by the author's manager (or an admin)."""
SERVICE_LIST = policy(integrator_key="403", rest="ok")
SERVICE_SETUP_READ = SERVICE_LIST
ASSET_READ = {**OWNED_RECORD_READ, "integrator_key": (FORBIDDEN, FORBIDDEN)}
REQUEST_READ = {
    **ASSET_READ,
    "agent": (OK, NOT_FOUND),
    "agent_key": (NOT_FOUND, NOT_FOUND),
}
"""A service agent sees the requests assigned to it (rep A's is; rep C's isn't)."""
REQUEST_OPEN = {**OWNED_RECORD_CREATE, "agent": (OK, OK), "agent_key": (OK, OK)}
REQUEST_CONTRIBUTE = {
    **OWNED_RECORD_WRITE,
    "agent": (OK, NOT_FOUND),
    "agent_key": (NOT_FOUND, NOT_FOUND),
}
"""Notes, attachments, the customer's evaluation: whoever sees the request, auditors aside."""
REQUEST_WORK = {
    **REQUEST_CONTRIBUTE,
    "rep": (FORBIDDEN, FORBIDDEN),
    "assistant": (FORBIDDEN, FORBIDDEN),
}
"""Working a request (start, wait, resolve, close, reply): service agents and managers."""
REQUEST_ASSIGN = TRANSFER
ALERT_READ = {
    **OWNED_RECORD_READ,
    "agent": (NOT_FOUND, NOT_FOUND),
    "agent_key": (NOT_FOUND, NOT_FOUND),
}
"""An account's dormancy alert: whoever sees the account's owner (agents see SLA alerts)."""
ALERT_ACKNOWLEDGE = {
    **ALERT_READ,
    "auditor": (FORBIDDEN, FORBIDDEN),
    "integrator_key": (FORBIDDEN, FORBIDDEN),
    "auditor_key": (FORBIDDEN, FORBIDDEN),
}
PERSONAL_EXPORT = policy(agent="403", integrator_key="403", agent_key="403", rest="ok")
EXPORT_KPI = policy(admin="ok", manager="ok", auditor="ok", auditor_key="ok", rest="403")
MARGINS = policy(manager="403", rep="403", assistant="403", rest="ok")
"""Margins span every account: only roles that read all accounts (docs/analytics.md)."""
INBOUND_LINK = policy(admin="ok", manager="ok/ref", rest="403")


# the rule of every REST route ("METHOD path" as the app declares it)

REST_GROUPS: list[tuple[Policy, list[str]]] = [
    (
        PUBLIC,
        [
            "GET /health",
            "GET /metrics",
            "GET /ready",
        ],
    ),
    (
        READ_ALL_ROLES,
        [
            "GET /api/v1/field-definitions",
            "GET /api/v1/field-definitions/{field_id}",
            "GET /api/v1/field-definitions/{field_id}/history",
            "GET /api/v1/accounts",
            "GET /api/v1/alerts",
            "GET /api/v1/analytics/customer-value",
            "GET /api/v1/analytics/forecast-vs-actual",
            "GET /api/v1/analytics/funnel",
            "GET /api/v1/analytics/grades",
            "GET /api/v1/analytics/pareto",
            "GET /api/v1/analytics/service-by-product",
            "GET /api/v1/analytics/top-customers",
            "GET /api/v1/contacts",
            "GET /api/v1/forecasts",
            "GET /api/v1/invoices",
            "GET /api/v1/kpis/data-entry",
            "GET /api/v1/kpis/service",
            "GET /api/v1/kpis/service/complaint-rates",
            "GET /api/v1/me",
            "GET /api/v1/opportunities",
            "GET /api/v1/orders",
            "GET /api/v1/payments",
            "GET /api/v1/products",
            "GET /api/v1/products/{product_id}",
            "GET /api/v1/products/{product_id}/history",
            "GET /api/v1/quotes",
            "GET /api/v1/receivables",
            "GET /api/v1/receivables/overdue",
            "GET /api/v1/teams",
            "GET /api/v1/teams/{team_id}",
            "GET /api/v1/teams/{team_id}/history",
            "GET /api/v1/users",
            "GET /api/v1/users/{user_id}",
            "GET /api/v1/users/{user_id}/history",
        ],
    ),
    (
        OWNED_RECORD_READ,
        [
            "GET /api/v1/accounts/{account_id}",
            "GET /api/v1/accounts/{account_id}/contacts",
            "GET /api/v1/accounts/{account_id}/history",
            "GET /api/v1/contacts/{contact_id}",
            "GET /api/v1/contacts/{contact_id}/history",
            "GET /api/v1/forecasts/{forecast_id}",
            "GET /api/v1/forecasts/{forecast_id}/history",
            "GET /api/v1/invoices/{invoice_id}",
            "GET /api/v1/invoices/{invoice_id}/history",
            "GET /api/v1/invoices/{invoice_id}/payments",
            "GET /api/v1/opportunities/{opportunity_id}",
            "GET /api/v1/opportunities/{opportunity_id}/history",
            "GET /api/v1/orders/{order_id}",
            "GET /api/v1/orders/{order_id}/fulfilment",
            "GET /api/v1/orders/{order_id}/history",
            "GET /api/v1/orders/{order_id}/shipments",
            "GET /api/v1/payments/{payment_id}",
            "GET /api/v1/quotes/{quote_id}",
            "GET /api/v1/quotes/{quote_id}/history",
            "GET /api/v1/shipments/{shipment_id}",
            "GET /api/v1/shipments/{shipment_id}/history",
        ],
    ),
    (
        OWNED_RECORD_WRITE,
        [
            "PATCH /api/v1/quotes/{quote_id}",
            "PATCH /api/v1/accounts/{account_id}",
            "POST /api/v1/accounts/{account_id}/archive",
            "POST /api/v1/accounts/{account_id}/restore",
            "PATCH /api/v1/assets/{asset_id}",
            "PATCH /api/v1/contacts/{contact_id}",
            "POST /api/v1/contacts/{contact_id}/archive",
            "POST /api/v1/contacts/{contact_id}/restore",
            "POST /api/v1/meeting-notices/{notice_id}/cancel",
            "PATCH /api/v1/opportunities/{opportunity_id}",
            "POST /api/v1/opportunities/{opportunity_id}/lose",
            "POST /api/v1/opportunities/{opportunity_id}/reopen",
            "POST /api/v1/opportunities/{opportunity_id}/stage",
            "POST /api/v1/opportunities/{opportunity_id}/win",
            "POST /api/v1/quotes/{quote_id}/accept",
            "POST /api/v1/quotes/{quote_id}/expire",
            "POST /api/v1/quotes/{quote_id}/reject",
            "POST /api/v1/quotes/{quote_id}/revise",
            "POST /api/v1/quotes/{quote_id}/send",
            "POST /api/v1/quotes/{quote_id}/submit",
            "POST /api/v1/quotes/{quote_id}/withdraw",
            "POST /api/v1/sync",
            "PATCH /api/v1/tasks/{task_id}",
            "POST /api/v1/tasks/{task_id}/cancel",
            "POST /api/v1/tasks/{task_id}/complete",
            "POST /api/v1/tasks/{task_id}/reopen",
            "POST /api/v1/work-plans/{plan_id}/comments",
        ],
    ),
    (
        OWNED_RECORD_WRITE_INTEGRATOR,
        [
            "PATCH /api/v1/activities/{activity_id}",
            "POST /api/v1/invoices/{invoice_id}/payments",
            "POST /api/v1/invoices/{invoice_id}/void",
            "PATCH /api/v1/orders/{order_id}",
            "POST /api/v1/orders/{order_id}/cancel",
            "POST /api/v1/orders/{order_id}/shipments",
            "POST /api/v1/shipments/{shipment_id}/deliver",
            "POST /api/v1/shipments/{shipment_id}/track",
        ],
    ),
    (
        OWNED_RECORD_CREATE,
        [
            "POST /api/v1/assets",
            "POST /api/v1/contacts",
            "POST /api/v1/opportunities",
            "POST /api/v1/quotes",
        ],
    ),
    (
        OWNED_RECORD_CREATE_INTEGRATOR,
        [
            "POST /api/v1/activities",
            "POST /api/v1/invoices",
            "POST /api/v1/orders",
            "POST /api/v1/orders:batch",
        ],
    ),
    (
        OWNER_CREATE,
        [
            "POST /api/v1/accounts",
            "PUT /api/v1/forecasts/{owner_id}/{period}",
            "POST /api/v1/tasks",
        ],
    ),
    (
        TRANSFER,
        [
            "POST /api/v1/accounts/{account_id}/transfer",
        ],
    ),
    (
        QUOTE_DECISION,
        [
            "POST /api/v1/quotes/{quote_id}/approve",
        ],
    ),
    (
        ADMIN_ONLY,
        [
            "POST /api/v1/field-definitions",
            "GET /api/v1/field-definitions/{field_id}/violations",
            "PATCH /api/v1/field-definitions/{field_id}",
            "POST /api/v1/field-definitions/{field_id}/retire",
            "POST /api/v1/alerts:tick",
            "GET /api/v1/api-keys",
            "POST /api/v1/api-keys",
            "POST /api/v1/api-keys/{key_id}/revoke",
            "POST /api/v1/contacts/{contact_id}/erase",
            "POST /api/v1/projections/{name}/pause",
            "POST /api/v1/projections/{name}/resume",
            "POST /api/v1/teams",
            "PATCH /api/v1/teams/{team_id}",
            "POST /api/v1/users",
            "PATCH /api/v1/users/{user_id}",
            "POST /api/v1/users/{user_id}/deactivate",
            "POST /api/v1/users/{user_id}/reactivate",
        ],
    ),
    (
        CATALOGUE_WRITE,
        [
            "POST /api/v1/inbound/email",
            "POST /api/v1/products",
            "PUT /api/v1/products/by-sku/{sku}",
            "PATCH /api/v1/products/{product_id}",
            "POST /api/v1/products/{product_id}/discontinue",
            "POST /api/v1/products/{product_id}/prices",
            "POST /api/v1/products/{product_id}/reinstate",
            "POST /api/v1/webhooks",
            "DELETE /api/v1/webhooks/{webhook_id}",
            "PATCH /api/v1/webhooks/{webhook_id}",
            "POST /api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
            "POST /api/v1/webhooks/{webhook_id}/rotate-secret",
        ],
    ),
    (
        FEED_READ,
        [
            "GET /api/v1/events",
            "GET /api/v1/webhooks",
            "GET /api/v1/webhooks/{webhook_id}",
            "GET /api/v1/webhooks/{webhook_id}/deliveries",
            "GET /api/v1/webhooks/{webhook_id}/history",
        ],
    ),
    (
        OPERATIONS_READ,
        [
            "GET /api/v1/projections",
        ],
    ),
    (
        TEAM_LEAD,
        [
            "GET /api/v1/inbound/unmatched",
            "POST /api/v1/queues",
            "PATCH /api/v1/queues/{queue_id}",
            "POST /api/v1/routing-rules",
            "PATCH /api/v1/routing-rules/{rule_id}",
            "POST /api/v1/routing-rules/{rule_id}/retire",
            "POST /api/v1/sla-policies",
            "PUT /api/v1/sla-policies/{policy_id}",
            "GET /api/v1/work-plans/missing",
        ],
    ),
    (
        WORK_LIST,
        [
            "GET /api/v1/matter-reports",
            "GET /api/v1/meeting-notices",
            "GET /api/v1/tasks",
            "GET /api/v1/work-plans",
        ],
    ),
    (
        WORK_RECORD_READ,
        [
            "GET /api/v1/matter-reports/{report_id}",
            "GET /api/v1/matter-reports/{report_id}/history",
            "GET /api/v1/meeting-notices/{notice_id}",
            "GET /api/v1/meeting-notices/{notice_id}/history",
            "GET /api/v1/tasks/{task_id}",
            "GET /api/v1/tasks/{task_id}/history",
            "GET /api/v1/work-plans/{plan_id}",
            "GET /api/v1/work-plans/{plan_id}/history",
        ],
    ),
    (
        ACTIVITY_LIST,
        [
            "GET /api/v1/activities",
        ],
    ),
    (
        ACTIVITY_READ,
        [
            "GET /api/v1/accounts/{account_id}/timeline",
            "GET /api/v1/activities/{activity_id}",
            "GET /api/v1/activities/{activity_id}/history",
        ],
    ),
    (
        WORK_CREATE,
        [
            "POST /api/v1/matter-reports",
            "POST /api/v1/meeting-notices",
        ],
    ),
    (
        PLAN_CREATE,
        [
            "POST /api/v1/work-plans",
        ],
    ),
    (
        AUTHOR_ONLY,
        [
            "PUT /api/v1/work-plans/{plan_id}/items",
            "POST /api/v1/work-plans/{plan_id}/submit",
            "POST /api/v1/work-plans/{plan_id}/summary",
        ],
    ),
    (
        REVIEWER,
        [
            "POST /api/v1/tasks/{task_id}/reassign",
            "POST /api/v1/work-plans/{plan_id}/accept",
            "POST /api/v1/work-plans/{plan_id}/edit",
            "POST /api/v1/work-plans/{plan_id}/return",
        ],
    ),
    (
        ATTENDEE_ONLY,
        [
            "POST /api/v1/meeting-notices/{notice_id}/acknowledge",
        ],
    ),
    (
        ADDRESSEE_ONLY,
        [
            "POST /api/v1/matter-reports/{report_id}/acknowledge",
        ],
    ),
    (
        SERVICE_LIST,
        [
            "GET /api/v1/assets",
            "GET /api/v1/service-requests",
        ],
    ),
    (
        SERVICE_SETUP_READ,
        [
            "GET /api/v1/queues",
            "GET /api/v1/queues/{queue_id}",
            "GET /api/v1/queues/{record_id}/history",
            "GET /api/v1/routing-rules",
            "GET /api/v1/routing-rules/{record_id}/history",
            "GET /api/v1/routing-rules/{rule_id}",
            "GET /api/v1/sla-policies",
            "GET /api/v1/sla-policies/{policy_id}",
            "GET /api/v1/sla-policies/{record_id}/history",
        ],
    ),
    (
        ASSET_READ,
        [
            "GET /api/v1/assets/{asset_id}",
            "GET /api/v1/assets/{asset_id}/history",
        ],
    ),
    (
        REQUEST_READ,
        [
            "GET /api/v1/service-requests/{request_id}",
            "GET /api/v1/service-requests/{request_id}/attachments",
            "GET /api/v1/service-requests/{request_id}/attachments/{attachment_id}",
            "GET /api/v1/service-requests/{request_id}/history",
        ],
    ),
    (
        REQUEST_OPEN,
        [
            "POST /api/v1/service-requests",
        ],
    ),
    (
        REQUEST_CONTRIBUTE,
        [
            "PATCH /api/v1/service-requests/{request_id}",
            "POST /api/v1/service-requests/{request_id}/attachments",
            "POST /api/v1/service-requests/{request_id}/evaluate",
            "POST /api/v1/service-requests/{request_id}/notes",
        ],
    ),
    (
        REQUEST_WORK,
        [
            "POST /api/v1/service-requests/{request_id}/close",
            "POST /api/v1/service-requests/{request_id}/notify",
            "POST /api/v1/service-requests/{request_id}/reopen",
            "POST /api/v1/service-requests/{request_id}/replies",
            "POST /api/v1/service-requests/{request_id}/resolve",
            "POST /api/v1/service-requests/{request_id}/resume",
            "POST /api/v1/service-requests/{request_id}/start",
            "POST /api/v1/service-requests/{request_id}/wait-on-customer",
        ],
    ),
    (
        REQUEST_ASSIGN,
        [
            "POST /api/v1/service-requests/{request_id}/assign",
        ],
    ),
    (
        ALERT_READ,
        [
            "GET /api/v1/alerts/{alert_id}",
        ],
    ),
    (
        ALERT_ACKNOWLEDGE,
        [
            "POST /api/v1/alerts/{alert_id}/acknowledge",
        ],
    ),
    (
        PERSONAL_EXPORT,
        [
            "GET /api/v1/exports/accounts",
            "GET /api/v1/exports/contacts",
        ],
    ),
    (
        EXPORT_KPI,
        [
            "GET /api/v1/kpis/exports",
        ],
    ),
    (
        MARGINS,
        [
            "GET /api/v1/analytics/margins",
        ],
    ),
    (
        INBOUND_LINK,
        [
            "POST /api/v1/inbound/unmatched/{inbound_id}/link",
        ],
    ),
]
REST_RULES: dict[tuple[str, str], Policy] = {
    tuple(route.split(" ", 1)): rule  # type: ignore[misc]
    for rule, routes in REST_GROUPS
    for route in routes
}


# the world


PERIOD = "2026-W10"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x01" * 50
SIDE_OWNER = {"own": "rep_a", "other": "rep_c"}


def _ok(response: Any, status: int = 201) -> Any:
    assert response.status_code == status, (response.request.url, response.text)
    return response.json()


@dataclass
class World:
    """One record of each kind per side, made through the API, and the callers' headers."""

    company: Company
    services: Any
    clock: Any
    keys: dict[str, str] = field(default_factory=dict)
    records: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {"own": {}, "other": {}}
    )
    shared: dict[str, Any] = field(default_factory=dict)

    @property
    def client(self) -> Any:
        return self.company.client

    def uid(self, who: str) -> str:
        return self.company.ids[who]

    def owner(self, side: str) -> str:
        return self.uid(SIDE_OWNER[side])

    def headers(self, role: str) -> dict[str, str]:
        if role.endswith("_key"):
            return bearer(self.keys[role])
        who = {"rep": "rep_a", "admin": "admin_user"}.get(role, role)
        return self.company.as_(who, "rep_a" if role == "assistant" else None)

    def rec(self, side: str, kind: str) -> dict[str, Any]:
        if kind in self.records[side]:
            return self.records[side][kind]
        return self.shared[kind]

    def id(self, side: str, kind: str) -> str:
        return str(self.rec(side, kind)["id"])

    def post(self, who: str, path: str, body: Any = None, status: int = 201, **kw: Any) -> Any:
        headers = self.headers(who) if who in ROLES else self.company.as_(who)
        return _ok(self.client.post(f"{API}{path}", json=body, headers=headers, **kw), status)

    # fresh records, for commands that would spoil the shared ones

    def next_day(self) -> str:
        """A day no plan has yet: one plan per author and period."""
        self.shared["days"] = self.shared.get("days", 0) + 1
        return (date(2026, 6, 1) + timedelta(days=self.shared["days"])).isoformat()

    def fresh(self, kind: str, side: str) -> dict[str, Any]:
        return FRESH[kind](self, side)

    def new_account(self, side: str) -> dict[str, Any]:
        who = SIDE_OWNER[side]
        return self.post(
            who, "/accounts", {"name": f"{side} {uuid4().hex[:6]}", "owner_id": self.uid(who)}
        )

    def new_contact(self, side: str) -> dict[str, Any]:
        body = {"account_id": self.id(side, "account"), "name": "Fresh Contact"}
        return self.post(SIDE_OWNER[side], "/contacts", body)

    def archived(self, kind: str, side: str) -> dict[str, Any]:
        record = FRESH[kind](self, side)
        path = f"/{kind}s/{record['id']}/archive"
        return self.post(SIDE_OWNER[side], path, None, 200)

    def deactivated_user(self, side: str) -> dict[str, Any]:
        user = self.new_user(side)
        return self.post("admin", f"/users/{user['id']}/deactivate", None, 200)

    def new_order(self, side: str) -> dict[str, Any]:
        return self.post("integrator_key", "/orders", _order(self, side))

    def new_invoice(self, side: str) -> dict[str, Any]:
        return self.post("admin", "/invoices", _invoice(self, side))

    def new_shipment(self, side: str) -> dict[str, Any]:
        path = f"/orders/{self.id(side, 'order')}/shipments"
        return self.post("admin", path, {"carrier": "DHL", "lines": [{"line": 1, "quantity": "1"}]})

    def new_user(self, side: str) -> dict[str, Any]:
        body = {"name": "Temp", "email": f"temp-{uuid4().hex[:8]}@example.com", "role": "rep"}
        return self.post("admin", "/users", body)

    def new_key(self, side: str) -> dict[str, Any]:
        return self.post(
            "admin", "/api-keys", {"name": "temp", "role": "integrator", "scopes": ["*"]}
        )

    def new_webhook(self, side: str) -> dict[str, Any]:
        body = {"url": "http://127.0.0.1:9/crm", "types": ["AccountOpened"]}
        return self.post("admin", "/webhooks", body)

    @classmethod
    def build(cls, company: Company, services: Any, clock: Any) -> World:
        w = cls(company, services, clock)
        company.add_user("admin_user", role="admin")
        company.add_user("agent_2", role="service_agent")
        for role in ("integrator", "auditor", "service_agent"):
            key = w.post("admin", "/api-keys", {"name": role, "role": role, "scopes": ["*"]})
            w.keys[{"service_agent": "agent"}.get(role, role) + "_key"] = key["token"]
        w.shared["user"] = {"id": w.uid("rep_b")}
        w.records["own"]["user"] = {"id": w.uid("rep_a")}
        w.records["other"]["user"] = {"id": w.uid("rep_c")}
        w.records["own"]["team"] = {"id": w.uid("team")}
        w.records["other"]["team"] = w.post("admin", "/teams", {"name": "South"})
        w.shared["product"] = w.post(
            "admin",
            "/products",
            {
                "sku": "WID-1",
                "name": "Widget",
                "list_price": "100.00",
                "unit_cost": "40.00",
                "floor_price": "90.00",
                "currency": "EUR",
            },
        )
        w.shared["webhook"] = w.new_webhook("own")
        w.shared["api_key"] = {"id": w.new_key("own")["id"]}
        w.shared["sla_policy"] = w.post(
            "admin",
            "/sla-policies",
            {
                "priority": "normal",
                "first_response_within_minutes": 60,
                "resolve_within_minutes": 480,
            },
        )
        w.shared["queue"] = w.post(
            "admin", "/queues", {"name": "Desk", "member_ids": [w.uid("agent")]}
        )
        w.shared["routing_rule"] = w.post(
            "admin",
            "/routing-rules",
            {
                "name": "Repairs",
                "position": 1,
                "conditions": {"kinds": ["repair"]},
                "queue_id": w.shared["queue"]["id"],
            },
        )
        w.shared["projection"] = {"id": _projection_name(w)}
        w.shared["field_definition"] = w.post(
            "admin", "/field-definitions", _field_definition(w, "")
        )
        for side, who in SIDE_OWNER.items():
            w._build_side(side, who)
        # alerts: both accounts go dormant
        clock.advance(days=91)
        services.run_watchers()
        for side in SIDES:
            response = w.client.get(f"{API}/alerts", headers=w.company.as_("admin"))
            account_id = w.id(side, "account")
            [alert] = [a for a in _ok(response, 200)["data"] if a["subject_id"] == account_id]
            w.records[side]["alert"] = alert
        services.catch_up()  # the webhook outbox is not read-your-writes
        deliveries = w.client.get(
            f"{API}/webhooks/{w.shared['webhook']['id']}/deliveries", headers=w.headers("admin")
        )
        # none queued is a fault of its own: only the redeliver cases fail on it (404)
        queued = _ok(deliveries, 200)["data"]
        w.shared["delivery"] = queued[0] if queued else {"id": str(uuid4())}
        gateway = w.post(
            "admin",
            "/api-keys",
            {"name": "mail", "role": "integrator", "scopes": ["inbound:write"]},
        )
        inbound = _ok(
            w.client.post(
                f"{API}/inbound/email",
                json={
                    "from": "stranger@else.example",
                    "subject": "Hi",
                    "text": "?",
                    "message_id": "<x@y>",
                },
                headers=bearer(gateway["token"]),
            ),
        )
        w.shared["inbound"] = {"id": inbound["inbound_id"]}
        return w

    def _build_side(self, side: str, who: str) -> None:
        r = self.records[side]
        owner = self.uid(who)
        r["account"] = self.post(who, "/accounts", {"name": f"{side} account", "owner_id": owner})
        account_id = r["account"]["id"]
        r["contact"] = self.post(
            who,
            "/contacts",
            {"account_id": account_id, "name": f"{side} contact", "email": f"{side}@example.com"},
        )
        r["opportunity"] = self.post(
            who,
            "/opportunities",
            {
                "account_id": account_id,
                "name": "Deal",
                "amount": "1000.00",
                "currency": "EUR",
                "expected_close_date": "2026-03-31",
            },
        )
        product_id = self.shared["product"]["id"]
        # 12% under list: below the floor, within the manager's approval limit (15%)
        line = {"product_id": product_id, "quantity": "1", "unit_price": "88.00"}
        quote = self.post(
            who, "/quotes", {"account_id": account_id, "currency": "EUR", "lines": [line]}
        )
        r["quote"] = self.post(who, f"/quotes/{quote['id']}/submit", None, 200)
        r["order"] = self.post(
            "integrator_key",
            "/orders",
            {
                "source": "erp",
                "external_id": f"{side}-1",
                "account_id": account_id,
                "ordered_at": "2026-01-02T10:00:00Z",
                "currency": "EUR",
                "lines": [{"product_id": product_id, "quantity": "100", "unit_price": "95.00"}],
            },
        )
        order_id = r["order"]["id"]
        r["shipment"] = self.post(
            "admin",
            f"/orders/{order_id}/shipments",
            {"carrier": "DHL", "lines": [{"line": 1, "quantity": "1"}]},
        )
        r["invoice"] = self.post(
            "admin",
            "/invoices",
            {
                "number": f"INV-{side}",
                "order_id": order_id,
                "amount": "100.00",
                "due_at": "2026-02-04",
            },
        )
        r["payment"] = self.post(
            "admin", f"/invoices/{r['invoice']['id']}/payments", {"amount": "10.00"}
        )
        forecast = self.client.put(
            f"{API}/forecasts/{owner}/2026-03",
            json={"currency": "EUR", "lines": [{"amount": "500.00"}]},
            headers=self.company.as_(who),
        )
        r["forecast"] = _ok(forecast, 200) if forecast.status_code == 200 else _ok(forecast)
        r["activity"] = self.post(who, "/activities", {"account_id": account_id, "type": "call"})
        r["task"] = self.post(
            who,
            "/tasks",
            {
                "title": "Call back",
                "due_date": "2026-01-09",
                "linked_type": "account",
                "linked_id": account_id,
            },
        )
        r["work_plan"] = self.post(
            who, "/work-plans", {"period": "2026-W02", "items": [{"text": "Visit"}]}
        )
        r["work_plan"] = self.post(who, f"/work-plans/{r['work_plan']['id']}/submit", None, 200)
        r["notice"] = self.post(
            who,
            "/meeting-notices",
            {"title": "Weekly", "starts_at": "2026-01-12T08:30:00Z", "attendee_ids": [owner]},
        )
        r["report"] = self.post(
            who, "/matter-reports", {"title": "Competitor", "text": "Cheaper", "severity": "high"}
        )
        r["asset"] = self.post(
            who,
            "/assets",
            {
                "account_id": account_id,
                "serial_number": f"SN-{side}",
                "model": "X",
                "manufacturer": "Other",
            },
        )
        r["service_request"] = self.post(
            who,
            "/service-requests",
            {
                "account_id": account_id,
                "kind": "fault",
                "channel": "phone",
                "subject": "It beeps",
                "asset_id": r["asset"]["id"],
            },
        )
        r["attachment"] = self.post(
            who,
            f"/service-requests/{r['service_request']['id']}/attachments",
            files={"file": ("scan.png", PNG, "image/png")},
        )
        r["forecast_owner"] = {"id": owner}
        if side == "own":  # a service agent sees the requests assigned to it
            path = f"/service-requests/{r['service_request']['id']}/assign"
            r["service_request"] = self.post("admin", path, {"assignee_id": self.uid("agent")}, 200)


def _field_definition(w: World, s: str) -> dict[str, Any]:
    key = f"f_{uuid4().hex[:8]}"
    return {"record_type": "accounts", "key": key, "label": "Region", "type": "text"}


def _projection_name(w: World) -> str:
    response = w.client.get(f"{API}/projections", headers=w.headers("admin"))
    return str(_ok(response, 200)[0]["name"])


FRESH: dict[str, Callable[[World, str], dict[str, Any]]] = {
    "account": World.new_account,
    "contact": World.new_contact,
    "user": World.new_user,
    "order": World.new_order,
    "invoice": World.new_invoice,
    "shipment": World.new_shipment,
    "deactivated_user": World.deactivated_user,
    "archived_account": lambda w, s: w.archived("account", s),
    "archived_contact": lambda w, s: w.archived("contact", s),
    "api_key": World.new_key,
    "webhook": World.new_webhook,
}


# how to call each route: path parameters, a valid body, fresh records


PARAM_KINDS = {
    "user_id": "user",
    "team_id": "team",
    "account_id": "account",
    "contact_id": "contact",
    "product_id": "product",
    "quote_id": "quote",
    "order_id": "order",
    "shipment_id": "shipment",
    "invoice_id": "invoice",
    "payment_id": "payment",
    "opportunity_id": "opportunity",
    "forecast_id": "forecast",
    "owner_id": "forecast_owner",
    "key_id": "api_key",
    "webhook_id": "webhook",
    "delivery_id": "delivery",
    "activity_id": "activity",
    "task_id": "task",
    "plan_id": "work_plan",
    "notice_id": "notice",
    "report_id": "report",
    "asset_id": "asset",
    "request_id": "service_request",
    "attachment_id": "attachment",
    "inbound_id": "inbound",
    "policy_id": "sla_policy",
    "rule_id": "routing_rule",
    "queue_id": "queue",
    "alert_id": "alert",
    "name": "projection",
    "field_id": "field_definition",
}
RECORD_ID_KINDS = {"sla-policies": "sla_policy", "routing-rules": "routing_rule", "queues": "queue"}

Body = Any  # a value, or a function (world, side) -> value


@dataclass(frozen=True)
class Call:
    body: Body = None
    fresh: str | None = None
    """The kind of the path's record to make afresh for each case (destructive commands)."""
    headers: Callable[[World, str], dict[str, str]] | None = None
    query: dict[str, str] | None = None
    files: bool = False
    conflicts: tuple[int, ...] = ()
    """Statuses an allowed call may get from the state the world is in (409 a command that an
    earlier allowed case already ran, 412 a stale If-Match)."""
    after: Callable[[World], None] | None = None
    item: Callable[[Any], Problem | None] | None = None
    """For batch routes answering 200 with a result per item: the item's problem, if any."""


Problem = tuple[int, str]


def _problem(body: Any) -> Problem:
    return int(body["status"]), str(body["code"])


def _batch_item(body: Any) -> Problem | None:
    result = body["results"][0]
    return _problem(result["error"]) if result["status"] == "error" else None


def _sync_item(body: Any) -> Problem | None:
    problem = body["results"][0].get("problem")
    return _problem(problem) if problem else None


def _acc(w: World, s: str) -> str:
    return w.id(s, "account")


def _line(w: World, s: str) -> dict[str, str]:
    return {"product_id": w.shared["product"]["id"], "quantity": "1", "unit_price": "95.00"}


def _current_quote(w: World, s: str) -> dict[str, Any]:
    response = w.client.get(f"{API}/quotes/{w.id(s, 'quote')}", headers=w.headers("admin"))
    return _ok(response, 200)  # type: ignore[no-any-return]


def _quote_version(w: World, s: str) -> dict[str, str]:
    return {"If-Match": f'"{_current_quote(w, s)["version"]}"'}


def _invoice(w: World, s: str) -> dict[str, Any]:
    return {
        "number": f"INV-{uuid4().hex[:8]}",
        "account_id": _acc(w, s),
        "currency": "EUR",
        "amount": "50.00",
        "due_at": "2026-12-31",
    }


def _resume(w: World) -> None:
    name = w.shared["projection"]["id"]
    response = w.client.post(f"{API}/projections/{name}/resume", headers=w.headers("admin"))
    assert response.status_code in (204, 409), response.text


def _order(w: World, s: str) -> dict[str, Any]:
    return {
        "source": "erp",
        "external_id": f"new-{uuid4().hex[:8]}",
        "account_id": _acc(w, s),
        "ordered_at": "2026-01-03T10:00:00Z",
        "currency": "EUR",
        "lines": [_line(w, s)],
    }


STATE = (409,)
PRODUCT = {"list_price": "100.00", "unit_cost": "40.00", "floor_price": "90.00", "currency": "EUR"}

CALLS: dict[tuple[str, str], Call] = {
    ("POST", "/api/v1/users"): Call(
        lambda w, s: {"name": "New", "email": f"n-{uuid4().hex[:8]}@example.com", "role": "rep"}
    ),
    ("PATCH", "/api/v1/users/{user_id}"): Call({"name": "Renamed"}, fresh="user"),
    ("POST", "/api/v1/users/{user_id}/deactivate"): Call(fresh="user"),
    ("POST", "/api/v1/users/{user_id}/reactivate"): Call(fresh="deactivated_user"),
    ("POST", "/api/v1/teams"): Call({"name": "East"}),
    ("PATCH", "/api/v1/teams/{team_id}"): Call(lambda w, s: {"name": f"Team {s}"}),
    ("POST", "/api/v1/accounts"): Call(lambda w, s: {"name": "New", "owner_id": w.owner(s)}),
    ("PATCH", "/api/v1/accounts/{account_id}"): Call({"industry": "Retail"}),
    ("POST", "/api/v1/accounts/{account_id}/archive"): Call(fresh="account"),
    ("POST", "/api/v1/accounts/{account_id}/restore"): Call(fresh="archived_account"),
    ("POST", "/api/v1/accounts/{account_id}/transfer"): Call(
        lambda w, s: {"to_owner_id": w.uid("rep_b")}, fresh="account"
    ),
    ("POST", "/api/v1/contacts"): Call(lambda w, s: {"account_id": _acc(w, s), "name": "New"}),
    ("PATCH", "/api/v1/contacts/{contact_id}"): Call({"occupation": "Buyer"}),
    ("POST", "/api/v1/contacts/{contact_id}/archive"): Call(fresh="contact"),
    ("POST", "/api/v1/contacts/{contact_id}/restore"): Call(fresh="archived_contact"),
    ("POST", "/api/v1/contacts/{contact_id}/erase"): Call(
        {"reason": "subject_request"}, fresh="contact"
    ),
    ("POST", "/api/v1/products"): Call(
        lambda w, s: {**PRODUCT, "sku": f"SKU-{uuid4().hex[:8]}", "name": "New"}
    ),
    ("PUT", "/api/v1/products/by-sku/{sku}"): Call({**PRODUCT, "name": "Widget"}),
    ("PATCH", "/api/v1/products/{product_id}"): Call({"name": "Widget"}),
    ("POST", "/api/v1/products/{product_id}/prices"): Call(PRODUCT),
    ("POST", "/api/v1/products/{product_id}/discontinue"): Call(conflicts=STATE),
    ("POST", "/api/v1/products/{product_id}/reinstate"): Call(conflicts=STATE),
    ("POST", "/api/v1/quotes"): Call(
        lambda w, s: {"account_id": _acc(w, s), "currency": "EUR", "lines": [_line(w, s)]}
    ),
    ("POST", "/api/v1/quotes/{quote_id}/revise"): Call({"title": "Revised"}, conflicts=STATE),
    ("POST", "/api/v1/quotes/{quote_id}/submit"): Call(conflicts=STATE),
    ("POST", "/api/v1/quotes/{quote_id}/approve"): Call(
        lambda w, s: {"revision": _current_quote(w, s)["revision"]},
        headers=_quote_version,
        conflicts=(409, 412),
    ),
    ("POST", "/api/v1/quotes/{quote_id}/reject"): Call(
        lambda w, s: {"revision": _current_quote(w, s)["revision"], "reason": "Too cheap"},
        headers=_quote_version,
        conflicts=(409, 412),
    ),
    ("POST", "/api/v1/quotes/{quote_id}/send"): Call(conflicts=STATE),
    ("POST", "/api/v1/quotes/{quote_id}/accept"): Call(conflicts=STATE),
    ("POST", "/api/v1/quotes/{quote_id}/expire"): Call(conflicts=STATE),
    ("POST", "/api/v1/quotes/{quote_id}/withdraw"): Call(conflicts=STATE),
    ("POST", "/api/v1/orders:batch"): Call(
        lambda w, s: {"orders": [_order(w, s)]}, item=_batch_item
    ),
    ("POST", "/api/v1/orders"): Call(_order),
    ("PATCH", "/api/v1/orders/{order_id}"): Call({"reference": "PO-1"}, conflicts=STATE),
    ("POST", "/api/v1/orders/{order_id}/cancel"): Call(fresh="order"),
    ("POST", "/api/v1/orders/{order_id}/shipments"): Call(
        {"carrier": "UPS", "lines": [{"line": 1, "quantity": "1"}]}, conflicts=STATE
    ),
    ("POST", "/api/v1/shipments/{shipment_id}/track"): Call(
        lambda w, s: {"status": "in_transit", "at": w.clock.now().isoformat()}, fresh="shipment"
    ),
    ("POST", "/api/v1/shipments/{shipment_id}/deliver"): Call(fresh="shipment"),
    ("POST", "/api/v1/invoices"): Call(_invoice),
    ("POST", "/api/v1/invoices/{invoice_id}/void"): Call(fresh="invoice"),
    ("POST", "/api/v1/invoices/{invoice_id}/payments"): Call({"amount": "1.00"}, conflicts=STATE),
    ("POST", "/api/v1/opportunities"): Call(
        lambda w, s: {
            "account_id": _acc(w, s),
            "name": "New deal",
            "amount": "10.00",
            "currency": "EUR",
            "expected_close_date": "2026-03-31",
        }
    ),
    ("PATCH", "/api/v1/opportunities/{opportunity_id}"): Call({"name": "Renamed"}, conflicts=STATE),
    ("POST", "/api/v1/opportunities/{opportunity_id}/stage"): Call(
        {"stage": "qualification"}, conflicts=STATE
    ),
    ("POST", "/api/v1/opportunities/{opportunity_id}/win"): Call(conflicts=STATE),
    ("POST", "/api/v1/opportunities/{opportunity_id}/lose"): Call({}, conflicts=STATE),
    ("POST", "/api/v1/opportunities/{opportunity_id}/reopen"): Call(
        {"stage": "proposal"}, conflicts=STATE
    ),
    ("PUT", "/api/v1/forecasts/{owner_id}/{period}"): Call(
        {"currency": "EUR", "lines": [{"amount": "700.00"}]}
    ),
    ("POST", "/api/v1/api-keys"): Call({"name": "k", "role": "integrator", "scopes": ["*"]}),
    ("POST", "/api/v1/api-keys/{key_id}/revoke"): Call(fresh="api_key"),
    ("POST", "/api/v1/webhooks"): Call({"url": "http://127.0.0.1:9/x", "types": ["AccountOpened"]}),
    ("PATCH", "/api/v1/webhooks/{webhook_id}"): Call({"description": "Ours"}),
    ("DELETE", "/api/v1/webhooks/{webhook_id}"): Call(fresh="webhook"),
    ("POST", "/api/v1/webhooks/{webhook_id}/rotate-secret"): Call(),
    ("POST", "/api/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver"): Call(),
    ("POST", "/api/v1/activities"): Call(lambda w, s: {"account_id": _acc(w, s), "type": "visit"}),
    ("PATCH", "/api/v1/activities/{activity_id}"): Call({"subject": "Call"}),
    ("POST", "/api/v1/tasks"): Call(
        lambda w, s: {"title": "New", "due_date": "2026-01-09", "assignee_id": w.owner(s)}
    ),
    ("PATCH", "/api/v1/tasks/{task_id}"): Call({"priority": "high"}, conflicts=STATE),
    ("POST", "/api/v1/tasks/{task_id}/complete"): Call(conflicts=STATE),
    ("POST", "/api/v1/tasks/{task_id}/cancel"): Call(conflicts=STATE),
    ("POST", "/api/v1/tasks/{task_id}/reopen"): Call(conflicts=STATE),
    ("POST", "/api/v1/tasks/{task_id}/reassign"): Call(
        lambda w, s: {"assignee_id": w.owner(s)}, conflicts=STATE
    ),
    ("POST", "/api/v1/work-plans"): Call(lambda w, s: {"period": w.next_day()}),
    ("PUT", "/api/v1/work-plans/{plan_id}/items"): Call(
        {"items": [{"text": "Visit"}]}, conflicts=STATE
    ),
    ("POST", "/api/v1/work-plans/{plan_id}/submit"): Call(conflicts=STATE),
    ("POST", "/api/v1/work-plans/{plan_id}/summary"): Call(
        {"text": "Done", "outcomes": [{"item_id": "1", "done": True}]}, conflicts=STATE
    ),
    ("POST", "/api/v1/work-plans/{plan_id}/edit"): Call(
        {"items": [{"text": "Visit twice"}]}, conflicts=STATE
    ),
    ("POST", "/api/v1/work-plans/{plan_id}/comments"): Call({"text": "Good"}, conflicts=STATE),
    ("POST", "/api/v1/work-plans/{plan_id}/return"): Call({"comment": "More"}, conflicts=STATE),
    ("POST", "/api/v1/work-plans/{plan_id}/accept"): Call(conflicts=STATE),
    ("POST", "/api/v1/meeting-notices"): Call(
        lambda w, s: {
            "title": "Kick-off",
            "starts_at": "2026-01-12T08:30:00Z",
            "attendee_ids": [w.owner(s)],
        }
    ),
    ("POST", "/api/v1/meeting-notices/{notice_id}/acknowledge"): Call(conflicts=STATE),
    ("POST", "/api/v1/meeting-notices/{notice_id}/cancel"): Call(conflicts=STATE),
    ("POST", "/api/v1/matter-reports"): Call(
        {"title": "Competitor", "text": "Cheaper", "severity": "low"}
    ),
    ("POST", "/api/v1/matter-reports/{report_id}/acknowledge"): Call(conflicts=STATE),
    ("POST", "/api/v1/assets"): Call(
        lambda w, s: {
            "account_id": _acc(w, s),
            "serial_number": f"SN-{uuid4().hex[:6]}",
            "model": "X",
            "manufacturer": "Other",
        }
    ),
    ("PATCH", "/api/v1/assets/{asset_id}"): Call({"model": "X-200"}),
    ("POST", "/api/v1/service-requests"): Call(
        lambda w, s: {
            "account_id": _acc(w, s),
            "kind": "inquiry",
            "channel": "email",
            "subject": "Question",
        }
    ),
    ("POST", "/api/v1/service-requests/{request_id}/assign"): Call(
        lambda w, s: {"assignee_id": w.uid("agent" if s == "own" else "agent_2")}, conflicts=STATE
    ),
    ("POST", "/api/v1/service-requests/{request_id}/start"): Call(conflicts=STATE),
    ("POST", "/api/v1/service-requests/{request_id}/wait-on-customer"): Call(conflicts=STATE),
    ("POST", "/api/v1/service-requests/{request_id}/resume"): Call(conflicts=STATE),
    ("POST", "/api/v1/service-requests/{request_id}/resolve"): Call(
        {"resolution": "Fixed"}, conflicts=STATE
    ),
    ("POST", "/api/v1/service-requests/{request_id}/evaluate"): Call(
        {"satisfied": True, "score": 5}, conflicts=STATE
    ),
    ("POST", "/api/v1/service-requests/{request_id}/close"): Call(conflicts=STATE),
    ("POST", "/api/v1/service-requests/{request_id}/reopen"): Call(conflicts=STATE),
    ("POST", "/api/v1/service-requests/{request_id}/notes"): Call({"text": "Noted"}),
    ("POST", "/api/v1/service-requests/{request_id}/replies"): Call(
        {"text": "We are on it"}, conflicts=STATE
    ),
    ("POST", "/api/v1/service-requests/{request_id}/notify"): Call(
        {"to": "customer@example.com", "message": "Update"}, conflicts=STATE
    ),
    ("POST", "/api/v1/service-requests/{request_id}/attachments"): Call(files=True),
    ("POST", "/api/v1/inbound/email"): Call(
        lambda w, s: {
            "from": "stranger@else.example",
            "subject": "Hello",
            "text": "?",
            "message_id": f"<{uuid4().hex}@m>",
        }
    ),
    ("POST", "/api/v1/inbound/unmatched/{inbound_id}/link"): Call(
        lambda w, s: {"service_request_id": w.id(s, "service_request")}, conflicts=STATE
    ),
    ("POST", "/api/v1/sla-policies"): Call(
        {"priority": "urgent", "first_response_within_minutes": 10, "resolve_within_minutes": 60},
        conflicts=STATE,
    ),
    ("PUT", "/api/v1/sla-policies/{policy_id}"): Call(
        {"first_response_within_minutes": 60, "resolve_within_minutes": 480}
    ),
    ("POST", "/api/v1/routing-rules"): Call(
        lambda w, s: {
            "name": f"R {uuid4().hex[:6]}",
            "position": 9,
            "conditions": {"kinds": ["repair"]},
            "queue_id": w.shared["queue"]["id"],
        }
    ),
    ("PATCH", "/api/v1/routing-rules/{rule_id}"): Call({"name": "Faults first"}),
    ("POST", "/api/v1/routing-rules/{rule_id}/retire"): Call(conflicts=STATE),
    ("POST", "/api/v1/queues"): Call(lambda w, s: {"name": f"Q {uuid4().hex[:6]}"}),
    ("PATCH", "/api/v1/queues/{queue_id}"): Call({"name": "Front desk"}),
    ("POST", "/api/v1/alerts:tick"): Call(),
    ("POST", "/api/v1/alerts/{alert_id}/acknowledge"): Call(conflicts=STATE),
    ("POST", "/api/v1/sync"): Call(
        lambda w, s: {
            "commands": [
                {
                    "command_id": str(uuid4()),
                    "type": "account.update",
                    "target": {"type": "account", "id": _acc(w, s)},
                    "body": {"industry": "Mining"},
                }
            ]
        },
        item=_sync_item,
    ),
    ("POST", "/api/v1/projections/{name}/pause"): Call(after=_resume),
    ("POST", "/api/v1/projections/{name}/resume"): Call(conflicts=STATE),
    ("GET", "/api/v1/work-plans/missing"): Call(query={"period": "2026-W02"}),
    ("POST", "/api/v1/field-definitions"): Call(_field_definition),
    ("PATCH", "/api/v1/quotes/{quote_id}"): Call({"custom_fields": {}}),
    ("PATCH", "/api/v1/service-requests/{request_id}"): Call({"custom_fields": {}}),
    ("PATCH", "/api/v1/field-definitions/{field_id}"): Call({"help_text": "Where it is"}),
    ("POST", "/api/v1/field-definitions/{field_id}/retire"): Call(conflicts=STATE),
}


def call_for(method: str, path: str) -> Call:
    return CALLS.get((method, path), Call())


def fill_path(w: World, path: str, side: str, fresh: dict[str, Any] | None) -> str:
    """The route's path with the side's records in it (a fresh record for the main one)."""
    params = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    values = {}
    for param in params:
        if param == "period":
            values[param] = "2026-03"
            continue
        if param == "sku":
            values[param] = w.shared["product"]["sku"]
            continue
        special = param == "record_id"
        kind = RECORD_ID_KINDS[path.split("/")[3]] if special else PARAM_KINDS[param]
        record = fresh if fresh is not None and param == params[0] else w.rec(side, kind)
        values[param] = record["id"]
    return path.format(**values)


def rest_routes(app: Any) -> list[tuple[str, str]]:
    """(METHOD, path) of every API route the app serves, included routers too."""
    from fastapi.routing import APIRoute

    found: list[tuple[str, str]] = []

    def walk(routes: Any, prefix: str) -> None:
        for route in routes:
            included = getattr(route, "original_router", None)
            if included is not None:
                walk(included.routes, prefix + route.include_context.prefix)
            elif isinstance(route, APIRoute):
                found.extend((m, prefix + route.path) for m in sorted(route.methods))

    walk(app.routes, "")
    return sorted(set(found))


@dataclass(frozen=True)
class Answer:
    status: int
    """The HTTP status, or for batch routes the status of the one item sent."""
    code: str | None
    text: str


def send(w: World, method: str, path: str, role: str, side: str) -> Answer:
    """Call the route as `role` on `side`'s record, with a valid body."""
    call = call_for(method, path)
    fresh = w.fresh(call.fresh, side) if call.fresh else None
    url = fill_path(w, path, side, fresh)
    headers = dict(w.headers(role))
    if call.headers:
        headers.update(call.headers(w, side))
    if call.files:
        files = {"file": ("scan.png", PNG, "image/png")}
        response = w.client.request(method, url, files=files, headers=headers, params=call.query)
    else:
        body = call.body(w, side) if callable(call.body) else call.body
        response = w.client.request(method, url, json=body, headers=headers, params=call.query)
    if call.after:
        call.after(w)
    status, code = response.status_code, None
    if response.headers.get("content-type", "").startswith(
        ("application/json", "application/problem")
    ):
        payload = response.json()
        if status == 200 and call.item is not None:
            status, code = call.item(payload) or (200, None)
        elif status >= 400 and isinstance(payload, dict):
            code = payload.get("code")
    return Answer(
        status, code, f"{method} {url} as {role}: {response.status_code} {response.text[:300]}"
    )


def sides_for(method: str, path: str) -> tuple[str, ...]:
    """Both sides where the path or the body names a record; once for the rest."""
    call = call_for(method, path)
    return SIDES if "{" in path or callable(call.body) else ("own",)


# GraphQL: every root field mirrors a REST route and follows its rule


def camel(value: Any) -> Any:
    """REST's snake_case body as GraphQL's camelCase input."""
    if isinstance(value, dict):
        return {_camel(k): camel(v) for k, v in value.items()}
    if isinstance(value, list):
        return [camel(v) for v in value]
    return value


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


Args = Callable[[World, str, Any], dict[str, Any]]
"""(world, side, the record the field names) -> the field's arguments."""


@dataclass(frozen=True)
class Field:
    route: str
    """The REST route ("METHOD path") whose rule the field follows."""
    args: Args = lambda w, s, r: {}
    selection: str = "__typename"
    item: Callable[[Any], Problem | None] | None = None


def _id(w: World, s: str, r: Any) -> dict[str, Any]:
    return {"id": r["id"]}


def _rest_body(method: str, path: str) -> Callable[[World, str], Any]:
    body = CALLS[(method, path)].body
    return body if callable(body) else (lambda w, s: body)


def _input(method: str, path: str, with_id: bool = False, **extra: Any) -> Args:
    build = _rest_body(method, path)

    def args(w: World, s: str, r: Any) -> dict[str, Any]:
        found = {"input": camel(build(w, s)), **extra}
        return {"id": r["id"], **found} if with_id else found

    return args


def _flat(method: str, path: str, **extra: Any) -> Args:
    """The REST body's fields as the field's own arguments, next to the record's id."""
    build = _rest_body(method, path)

    def args(w: World, s: str, r: Any) -> dict[str, Any]:
        return {"id": r["id"], **camel(build(w, s) or {}), **extra}

    return args


def _gql_batch_item(data: Any) -> Problem | None:
    result = data[0]
    return _problem(result["error"]) if result["status"] == "error" else None


def _gql_sync_item(data: Any) -> Problem | None:
    problem = data["results"][0]["problem"]
    return _problem(problem) if problem else None


U = "/api/v1"
GRAPHQL_FIELDS: dict[str, Field] = {
    # queries
    "me": Field(f"GET {U}/me"),
    "user": Field(f"GET {U}/users/{{user_id}}", _id),
    "users": Field(f"GET {U}/users"),
    "team": Field(f"GET {U}/teams/{{team_id}}", _id),
    "teams": Field(f"GET {U}/teams"),
    "account": Field(f"GET {U}/accounts/{{account_id}}", _id),
    "accounts": Field(f"GET {U}/accounts"),
    "contact": Field(f"GET {U}/contacts/{{contact_id}}", _id),
    "contacts": Field(f"GET {U}/contacts"),
    "recordHistory": Field(
        f"GET {U}/accounts/{{account_id}}/history",
        lambda w, s, r: {"type": "ACCOUNT", "id": r["id"]},
        "edges { node { __typename } }",
    ),
    "product": Field(f"GET {U}/products/{{product_id}}", _id),
    "productBySku": Field(f"GET {U}/products", lambda w, s, r: {"sku": "WID-1"}),
    "products": Field(f"GET {U}/products"),
    "opportunity": Field(f"GET {U}/opportunities/{{opportunity_id}}", _id),
    "opportunities": Field(f"GET {U}/opportunities"),
    "forecast": Field(f"GET {U}/forecasts/{{forecast_id}}", _id),
    "forecasts": Field(f"GET {U}/forecasts"),
    "funnel": Field(f"GET {U}/analytics/funnel", lambda w, s, r: {"groupBy": "rep"}),
    "forecastVsActual": Field(
        f"GET {U}/analytics/forecast-vs-actual", lambda w, s, r: {"groupBy": "product"}
    ),
    "quote": Field(f"GET {U}/quotes/{{quote_id}}", _id),
    "quotes": Field(f"GET {U}/quotes"),
    "quoteHistory": Field(f"GET {U}/quotes/{{quote_id}}/history", _id),
    "order": Field(f"GET {U}/orders/{{order_id}}", _id),
    "orders": Field(f"GET {U}/orders"),
    "invoice": Field(f"GET {U}/invoices/{{invoice_id}}", _id),
    "invoices": Field(f"GET {U}/invoices"),
    "receivables": Field(f"GET {U}/receivables"),
    "overdueInvoices": Field(f"GET {U}/receivables/overdue"),
    "fulfilment": Field(
        f"GET {U}/orders/{{order_id}}/fulfilment", lambda w, s, r: {"orderId": r["id"]}
    ),
    "shipment": Field(f"GET {U}/shipments/{{shipment_id}}", _id),
    "asset": Field(f"GET {U}/assets/{{asset_id}}", _id),
    "assets": Field(f"GET {U}/assets"),
    "serviceRequest": Field(
        f"GET {U}/service-requests/{{request_id}}",
        lambda w, s, r: {"id": r["id"], "customerView": False},
    ),
    "serviceRequests": Field(f"GET {U}/service-requests"),
    "slaPolicies": Field(f"GET {U}/sla-policies"),
    "routingRules": Field(f"GET {U}/routing-rules"),
    "serviceByProduct": Field(f"GET {U}/analytics/service-by-product"),
    "activity": Field(f"GET {U}/activities/{{activity_id}}", _id),
    "activities": Field(f"GET {U}/activities"),
    "timeline": Field(
        f"GET {U}/accounts/{{account_id}}/timeline", lambda w, s, r: {"accountId": r["id"]}
    ),
    "task": Field(f"GET {U}/tasks/{{task_id}}", _id),
    "tasks": Field(f"GET {U}/tasks"),
    "workPlan": Field(f"GET {U}/work-plans/{{plan_id}}", _id),
    "workPlans": Field(f"GET {U}/work-plans"),
    "missingWorkPlans": Field(
        f"GET {U}/work-plans/missing", lambda w, s, r: {"period": "2026-W02"}
    ),
    "meetingNotice": Field(f"GET {U}/meeting-notices/{{notice_id}}", _id),
    "meetingNotices": Field(f"GET {U}/meeting-notices"),
    "matterReport": Field(f"GET {U}/matter-reports/{{report_id}}", _id),
    "matterReports": Field(f"GET {U}/matter-reports"),
    "alerts": Field(f"GET {U}/alerts"),
    "customerValue": Field(f"GET {U}/analytics/customer-value"),
    "topCustomers": Field(f"GET {U}/analytics/top-customers", lambda w, s, r: {"limit": 5}),
    "pareto": Field(f"GET {U}/analytics/pareto"),
    "grades": Field(f"GET {U}/analytics/grades"),
    "margins": Field(f"GET {U}/analytics/margins", lambda w, s, r: {"groupBy": "product"}),
    "dataEntryKpis": Field(f"GET {U}/kpis/data-entry", lambda w, s, r: {"groupBy": "user"}),
    # mutations
    "createAccount": Field(f"POST {U}/accounts", _input("POST", f"{U}/accounts")),
    "updateAccount": Field(
        f"PATCH {U}/accounts/{{account_id}}",
        _input("PATCH", f"{U}/accounts/{{account_id}}", with_id=True),
    ),
    "archiveAccount": Field(f"POST {U}/accounts/{{account_id}}/archive", _id),
    "restoreAccount": Field(f"POST {U}/accounts/{{account_id}}/restore", _id),
    "transferAccountOwnership": Field(
        f"POST {U}/accounts/{{account_id}}/transfer",
        lambda w, s, r: {"id": r["id"], "toOwnerId": w.uid("rep_b")},
    ),
    "createContact": Field(f"POST {U}/contacts", _input("POST", f"{U}/contacts")),
    "updateContact": Field(
        f"PATCH {U}/contacts/{{contact_id}}",
        _input("PATCH", f"{U}/contacts/{{contact_id}}", with_id=True),
    ),
    "archiveContact": Field(f"POST {U}/contacts/{{contact_id}}/archive", _id),
    "restoreContact": Field(f"POST {U}/contacts/{{contact_id}}/restore", _id),
    "eraseContact": Field(
        f"POST {U}/contacts/{{contact_id}}/erase",
        lambda w, s, r: {"id": r["id"], "reason": "subject_request"},
    ),
    "createUser": Field(f"POST {U}/users", _input("POST", f"{U}/users")),
    "updateUser": Field(
        f"PATCH {U}/users/{{user_id}}", _input("PATCH", f"{U}/users/{{user_id}}", with_id=True)
    ),
    "deactivateUser": Field(f"POST {U}/users/{{user_id}}/deactivate", _id),
    "reactivateUser": Field(f"POST {U}/users/{{user_id}}/reactivate", _id),
    "createTeam": Field(f"POST {U}/teams", _input("POST", f"{U}/teams")),
    "updateTeam": Field(
        f"PATCH {U}/teams/{{team_id}}", _input("PATCH", f"{U}/teams/{{team_id}}", with_id=True)
    ),
    "createProduct": Field(f"POST {U}/products", _input("POST", f"{U}/products")),
    "updateProduct": Field(
        f"PATCH {U}/products/{{product_id}}",
        _input("PATCH", f"{U}/products/{{product_id}}", with_id=True),
    ),
    "changeProductPrices": Field(
        f"POST {U}/products/{{product_id}}/prices",
        _input("POST", f"{U}/products/{{product_id}}/prices", with_id=True),
    ),
    "discontinueProduct": Field(f"POST {U}/products/{{product_id}}/discontinue", _id),
    "reinstateProduct": Field(f"POST {U}/products/{{product_id}}/reinstate", _id),
    "upsertProductBySku": Field(
        f"PUT {U}/products/by-sku/{{sku}}",
        lambda w, s, r: {"sku": "WID-1", "input": camel({**PRODUCT, "name": "Widget"})},
    ),
    "createOpportunity": Field(f"POST {U}/opportunities", _input("POST", f"{U}/opportunities")),
    "updateOpportunity": Field(
        f"PATCH {U}/opportunities/{{opportunity_id}}",
        _input("PATCH", f"{U}/opportunities/{{opportunity_id}}", with_id=True),
    ),
    "moveOpportunityStage": Field(
        f"POST {U}/opportunities/{{opportunity_id}}/stage",
        lambda w, s, r: {"id": r["id"], "stage": "qualification"},
    ),
    "winOpportunity": Field(f"POST {U}/opportunities/{{opportunity_id}}/win", _id),
    "loseOpportunity": Field(f"POST {U}/opportunities/{{opportunity_id}}/lose", _id),
    "reopenOpportunity": Field(
        f"POST {U}/opportunities/{{opportunity_id}}/reopen",
        lambda w, s, r: {"id": r["id"], "stage": "proposal"},
    ),
    "putForecast": Field(
        f"PUT {U}/forecasts/{{owner_id}}/{{period}}",
        lambda w, s, r: {
            "ownerId": r["id"],
            "period": "2026-03",
            "input": {"currency": "EUR", "lines": [{"amount": "800.00"}]},
        },
    ),
    "createQuote": Field(f"POST {U}/quotes", _input("POST", f"{U}/quotes")),
    "reviseQuote": Field(
        f"POST {U}/quotes/{{quote_id}}/revise",
        _input("POST", f"{U}/quotes/{{quote_id}}/revise", with_id=True),
    ),
    "submitQuote": Field(f"POST {U}/quotes/{{quote_id}}/submit", _id),
    "approveQuote": Field(
        f"POST {U}/quotes/{{quote_id}}/approve",
        lambda w, s, r: {
            "id": r["id"],
            "revision": _current_quote(w, s)["revision"],
            "ifMatch": _current_quote(w, s)["version"],
        },
    ),
    "rejectQuote": Field(
        f"POST {U}/quotes/{{quote_id}}/reject",
        lambda w, s, r: {
            "id": r["id"],
            "revision": _current_quote(w, s)["revision"],
            "ifMatch": _current_quote(w, s)["version"],
            "reason": "Too cheap",
        },
    ),
    "sendQuote": Field(f"POST {U}/quotes/{{quote_id}}/send", _id),
    "acceptQuote": Field(f"POST {U}/quotes/{{quote_id}}/accept", _id),
    "expireQuote": Field(f"POST {U}/quotes/{{quote_id}}/expire", _id),
    "withdrawQuote": Field(f"POST {U}/quotes/{{quote_id}}/withdraw", _id),
    "pushOrders": Field(
        f"POST {U}/orders:batch",
        lambda w, s, r: {"orders": [camel(_order(w, s))]},
        "status error",
        item=_gql_batch_item,
    ),
    "cancelOrder": Field(f"POST {U}/orders/{{order_id}}/cancel", _id),
    "createShipment": Field(
        f"POST {U}/orders/{{order_id}}/shipments",
        lambda w, s, r: {
            "orderId": r["id"],
            "input": {"carrier": "UPS", "lines": [{"line": 1, "quantity": "1"}]},
        },
    ),
    "createInvoice": Field(f"POST {U}/invoices", lambda w, s, r: {"input": camel(_invoice(w, s))}),
    "recordPayment": Field(
        f"POST {U}/invoices/{{invoice_id}}/payments",
        lambda w, s, r: {"invoiceId": r["id"], "input": {"amount": "1.00"}},
    ),
    "voidInvoice": Field(f"POST {U}/invoices/{{invoice_id}}/void", _id),
    "registerAsset": Field(f"POST {U}/assets", _input("POST", f"{U}/assets")),
    "updateAsset": Field(
        f"PATCH {U}/assets/{{asset_id}}",
        _input("PATCH", f"{U}/assets/{{asset_id}}", with_id=True),
    ),
    "openServiceRequest": Field(
        f"POST {U}/service-requests", _input("POST", f"{U}/service-requests")
    ),
    "assignServiceRequest": Field(
        f"POST {U}/service-requests/{{request_id}}/assign",
        _flat("POST", f"{U}/service-requests/{{request_id}}/assign"),
    ),
    "startServiceRequest": Field(f"POST {U}/service-requests/{{request_id}}/start", _id),
    "waitOnCustomer": Field(f"POST {U}/service-requests/{{request_id}}/wait-on-customer", _id),
    "resumeServiceRequest": Field(f"POST {U}/service-requests/{{request_id}}/resume", _id),
    "resolveServiceRequest": Field(
        f"POST {U}/service-requests/{{request_id}}/resolve",
        lambda w, s, r: {"id": r["id"], "resolution": "Fixed", "notifyCustomer": False},
    ),
    "evaluateServiceRequest": Field(
        f"POST {U}/service-requests/{{request_id}}/evaluate",
        lambda w, s, r: {"id": r["id"], "satisfied": True, "score": 5},
    ),
    "closeServiceRequest": Field(f"POST {U}/service-requests/{{request_id}}/close", _id),
    "reopenServiceRequest": Field(f"POST {U}/service-requests/{{request_id}}/reopen", _id),
    "addServiceNote": Field(
        f"POST {U}/service-requests/{{request_id}}/notes",
        lambda w, s, r: {"id": r["id"], "text": "Noted"},
    ),
    "replyToServiceRequest": Field(
        f"POST {U}/service-requests/{{request_id}}/replies",
        lambda w, s, r: {"id": r["id"], "text": "On it"},
    ),
    "notifyCustomer": Field(
        f"POST {U}/service-requests/{{request_id}}/notify",
        lambda w, s, r: {
            "id": r["id"],
            "to": "customer@example.com",
            "template": "update",
            "message": "Update",
        },
    ),
    "createActivity": Field(f"POST {U}/activities", _input("POST", f"{U}/activities")),
    "updateActivity": Field(
        f"PATCH {U}/activities/{{activity_id}}",
        _input("PATCH", f"{U}/activities/{{activity_id}}", with_id=True),
    ),
    "createTask": Field(f"POST {U}/tasks", _input("POST", f"{U}/tasks")),
    "completeTask": Field(f"POST {U}/tasks/{{task_id}}/complete", _id),
    "cancelTask": Field(f"POST {U}/tasks/{{task_id}}/cancel", _id),
    "reopenTask": Field(f"POST {U}/tasks/{{task_id}}/reopen", _id),
    "reassignTask": Field(
        f"POST {U}/tasks/{{task_id}}/reassign",
        lambda w, s, r: {"id": r["id"], "assigneeId": w.owner(s)},
    ),
    "createWorkPlan": Field(
        f"POST {U}/work-plans",
        lambda w, s, r: {"period": w.next_day(), "items": [{"text": "Visit"}]},
    ),
    "changeWorkPlanItems": Field(
        f"PUT {U}/work-plans/{{plan_id}}/items",
        lambda w, s, r: {"id": r["id"], "items": [{"text": "Visit"}]},
    ),
    "submitWorkPlan": Field(f"POST {U}/work-plans/{{plan_id}}/submit", _id),
    "editWorkPlan": Field(
        f"POST {U}/work-plans/{{plan_id}}/edit",
        lambda w, s, r: {"id": r["id"], "items": [{"text": "Visit twice"}]},
    ),
    "commentWorkPlan": Field(
        f"POST {U}/work-plans/{{plan_id}}/comments",
        lambda w, s, r: {"id": r["id"], "text": "Good"},
    ),
    "returnWorkPlan": Field(
        f"POST {U}/work-plans/{{plan_id}}/return",
        lambda w, s, r: {"id": r["id"], "comment": "More"},
    ),
    "acceptWorkPlan": Field(f"POST {U}/work-plans/{{plan_id}}/accept", _id),
    "submitWorkPlanSummary": Field(
        f"POST {U}/work-plans/{{plan_id}}/summary",
        lambda w, s, r: {
            "id": r["id"],
            "text": "Done",
            "outcomes": [{"itemId": "1", "done": True}],
        },
    ),
    "issueMeetingNotice": Field(
        f"POST {U}/meeting-notices", _input("POST", f"{U}/meeting-notices")
    ),
    "acknowledgeMeetingNotice": Field(f"POST {U}/meeting-notices/{{notice_id}}/acknowledge", _id),
    "cancelMeetingNotice": Field(f"POST {U}/meeting-notices/{{notice_id}}/cancel", _id),
    "fileMatterReport": Field(
        f"POST {U}/matter-reports",
        lambda w, s, r: {
            "input": {"title": "Competitor", "text": "Cheaper", "severity": "low", "links": []}
        },
    ),
    "acknowledgeMatterReport": Field(f"POST {U}/matter-reports/{{report_id}}/acknowledge", _id),
    "sync": Field(
        f"POST {U}/sync",
        lambda w, s, r: {"commands": camel(_rest_body("POST", f"{U}/sync")(w, s)["commands"])},
        "results { problem }",
        item=_gql_sync_item,
    ),
    "acknowledgeAlert": Field(f"POST {U}/alerts/{{alert_id}}/acknowledge", _id),
}
GRAPHQL_SUBSCRIPTIONS = {"events": FEED_READ, "alerts": READ_ALL_ROLES}
"""Subscriptions run over WebSockets; their rules are listed for completeness."""
GRAPHQL_TRANSPORT = {("GET", "/graphql"), ("POST", "/graphql")}
"""The GraphQL endpoint itself: its fields are checked one by one instead."""


def gql_rule(name: str) -> Policy:
    method, path = GRAPHQL_FIELDS[name].route.split(" ", 1)
    return REST_RULES[(method, path)]


def send_gql(
    w: World, operation: str, name: str, role: str, side: str, arg_types: dict[str, str]
) -> Answer:
    """Call one root field as `role` on `side`'s record; the outcome is the REST status its
    error carries (extensions.status), 200 without an error."""
    spec = GRAPHQL_FIELDS[name]
    method, path = spec.route.split(" ", 1)
    call = call_for(method, path)
    params = [p.strip("{}") for p in path.split("/") if p.startswith("{")]
    record = None
    if call.fresh:
        record = w.fresh(call.fresh, side)
    elif params and params[0] in PARAM_KINDS:
        record = w.rec(side, PARAM_KINDS[params[0]])
    args = spec.args(w, side, record)
    declared = ", ".join(f"${k}: {arg_types[k]}" for k in args)
    passed = ", ".join(f"{k}: ${k}" for k in args)
    head = f"{operation} Q({declared})" if args else operation
    call_text = f"{name}({passed})" if args else name
    query = f"{head} {{ {call_text} {{ {spec.selection} }} }}"
    response = w.client.post(
        "/graphql", json={"query": query, "variables": args}, headers=w.headers(role)
    )
    if call.after:
        call.after(w)
    text = f"{name} as {role} on {side}: {response.status_code} {response.text[:300]}"
    body = response.json()
    errors = body.get("errors") or []
    if errors:
        extensions = errors[0].get("extensions") or {}
        return Answer(int(extensions.get("status", 500)), extensions.get("code"), text)
    if spec.item is not None:
        problem = spec.item(body["data"][name])
        if problem is not None:
            return Answer(*problem, text)
    return Answer(response.status_code, None, text)


@contextmanager
def open_world(store: str, folder: Path, request: Any) -> Iterator[World]:
    """A world on its own app and database, for a module's tests: `store` is "sqlite" or
    "postgres" (the session's database, emptied first), as tests/conftest.py splits them."""
    from fastapi.testclient import TestClient

    from crm_api.app import create_app
    from crm_api.application.services import Services
    from crm_api.settings import Settings
    from tests.conftest import _empty_postgres
    from tests.support import FrozenClock

    if store == "postgres":
        url = request.getfixturevalue("postgres_url")
        _empty_postgres(url)
    else:
        template: Path = request.getfixturevalue("sqlite_template")
        for file in template.iterdir():
            if file.name.endswith(".db"):
                shutil.copy(file, folder / file.name)
        url = f"sqlite:///{folder / 'crm.db'}"
    settings = Settings(
        database_url=url,
        jwt_secret="test-secret-" + "x" * 32,
        blob_dir=str(folder / "blobs"),
        webhook_allow="127.0.0.1",
        webhook_delivery=False,
        rate_limit="off",  # thousands of calls per caller: the limit has its own tests
    )
    clock = FrozenClock()
    services = Services(settings, clock)
    app = create_app(settings, clock=clock, services=services, run_workers=False, listen=False)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            company = Company.build(client, settings, clock)
            yield World.build(company, services, clock)
    finally:
        services.close()
