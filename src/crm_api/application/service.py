"""Commands and reads of the service area: assets, service requests (opened, routed, worked,
evaluated), and their administration (SLA policies, routing rules, queues); plus the mailer
that sends recorded customer notifications by SMTP when one is configured.

Who sees what: assets and service requests are visible through their ACCOUNT's owner (a rep
its accounts', a manager its team's, an assistant its rep's); a service agent sees the requests
assigned to it or to a queue it is a member of; admins and auditors see everything.
"""

from __future__ import annotations

import logging
import smtplib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any
from uuid import UUID

from sqlalchemy import Engine

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.application.custom_fields import (
    change_custom_fields,
    custom_fields_on_create,
    with_custom_fields,
)
from crm_api.domain.accounts import Account, Contact
from crm_api.domain.assets import SERIAL, Asset
from crm_api.domain.base import CrmAggregate
from crm_api.domain.catalog import Product
from crm_api.domain.context import Clock
from crm_api.domain.errors import FieldError, NotFound, ValidationFailed
from crm_api.domain.people import PERMISSIONS, Principal, Role, User
from crm_api.domain.routing import Queue, RequestFacts, RoutingRule, choose_route
from crm_api.domain.service import PRIORITIES, ServiceRequest, SlaPolicy
from crm_api.domain.sla import SlaTerms
from crm_api.domain.uniqueness import UniqueClaim
from crm_api.projections.service import active_routes, due_messages, record_delivery

log = logging.getLogger(__name__)

SLA_PRIORITY = "sla-priority"


def asset_view(asset: Asset) -> dict[str, Any]:
    return {
        "id": str(asset.id),
        **asset.details(),
        "custom_fields": asset.custom_fields,
        "version": asset.version,
        "created_at": asset.created_on,
        "updated_at": asset.modified_on,
    }


def request_view(request: ServiceRequest, now: datetime, internal: bool = True) -> dict[str, Any]:
    """The request; `internal` False leaves internal notes out (the customer-facing view)."""
    return {
        "id": str(request.id),
        "account_id": request.account_id,
        "asset_id": request.asset_id,
        "product_id": request.product_id,
        "contact_id": request.contact_id,
        "kind": request.request_kind,
        "channel": request.channel,
        "priority": request.priority,
        "subject": request.subject,
        "description": request.description,
        "state": request.state.value,
        "assignee_id": request.assignee_id,
        "queue_id": request.queue_id,
        "routed_by_rule_id": request.routed_by_rule_id,
        "resolution": request.resolution,
        "evaluation": request.evaluation,
        "reopen_count": request.reopen_count,
        "opened_at": request.opened_at,
        "first_responded_at": request.first_responded_at,
        "resolved_at": request.resolved_at,
        "closed_at": request.closed_at,
        "sla": request.sla(now),
        "messages": [m for m in request.messages if internal or m["kind"] != "note"],
        "notifications": list(request.notifications),
        "attachments": list(request.attachments),
        "custom_fields": request.custom_fields,
        "version": request.version,
        "created_at": request.created_on,
        "updated_at": request.modified_on,
    }


def policy_view(policy: SlaPolicy) -> dict[str, Any]:
    return {
        "id": str(policy.id),
        "priority": policy.priority,
        **policy.terms,
        "version": policy.version,
        "created_at": policy.created_on,
        "updated_at": policy.modified_on,
    }


def rule_view(rule: RoutingRule) -> dict[str, Any]:
    return {
        "id": str(rule.id),
        "name": rule.name,
        "position": rule.position,
        "conditions": rule.conditions,
        "assignee_id": rule.assignee_id,
        "queue_id": rule.queue_id,
        "active": rule.active,
        "version": rule.version,
        "created_at": rule.created_on,
        "updated_at": rule.modified_on,
    }


