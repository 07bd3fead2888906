"""Service requests (inquiries, complaints, faults, repairs) and the SLA policies they run on.

States: new → assigned → in_progress → waiting_on_customer ↔ in_progress → resolved → closed;
an unsatisfied evaluation of a resolved request reopens it (reopened → assigned | in_progress).
Every state change is its own event carrying `from_state` and `to_state`; a command the state
does not allow is an `invalid_state` error naming the current state. The SLA clock (domain/sla)
is snapshotted from the priority's policy when the request opens; events that move a due time
carry the new one, so a reader never needs the calendar.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from string import Template
from typing import Any
from uuid import UUID, uuid5

from eventsourcing.domain import event

from crm_api.domain.accounts import ERASED
from crm_api.domain.base import CrmAggregate
from crm_api.domain.context import current_stamp
from crm_api.domain.custom_fields import Customisable
from crm_api.domain.errors import FieldError, InvalidTransition, ValidationFailed
from crm_api.domain.opportunities import business_time
from crm_api.domain.sla import SlaClock, SlaTerms, sla_view

KINDS = ("inquiry", "complaint", "fault", "repair")
CHANNELS = ("phone", "email", "web", "call_center", "in_person")
PRIORITIES = ("low", "normal", "high", "urgent")
MAX_TEXT = 5000
ATTACHMENT_KINDS = ("attachment", "recording")
MAX_ATTACHMENTS = 200
MAX_CUSTOMER_TEXT = 100_000
REFERENCE_PREFIX = "SR-"


class State(StrEnum):
    NEW = "new"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    WAITING_ON_CUSTOMER = "waiting_on_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"


S = State
OPEN_STATES = frozenset(S) - {S.RESOLVED, S.CLOSED}
ASSIGNABLE = OPEN_STATES
STARTABLE = frozenset({S.ASSIGNED, S.REOPENED})
REPLYABLE = frozenset(S) - {S.CLOSED}
REOPENABLE = frozenset({S.RESOLVED, S.CLOSED})


def invalid_state(state: State, action: str) -> InvalidTransition:
    return InvalidTransition(
        f"a {state.value} service request cannot be {action}",
        code="invalid_state",
        state=state.value,
    )


def _now() -> datetime:
    return current_stamp()[0].occurred_at


def _text(value: str | None, field: str, required: bool = True) -> str | None:
    if value is None or not value.strip():
        if required:
            raise ValidationFailed([FieldError(field, "must not be empty")])
        return None
    if len(value) > MAX_TEXT:
        raise ValidationFailed([FieldError(field, f"must be at most {MAX_TEXT} characters")])
    return value


# customer notifications

TEMPLATES: dict[str, tuple[str, str]] = {
    "update": (
        "[$reference] $subject",
        "Dear $contact_name,\n\n$message\n\nYour request $reference is now: $state.\n\n"
        "Kind regards,\nCustomer service",
    ),
    "resolved": (
        "[$reference] Resolved: $subject",
        "Dear $contact_name,\n\nyour request $reference has been resolved:\n\n$resolution\n\n"
        "$message\n\nIf the problem persists, reply to this message and we will reopen it.\n\n"
        "Kind regards,\nCustomer service",
    ),
}
"""The placeholders every template may use: $reference, $subject, $state, $contact_name,
$account_name, $resolution, $message (see docs/service.md)."""


def render(template: str, values: dict[str, str]) -> tuple[str, str]:
    subject, body = TEMPLATES[template]
    return Template(subject).safe_substitute(values), Template(body).safe_substitute(values)


class SlaPolicy(CrmAggregate):
    """The SLA promised for one priority (unique per priority)."""

    id: UUID
    kind = "sla_policy"

    @event("Defined")
    def __init__(self, priority: str, terms: dict[str, Any]) -> None:
        self.priority = priority
        self.terms = terms

    @classmethod
    def define(cls, policy_id: UUID, *, priority: str, terms: SlaTerms) -> SlaPolicy:
        return cls.with_id(policy_id, priority=priority, terms=terms.as_dict())

    def change_terms(self, terms: SlaTerms) -> None:
        if terms.as_dict() != self.terms:
            self._terms_changed(terms=terms.as_dict())

    @event("TermsChanged")
    def _terms_changed(self, terms: dict[str, Any]) -> None:
        self.terms = terms

    @property
    def sla_terms(self) -> SlaTerms:
        return SlaTerms.from_dict(self.terms)


class ServiceRequest(Customisable):
    """A customer's request for service, worked from opening to closing."""

    id: UUID
    kind = "service_request"
    record_type = "service-requests"
    # A customer notification carries the contact's address and name, a customer's email its
    # sender and text: all sealed under the contact's own key (crm_api/privacy), so erasing the
    # contact erases them here too.
    personal_fields = {"to": ERASED, "body": ERASED, "sender": ERASED}
    personal_subject = "contact_id"

    class Opened(CrmAggregate.Created):
        account_id: str
        asset_id: str | None
        product_id: str | None
        contact_id: str | None
        kind: str
        channel: str
        priority: str
        subject: str
        description: str | None
        sla_terms: dict[str, Any] | None
        first_response_due_at: datetime | None
        resolve_due_at: datetime | None

    @event(Opened)
    def __init__(
        self,
        account_id: str,
        asset_id: str | None,
        product_id: str | None,
        contact_id: str | None,
        kind: str,
        channel: str,
        priority: str,
        subject: str,
        description: str | None,
        sla_terms: dict[str, Any] | None,
        first_response_due_at: datetime | None,
        resolve_due_at: datetime | None,
    ) -> None:
        self.account_id = account_id
        self.asset_id = asset_id
        self.product_id = product_id
        self.contact_id = contact_id
        self.request_kind = kind
        self.channel = channel
        self.priority = priority
        self.subject = subject
        self.description = description
        self.state = S.NEW
        self.assignee_id: str | None = None
        self.queue_id: str | None = None
        self.routed_by_rule_id: str | None = None
        self.resolution: str | None = None
        self.evaluation: dict[str, Any] | None = None
        self.reopen_count = 0
        self.messages: list[dict[str, Any]] = []
        self.notifications: list[dict[str, Any]] = []
        self.attachments: list[dict[str, Any]] = []
        self.opened_at: datetime | None = None
        self.first_responded_at: datetime | None = None
        self.resolved_at: datetime | None = None
        self.closed_at: datetime | None = None
        terms = SlaTerms.from_dict(sla_terms) if sla_terms else None
        self.clock = SlaClock(terms, first_response_due_at, resolve_due_at)

    @classmethod
    def open(
        cls,
        request_id: UUID,
        *,
        account_id: str,
        asset_id: str | None,
        product_id: str | None,
        contact_id: str | None,
        kind: str,
        channel: str,
        priority: str,
        subject: str,
        description: str | None,
        terms: SlaTerms | None,
    ) -> ServiceRequest:
        errors = [
            FieldError(name, f"must be one of {', '.join(allowed)}")
            for name, value, allowed in (
                ("kind", kind, KINDS),
                ("channel", channel, CHANNELS),
                ("priority", priority, PRIORITIES),
            )
            if value not in allowed
        ]
        if errors:
            raise ValidationFailed(errors)
        _text(subject, "subject")
        _text(description, "description", required=False)
        clock = SlaClock.start(terms, _now())
        return cls.with_id(
            request_id,
            account_id=account_id,
            asset_id=asset_id,
            product_id=product_id,
            contact_id=contact_id,
            kind=kind,
            channel=channel,
            priority=priority,
            subject=subject,
            description=description,
            sla_terms=terms.as_dict() if terms else None,
            first_response_due_at=clock.first_response_due_at,
            resolve_due_at=clock.resolve_due_at,
        )

    # assignment

    def route(self, rule_id: str, assignee_id: str | None, queue_id: str | None) -> None:
        """Routing chose a rule when the request opened."""
        to_state = S.ASSIGNED if assignee_id else self.state
        self._routed(
            rule_id=rule_id,
            assignee_id=assignee_id,
            queue_id=queue_id,
            from_state=self.state.value,
            to_state=to_state.value,
        )

    @event("Routed")
    def _routed(
        self,
        rule_id: str,
        assignee_id: str | None,
        queue_id: str | None,
        from_state: str,
        to_state: str,
    ) -> None:
        self.routed_by_rule_id = rule_id
        self.assignee_id = assignee_id
        self.queue_id = queue_id
        self.state = S(to_state)

    def assign(self, assignee_id: str | None, queue_id: str | None) -> None:
        if self.state not in ASSIGNABLE:
            raise invalid_state(self.state, "assigned")
        if assignee_id is None and queue_id is None:
            raise ValidationFailed([FieldError("assignee_id", "give an assignee or a queue")])
        to_state = self.state
        if assignee_id is not None and self.state in (S.NEW, S.REOPENED):
            to_state = S.ASSIGNED
        if (assignee_id, queue_id, to_state) == (self.assignee_id, self.queue_id, self.state):
            raise InvalidTransition(
                "the request is already assigned there", code="already_assigned", state=self.state
            )
        self._assigned(
            from_assignee_id=self.assignee_id,
            to_assignee_id=assignee_id,
            from_queue_id=self.queue_id,
            to_queue_id=queue_id,
            from_state=self.state.value,
            to_state=to_state.value,
        )

    @event("Assigned")
    def _assigned(
        self,
        from_assignee_id: str | None,
        to_assignee_id: str | None,
        from_queue_id: str | None,
        to_queue_id: str | None,
        from_state: str,
        to_state: str,
    ) -> None:
        self.assignee_id = to_assignee_id
        self.queue_id = to_queue_id
        self.state = S(to_state)

    # work

    def start(self) -> None:
        if self.state not in STARTABLE:
            raise invalid_state(self.state, "started")
        if self.assignee_id is None:
            raise InvalidTransition(
                "assign the request before starting it", code="invalid_state", state=self.state
            )
        self._started(from_state=self.state.value, to_state=S.IN_PROGRESS.value)

    @event("Started")
    def _started(self, from_state: str, to_state: str) -> None:
        self.state = S(to_state)

    def wait_on_customer(self, reason: str | None) -> None:
        if self.state is not S.IN_PROGRESS:
            raise invalid_state(self.state, "put to wait on the customer")
        _text(reason, "reason", required=False)
        self._waiting_on_customer(
            from_state=self.state.value, to_state=S.WAITING_ON_CUSTOMER.value, reason=reason
        )

    @event("WaitingOnCustomer")
    def _waiting_on_customer(self, from_state: str, to_state: str, reason: str | None) -> None:
        self.state = S(to_state)

    def resume(self) -> None:
        if self.state is not S.WAITING_ON_CUSTOMER:
            raise invalid_state(self.state, "resumed")
        clock = self.clock.resume(_now())
        self._resumed(
            from_state=self.state.value,
            to_state=S.IN_PROGRESS.value,
            first_response_due_at=clock.first_response_due_at,
            resolve_due_at=clock.resolve_due_at,
            paused_seconds=clock.paused_seconds,
        )

    @event("Resumed")
    def _resumed(
        self,
        from_state: str,
        to_state: str,
        first_response_due_at: datetime | None,
        resolve_due_at: datetime | None,
        paused_seconds: float,
    ) -> None:
        self.state = S(to_state)
        self.clock = SlaClock(
            self.clock.terms, first_response_due_at, resolve_due_at, None, paused_seconds
        )

    def resolve(self, resolution: str | None) -> None:
        if self.state is not S.IN_PROGRESS:
            raise invalid_state(self.state, "resolved")
        self._resolved(
            from_state=self.state.value,
            to_state=S.RESOLVED.value,
            resolution=_text(resolution, "resolution") or "",
        )

    @event("Resolved")
    def _resolved(self, from_state: str, to_state: str, resolution: str) -> None:
        self.state = S(to_state)
        self.resolution = resolution

    def evaluate(self, satisfied: bool, score: int, comment: str | None) -> None:
        """The customer's verdict: satisfied closes the request, unsatisfied reopens it."""
        if self.state is not S.RESOLVED:
            raise invalid_state(self.state, "evaluated")
        if not 1 <= score <= 5:
            raise ValidationFailed([FieldError("score", "must be between 1 and 5")])
        _text(comment, "comment", required=False)
        self._evaluated(satisfied=satisfied, score=score, comment=comment)
        if satisfied:
            self._closed(from_state=self.state.value, to_state=S.CLOSED.value, reason="satisfied")
        else:
            self._reopen("unsatisfied")

    @event("Evaluated")
    def _evaluated(self, satisfied: bool, score: int, comment: str | None) -> None:
        self.evaluation = {"satisfied": satisfied, "score": score, "comment": comment}

    def close(self, *, administrative: bool, reason: str | None) -> None:
        """Close a resolved request; `administrative` (a manager's or admin's decision) closes
        one in any open state too."""
        if self.state is S.CLOSED or (self.state is not S.RESOLVED and not administrative):
            raise invalid_state(self.state, "closed")
        _text(reason, "reason", required=False)
        self._closed(
            from_state=self.state.value,
            to_state=S.CLOSED.value,
            reason=reason or ("resolved" if self.state is S.RESOLVED else "administrative"),
        )

    @event("Closed")
    def _closed(self, from_state: str, to_state: str, reason: str) -> None:
        self.state = S(to_state)

    def reopen(self, reason: str | None) -> None:
        if self.state not in REOPENABLE:
            raise invalid_state(self.state, "reopened")
        _text(reason, "reason", required=False)
        self._reopen(reason or "reopened")

    def _reopen(self, reason: str) -> None:
        clock = self.clock.restart(_now())
        self._reopened(
            from_state=self.state.value,
            to_state=S.REOPENED.value,
            reason=reason,
            resolve_due_at=clock.resolve_due_at,
        )

    @event("Reopened")
    def _reopened(
        self, from_state: str, to_state: str, reason: str, resolve_due_at: datetime | None
    ) -> None:
        self.state = S(to_state)
        self.resolution = None
        self.reopen_count += 1
        self.clock = SlaClock(
            self.clock.terms,
            self.clock.first_response_due_at,
            resolve_due_at,
            None,
            self.clock.paused_seconds,
        )

    # conversation

    def add_note(self, text: str | None) -> str:
        """An internal note: never shown in customer-facing views or messages."""
        return self._message("note", text)

    def reply(self, text: str | None) -> str:
        """A reply the customer sees; the first one (or starting work) is the first response."""
        if self.state not in REPLYABLE:
            raise invalid_state(self.state, "replied to")
        return self._message("reply", text)

    def _message(self, kind: str, text: str | None) -> str:
        body = _text(text, "text") or ""
        message_id = str(uuid5(self.id, f"message:{self.version}"))
        if kind == "note":
            self._note_added(message_id=message_id, text=body)
        else:
            self._replied(message_id=message_id, text=body)
        return message_id

    @event("NoteAdded")
    def _note_added(self, message_id: str, text: str) -> None:
        self.messages = [*self.messages, {"id": message_id, "kind": "note", "text": text}]

    @event("Replied")
    def _replied(self, message_id: str, text: str) -> None:
        self.messages = [*self.messages, {"id": message_id, "kind": "reply", "text": text}]

    def notify_customer(
        self, *, to: str, template: str, values: dict[str, str], message: str | None
    ) -> None:
        """Record the email to the customer (the log is the outbox: see docs/service.md)."""
        if template not in TEMPLATES:
            raise ValidationFailed(
                [FieldError("template", f"must be one of {', '.join(TEMPLATES)}")]
            )
        _text(message, "message", required=False)
        subject, body = render(
            template,
            {
                "reference": self.reference,
                "subject": self.subject,
                "state": self.state.value.replace("_", " "),
                "resolution": self.resolution or "",
                "message": message or "",
                **values,
            },
        )
        message_id = str(uuid5(self.id, f"notification:{self.version}"))
        self._customer_notified(
            message_id=message_id,
            contact_id=self.contact_id,
            to=to,
            subject=subject,
            body=body,
            template=template,
        )

    @event("CustomerNotified")
    def _customer_notified(
        self,
        message_id: str,
        contact_id: str | None,
        to: str,
        subject: str,
        body: str,
        template: str,
    ) -> None:
        self.notifications = [
            *self.notifications,
            {"id": message_id, "to": to, "subject": subject, "template": template},
        ]

    @property
    def reference(self) -> str:
        """What customers see in subjects (`[SR-1a2b3c4d]`), and inbound email threads by."""
        return f"{REFERENCE_PREFIX}{str(self.id)[:8]}"

    def receive_customer_message(
        self,
        *,
        sender: str,
        subject: str,
        body: str,
        email_message_id: str,
        inbound_id: str | None = None,
    ) -> str:
        """The customer wrote (an inbound email threaded to this request). A request waiting on
        the customer resumes; a resolved or closed one reopens (the resolution email promises
        it); in any other state the message is just recorded."""
        message_id = str(uuid5(self.id, f"message:{self.version}"))
        self._customer_message_received(
            message_id=message_id,
            contact_id=self.contact_id,
            sender=sender,
            subject=subject[:998],
            body=body[:MAX_CUSTOMER_TEXT],
            email_message_id=email_message_id,
            inbound_id=inbound_id,
        )
        if self.state is S.WAITING_ON_CUSTOMER:
            self.resume()
        elif self.state in REOPENABLE:
            self._reopen("customer replied")
        return message_id

    @event("CustomerMessageReceived")
    def _customer_message_received(
        self,
        message_id: str,
        contact_id: str | None,
        sender: str,
        subject: str,
        body: str,
        email_message_id: str,
        inbound_id: str | None,
    ) -> None:
        self.messages = [
            *self.messages,
            {"id": message_id, "kind": "customer", "text": body},
        ]

    # attachments and call recordings (their content is in the blob store, by sha256)

    def add_attachment(
        self,
        *,
        sha256: str,
        size: int,
        content_type: str,
        filename: str,
        kind: str,
        description: str | None,
    ) -> str:
        if kind not in ATTACHMENT_KINDS:
            raise ValidationFailed(
                [FieldError("kind", f"must be one of {', '.join(ATTACHMENT_KINDS)}")]
            )
        if size <= 0:
            raise ValidationFailed([FieldError("file", "must not be empty")])
        if len(self.attachments) >= MAX_ATTACHMENTS:
            raise InvalidTransition(
                f"a service request holds at most {MAX_ATTACHMENTS} attachments",
                code="too_many_attachments",
                state=self.state.value,
            )
        _text(description, "description", required=False)
        attachment_id = str(uuid5(self.id, f"attachment:{self.version}"))
        self._attachment_added(
            attachment_id=attachment_id,
            contact_id=self.contact_id,
            sha256=sha256,
            size=size,
            content_type=content_type,
            filename=filename,
            kind=kind,
            description=description,
        )
        return attachment_id

    @event("AttachmentAdded")
    def _attachment_added(
        self,
        attachment_id: str,
        contact_id: str | None,
        sha256: str,
        size: int,
        content_type: str,
        filename: str,
        kind: str,
        description: str | None,
    ) -> None:
        self.attachments = [
            *self.attachments,
            {
                "id": attachment_id,
                "sha256": sha256,
                "size": size,
                "content_type": content_type,
                "filename": filename,
                "kind": kind,
                "description": description,
            },
        ]

    def attachment(self, attachment_id: str) -> dict[str, Any] | None:
        return next((a for a in self.attachments if a["id"] == attachment_id), None)

    # times, from each event's business time (also when replayed)

    def _observe(self, e: Any) -> None:
        at = business_time(e)
        name = type(e).__name__
        if name == "Opened":
            self.opened_at = at
        elif name == "Started" or (name == "Replied" and self.first_responded_at is None):
            self.first_responded_at = self.first_responded_at or at
        elif name == "WaitingOnCustomer":
            self.clock = self.clock.pause(at)
        elif name == "Resolved":
            self.resolved_at = at
        elif name == "Closed":
            self.closed_at = at
            self.resolved_at = self.resolved_at or at
        elif name == "Reopened":
            self.resolved_at = None
            self.closed_at = None
        if "message_id" in vars(e) and name != "CustomerNotified":
            self.messages[-1]["at"] = at
        elif name == "AttachmentAdded":
            self.attachments[-1].update(added_at=at, added_by=e.meta.get("actor"))

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def sla(self, now: datetime) -> dict[str, Any]:
        return sla_view(
            first_response_due_at=self.clock.first_response_due_at,
            resolve_due_at=self.clock.resolve_due_at,
            paused_since=self.clock.paused_since,
            paused_seconds=self.clock.paused_seconds,
            first_responded_at=self.first_responded_at,
            resolved_at=self.resolved_at,
            now=now,
        )