def queue_view(queue: Queue) -> dict[str, Any]:
    return {
        "id": str(queue.id),
        "name": queue.name,
        "member_ids": list(queue.member_ids),
        "last_picked": queue.last_picked,
        "version": queue.version,
        "created_at": queue.created_on,
        "updated_at": queue.modified_on,
    }


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed([FieldError(field, message)])


class ServiceDesk:
    """The service area's commands and reads, over the one event-sourced application; routing
    reads the active rules from the read model (`reader`), and records which rule matched."""

    def __init__(self, app: CrmApplication, reader: Engine) -> None:
        self.app = app
        self.reader = reader

    # references

    def _account(self, principal: Principal, account_id: str) -> Account:
        try:
            account = self.app.load(account_id, Account)
            principal.require_sees_owner(account.owner_id, "account", account_id)
        except NotFound:
            raise _invalid("account_id", f"no account {account_id}") from None
        return account

    def _load_ref(self, cls: type[CrmAggregate], record_id: str, field: str) -> Any:
        try:
            return self.app.load(record_id, cls)
        except NotFound:
            raise _invalid(field, f"no {cls.kind.replace('_', ' ')} {record_id}") from None

    def _check_worker(self, user_id: str, field: str) -> None:
        """Requests go to active users whose role works them (service:write)."""
        user = self._load_ref(User, user_id, field)
        if not user.active or "service:write" not in PERMISSIONS[user.role]:
            raise _invalid(field, "must be an active user who works service requests")

    # assets

    @command
    def register_asset(self, ctx: CommandContext, **fields: Any) -> Outcome[Asset]:
        principal = ctx.principal
        principal.require("assets:write")
        self._account(principal, fields["account_id"])
        if fields.get("product_id"):
            self._load_ref(Product, fields["product_id"], "product_id")
        custom = custom_fields_on_create(
            self.app, ctx.principal, "assets", fields.pop("custom_fields", None)
        )

        def build(asset_id: UUID) -> list[CrmAggregate]:
            asset = Asset.register(asset_id, **fields)
            with_custom_fields(asset, custom)
            claim = self.app.claim_unique(SERIAL, asset.serial_key, str(asset_id), "serial_taken")
            return [asset, claim]

        return self.app.create(ctx, Asset, build)

    @command
    def change_asset(
        self,
        ctx: CommandContext,
        asset_id: str,
        changes: dict[str, Any],
        expected_version: int | None,
    ) -> Outcome[Asset]:
        principal = ctx.principal
        principal.require("assets:write")
        changes = dict(changes)
        custom = changes.pop("custom_fields", None)
        if "account_id" in changes:
            self._account(principal, changes["account_id"])
        if changes.get("product_id"):
            self._load_ref(Product, changes["product_id"], "product_id")

        def decide(asset: Asset) -> list[CrmAggregate]:
            old_key = asset.serial_key
            asset.change_details(**changes)
            change_custom_fields(self.app, ctx.principal, asset, custom)
            if asset.serial_key == old_key:
                return []
            claim = self.app.claim_unique(SERIAL, asset.serial_key, str(asset.id), "serial_taken")
            old = self.app.load(UniqueClaim.id_for(SERIAL, old_key), UniqueClaim)
            old.release()
            return [claim, old]

        return self.app.change(
            ctx,
            asset_id,
            Asset,
            decide,
            expected_version=expected_version,
            authorize=self._asset_visible_to(principal),
        )

    def get_asset(self, principal: Principal, asset_id: str) -> Asset:
        principal.require("assets:read")
        asset = self.app.load(asset_id, Asset)
        self._asset_visible_to(principal)(asset)
        return asset

    def _asset_visible_to(self, principal: Principal) -> Callable[[Asset], None]:
        def authorize(asset: Asset) -> None:
            account = self.app.load(asset.account_id, Account)
            principal.require_sees_owner(account.owner_id, "asset", asset.id)

        return authorize

    # service requests

    @command
    def open_request(
        self,
        ctx: CommandContext,
        *,
        account_id: str,
        kind: str,
        channel: str,
        priority: str,
        subject: str,
        description: str | None = None,
        asset_id: str | None = None,
        contact_id: str | None = None,
        custom_fields: dict[str, Any] | None = None,
    ) -> Outcome[ServiceRequest]:
        ctx.principal.require("service:open")
        custom = custom_fields_on_create(self.app, ctx.principal, "service-requests", custom_fields)
        return self.open_routed(
            ctx,
            account_id=account_id,
            kind=kind,
            channel=channel,
            priority=priority,
            subject=subject,
            description=description,
            asset_id=asset_id,
            contact_id=contact_id,
            then=lambda request: request.change_custom_fields(custom),
        )

    @command
    def change_request_custom_fields(
        self,
        ctx: CommandContext,
        request_id: str,
        custom_fields: dict[str, Any],
        expected_version: int | None,
    ) -> Outcome[ServiceRequest]:
        """Whoever may open requests on the account writes their custom fields, in any
        state."""
        return self._work(
            ctx,
            request_id,
            lambda request: change_custom_fields(self.app, ctx.principal, request, custom_fields),
            expected_version,
            permission="service:open",
        )

    def open_routed(
        self,
        ctx: CommandContext,
        *,
        account_id: str,
        kind: str,
        channel: str,
        priority: str,
        subject: str,
        description: str | None = None,
        asset_id: str | None = None,
        contact_id: str | None = None,
        then: Callable[[ServiceRequest], None] | None = None,
    ) -> Outcome[ServiceRequest]:
        """Open a request (checked references, SLA terms, routing) for a caller whose right to
        do so the command has checked; `then` records more on the new request in the same save
        (inbound email: the customer's message and its attachments)."""
        principal = ctx.principal
        account = self._account(principal, account_id)
        product_id = None
        if asset_id is not None:
            asset = self._load_ref(Asset, asset_id, "asset_id")
            if asset.account_id != str(account.id):
                raise _invalid("asset_id", "the asset belongs to another account")
            product_id = asset.product_id
        if contact_id is not None:
            contact = self._load_ref(Contact, contact_id, "contact_id")
            if contact.account_id != str(account.id):
                raise _invalid("contact_id", "the contact belongs to another account")
        terms = self.policy_terms(priority)
        facts = RequestFacts(kind, priority, product_id, account.manual_grade, account.owner_id)
        with self.reader.connect() as conn:
            route = choose_route(active_routes(conn), facts)

        def build(request_id: UUID) -> list[CrmAggregate]:
            request = ServiceRequest.open(
                request_id,
                account_id=str(account.id),
                asset_id=asset_id,
                product_id=product_id,
                contact_id=contact_id,
                kind=kind,
                channel=channel,
                priority=priority,
                subject=subject,
                description=description,
                terms=terms,
            )
            if then is not None:
                then(request)
            if route is None:
                return [request]
            if route.queue_id is None:
                request.route(route.rule_id, route.assignee_id, None)
                return [request]
            queue = self.app.load(route.queue_id, Queue)
            request.route(route.rule_id, queue.pick(str(request_id)), route.queue_id)
            return [request, queue]

        return self.app.create(ctx, ServiceRequest, build)

    def policy_terms(self, priority: str) -> SlaTerms | None:
        policy = self.policy_for(priority)
        return policy.sla_terms if policy else None

    @command
    def assign(
        self,
        ctx: CommandContext,
        request_id: str,
        assignee_id: str | None,
        queue_id: str | None,
        expected_version: int | None,
    ) -> Outcome[ServiceRequest]:
        principal = ctx.principal
        principal.require("service:assign")
        if assignee_id is not None:
            self._check_worker(assignee_id, "assignee_id")
        if queue_id is not None:
            self._load_ref(Queue, queue_id, "queue_id")
        return self._work(
            ctx, request_id, lambda r: r.assign(assignee_id, queue_id), expected_version, None
        )

    @command
    def start(self, ctx: CommandContext, request_id: str, v: int | None) -> Outcome[ServiceRequest]:
        return self._work(ctx, request_id, lambda r: r.start(), v)

    @command
    def wait_on_customer(
        self, ctx: CommandContext, request_id: str, reason: str | None, v: int | None
    ) -> Outcome[ServiceRequest]:
        return self._work(ctx, request_id, lambda r: r.wait_on_customer(reason), v)

    @command
    def resume(
        self, ctx: CommandContext, request_id: str, v: int | None
    ) -> Outcome[ServiceRequest]:
        return self._work(ctx, request_id, lambda r: r.resume(), v)

    @command
    def resolve(
        self,
        ctx: CommandContext,
        request_id: str,
        resolution: str | None,
        notify_customer: bool,
        v: int | None,
    ) -> Outcome[ServiceRequest]:
        def decide(request: ServiceRequest) -> None:
            request.resolve(resolution)
            if notify_customer:
                to = self._recipient(request, None, required=False)
                if to is not None:
                    self._notify(request, to, "resolved", None)

        return self._work(ctx, request_id, decide, v)

    @command
    def evaluate(
        self,
        ctx: CommandContext,
        request_id: str,
        satisfied: bool,
        score: int,
        comment: str | None,
        v: int | None,
    ) -> Outcome[ServiceRequest]:
        return self._work(
            ctx, request_id, lambda r: r.evaluate(satisfied, score, comment), v, "service:open"
        )

    @command
    def close(
        self, ctx: CommandContext, request_id: str, reason: str | None, v: int | None
    ) -> Outcome[ServiceRequest]:
        administrative = ctx.principal.permits("service:assign")
        return self._work(
            ctx, request_id, lambda r: r.close(administrative=administrative, reason=reason), v
        )

    @command
    def reopen(
        self, ctx: CommandContext, request_id: str, reason: str | None, v: int | None
    ) -> Outcome[ServiceRequest]:
        return self._work(ctx, request_id, lambda r: r.reopen(reason), v)

    @command
    def add_note(self, ctx: CommandContext, request_id: str, text: str) -> Outcome[ServiceRequest]:
        return self._work(ctx, request_id, lambda r: r.add_note(text), None, "service:open")

    @command
    def reply(self, ctx: CommandContext, request_id: str, text: str) -> Outcome[ServiceRequest]:
        return self._work(ctx, request_id, lambda r: r.reply(text), None)

    @command
    def add_attachment(
        self, ctx: CommandContext, request_id: str, attachment: dict[str, Any]
    ) -> Outcome[ServiceRequest]:
        """Record an attachment or call recording whose content is already in the blob store."""
        return self._work(
            ctx, request_id, lambda r: r.add_attachment(**attachment), None, "service:open"
        )

    def get_attachment(
        self, principal: Principal, request_id: str, attachment_id: str
    ) -> dict[str, Any]:
        attachment = self.get_request(principal, request_id).attachment(attachment_id)
        if attachment is None:
            raise NotFound(f"attachment {attachment_id} not found")
        return attachment

    @command
    def notify(
        self,
        ctx: CommandContext,
        request_id: str,
        to: str | None,
        template: str,
        message: str | None,
    ) -> Outcome[ServiceRequest]:
        def decide(request: ServiceRequest) -> None:
            recipient = self._recipient(request, to, required=True)
            self._notify(request, recipient or "", template, message)

        return self._work(ctx, request_id, decide, None)

    def _recipient(self, request: ServiceRequest, to: str | None, required: bool) -> str | None:
        if to is not None:
            return to
        if request.contact_id is not None:
            email: str | None = self.app.load(request.contact_id, Contact).email
            if email:
                return email
        if required:
            raise _invalid("to", "the request's contact has no email address: give one")
        return None

    def _notify(self, request: ServiceRequest, to: str, template: str, message: str | None) -> None:
        account = self.app.load(request.account_id, Account)
        contact = self.app.load(request.contact_id, Contact) if request.contact_id else None
        request.notify_customer(
            to=to,
            template=template,
            values={
                "account_name": account.name,
                "contact_name": contact.name if contact else account.name,
            },
            message=message,
        )

    def _work(
        self,
        ctx: CommandContext,
        request_id: str,
        decide: Callable[[ServiceRequest], Any],
        expected_version: int | None,
        permission: str | None = "service:write",
    ) -> Outcome[ServiceRequest]:
        if permission is not None:
            ctx.principal.require(permission)

        def apply(request: ServiceRequest) -> None:
            decide(request)

        return self.app.change(
            ctx,
            request_id,
            ServiceRequest,
            apply,
            expected_version=expected_version,
            authorize=self._request_visible_to(ctx.principal),
        )

    def get_request(self, principal: Principal, request_id: str) -> ServiceRequest:
        principal.require("service:read")
        request = self.app.load(request_id, ServiceRequest)
        self._request_visible_to(principal)(request)
        return request

    def _request_visible_to(self, principal: Principal) -> Callable[[ServiceRequest], None]:
        def authorize(request: ServiceRequest) -> None:
            if principal.training:
                return
            if principal.role is Role.SERVICE_AGENT:
                if request.assignee_id == principal.id or (
                    request.queue_id is not None
                    and principal.id in self.app.load(request.queue_id, Queue).member_ids
                ):
                    return
                raise NotFound(f"service request {request.id} not found")
            account = self.app.load(request.account_id, Account)
            principal.require_sees_owner(account.owner_id, "service request", request.id)

        return authorize

    # administration: SLA policies, routing rules, queues

    def policy_for(self, priority: str) -> SlaPolicy | None:
        try:
            claim = self.app.load(UniqueClaim.id_for(SLA_PRIORITY, priority), UniqueClaim)
        except NotFound:
            return None
        return None if claim.holder_id is None else self.app.load(claim.holder_id, SlaPolicy)

    @command
    def define_policy(
        self, ctx: CommandContext, *, priority: str, terms: SlaTerms
    ) -> Outcome[SlaPolicy]:
        ctx.principal.require("service:admin")
        if priority not in PRIORITIES:
            raise _invalid("priority", f"must be one of {', '.join(PRIORITIES)}")

        def build(policy_id: UUID) -> list[CrmAggregate]:
            claim = self.app.claim_unique(
                SLA_PRIORITY, priority, str(policy_id), "sla_policy_exists"
            )
            return [SlaPolicy.define(policy_id, priority=priority, terms=terms), claim]

        return self.app.create(ctx, SlaPolicy, build)

    @command
    def change_policy(
        self, ctx: CommandContext, policy_id: str, terms: SlaTerms, expected_version: int | None
    ) -> Outcome[SlaPolicy]:
        ctx.principal.require("service:admin")
        return self.app.change(
            ctx,
            policy_id,
            SlaPolicy,
            lambda p: p.change_terms(terms),
            expected_version=expected_version,
        )

    def get_policy(self, principal: Principal, policy_id: str) -> SlaPolicy:
        principal.require("service:read")
        return self.app.load(policy_id, SlaPolicy)

    def _check_target(self, assignee_id: str | None, queue_id: str | None) -> None:
        if assignee_id is not None:
            self._check_worker(assignee_id, "assignee_id")
        if queue_id is not None:
            self._load_ref(Queue, queue_id, "queue_id")

    @command
    def define_rule(self, ctx: CommandContext, **fields: Any) -> Outcome[RoutingRule]:
        ctx.principal.require("service:admin")
        self._check_target(fields.get("assignee_id"), fields.get("queue_id"))
        return self.app.create(
            ctx, RoutingRule, lambda rule_id: [RoutingRule.define(rule_id, **fields)]
        )

    @command
    def change_rule(
        self,
        ctx: CommandContext,
        rule_id: str,
        changes: dict[str, Any],
        expected_version: int | None,
    ) -> Outcome[RoutingRule]:
        ctx.principal.require("service:admin")
        self._check_target(changes.get("assignee_id"), changes.get("queue_id"))
        return self.app.change(
            ctx,
            rule_id,
            RoutingRule,
            lambda r: r.change(**changes),
            expected_version=expected_version,
        )

    @command
    def retire_rule(
        self, ctx: CommandContext, rule_id: str, expected_version: int | None
    ) -> Outcome[RoutingRule]:
        ctx.principal.require("service:admin")
        return self.app.change(
            ctx, rule_id, RoutingRule, lambda r: r.retire(), expected_version=expected_version
        )

    def get_rule(self, principal: Principal, rule_id: str) -> RoutingRule:
        principal.require("service:read")
        return self.app.load(rule_id, RoutingRule)

    @command
    def form_queue(
        self, ctx: CommandContext, *, name: str, member_ids: list[str]
    ) -> Outcome[Queue]:
        ctx.principal.require("service:admin")
        for index, member_id in enumerate(member_ids):
            self._check_worker(member_id, f"member_ids[{index}]")
        return self.app.create(
            ctx, Queue, lambda queue_id: [Queue.form(queue_id, name=name, member_ids=member_ids)]
        )

    @command
    def change_queue(
        self,
        ctx: CommandContext,
        queue_id: str,
        changes: dict[str, Any],
        expected_version: int | None,
    ) -> Outcome[Queue]:
        ctx.principal.require("service:admin")
        for index, member_id in enumerate(changes.get("member_ids") or []):
            self._check_worker(member_id, f"member_ids[{index}]")
        return self.app.change(
            ctx, queue_id, Queue, lambda q: q.change(**changes), expected_version=expected_version
        )

    def get_queue(self, principal: Principal, queue_id: str) -> Queue:
        principal.require("service:read")
        return self.app.load(queue_id, Queue)


class CustomerMailer:
    """Sends the recorded customer notifications (the outbox table the service projection fills
    from `ServiceRequestCustomerNotified`) through SMTP, at least once, with backoff; each
    attempt's outcome is kept in `service_email_deliveries`."""

    def __init__(
        self,
        *,
        reader: Engine,
        writer: Engine,
        clock: Clock,
        host: str,
        port: int,
        sender: str,
        timeout: float,
        max_attempts: int = 8,
    ) -> None:
        self.reader = reader
        self.writer = writer
        self.clock = clock
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout = timeout
        self.max_attempts = max_attempts

    def deliver_due(self, limit: int = 100) -> int:
        """Send every message due now; returns how many were sent."""
        now = self.clock.now()
        with self.reader.connect() as conn:
            due = due_messages(conn, now, limit)
        sent = 0
        retry: datetime | None
        detail: str | None
        for message in due:
            attempts = message["attempts"] + 1
            retry = None
            try:
                self._send(message)
            except (OSError, smtplib.SMTPException) as error:
                log.warning("sending customer email %s failed: %s", message["message_id"], error)
                if attempts < self.max_attempts:
                    retry = now + timedelta(seconds=min(30 * 2 ** (attempts - 1), 3600))
                status, detail = ("retrying" if retry else "failed"), str(error)[:500]
            else:
                status, detail = "sent", None
                sent += 1
            with self.writer.begin() as conn:
                record_delivery(conn, message["message_id"], status, attempts, detail, retry, now)
        return sent

    def _send(self, message: dict[str, Any]) -> None:
        email = EmailMessage()
        email["From"] = self.sender
        email["To"] = message["to"]
        email["Subject"] = message["subject"]
        email["Message-ID"] = f"<{message['message_id']}@crm-api>"
        email.set_content(message["body"])
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(email)

    def run_forever(self, stop: threading.Event, wait: Callable[[float], None]) -> None:
        while not stop.is_set():
            try:
                self.deliver_due()
            except Exception:
                log.exception("the customer mailer failed; will retry")
            wait(5.0)
