"""Quotes: priced revisions, the approval that names one revision, and what the customer did.

The rules (API.md "Quotes"):
- every change to lines or terms is a new revision, priced against the catalogue as it stands
  when the revision is written (list, floor and cost are copied onto each line, so an auditor
  sees the price relative to the policy of that moment, whatever the catalogue says later);
- submitting a revision whose every line is at or above floor approves it at once
  (`approved_by: "policy"`); otherwise it waits for a manager whose approval limit covers the
  deepest discount on the quote, who is not one of the quote's authors, and who names the
  revision approved;
- revising an approved (or sent) quote voids the approval and returns it to draft;
- only an approved quote is sent, only a sent one is accepted or rejected by the customer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.catalog import CENT
from crm_api.domain.custom_fields import Customisable
from crm_api.domain.errors import (
    FieldError,
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)

POLICY = "policy"
PCT = Decimal("0.01")
QUANTUM = Decimal("0.001")
"""Quantities are kept to three decimals (2 → 2.000), the read model's precision."""
MAX_LINES = 200


class QuoteState(StrEnum):
    DRAFT = "draft"
    PENDING_APPROVAL = "pending_approval"
    APPROVED = "approved"
    SENT = "sent"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    EXPIRED = "expired"
    WITHDRAWN = "withdrawn"


S = QuoteState
REVISABLE = frozenset({S.DRAFT, S.PENDING_APPROVAL, S.APPROVED, S.SENT, S.REJECTED})
OPEN = frozenset({S.DRAFT, S.PENDING_APPROVAL, S.APPROVED, S.SENT})
WITHDRAWABLE = REVISABLE
CARRIES_APPROVAL = frozenset({S.APPROVED, S.SENT, S.ACCEPTED})
AUTHORING_EVENTS = frozenset({"QuoteCreated", "QuoteRevised", "QuoteSubmitted"})


@dataclass(frozen=True)
class CatalogPrice:
    """What the catalogue says about a product when a line is priced."""

    product_id: str
    sku: str
    name: str
    list_price: Decimal
    floor_price: Decimal
    unit_cost: Decimal
    currency: str
    active: bool


@dataclass(frozen=True)
class LineRequest:
    product_id: str
    quantity: Decimal
    unit_price: Decimal


@dataclass(frozen=True)
class Approver:
    """A manager deciding on a quote: its user id and approval limit (largest discount below
    list price, in percent, it may approve)."""

    id: str
    approval_limit_pct: Decimal | None


def price_lines(
    requests: Sequence[LineRequest], catalog: dict[str, CatalogPrice | None], currency: str
) -> list[dict[str, Any]]:
    """The lines of a revision, each with the product's prices copied from the catalogue.
    Unknown or discontinued products and other currencies are refused, naming the line."""
    errors: list[FieldError] = []
    if len(requests) > MAX_LINES:
        errors.append(FieldError("lines", f"at most {MAX_LINES} lines"))
    lines: list[dict[str, Any]] = []
    for index, request in enumerate(requests):
        field = f"lines[{index}]"
        product = catalog.get(request.product_id)
        if product is None:
            errors.append(FieldError(f"{field}.product_id", f"no product {request.product_id}"))
            continue
        if not product.active:
            errors.append(FieldError(f"{field}.product_id", "the product is discontinued"))
            continue
        if product.currency != currency:
            errors.append(
                FieldError(
                    f"{field}.product_id",
                    f"the product is priced in {product.currency}, the quote in {currency}",
                )
            )
            continue
        if request.quantity <= 0:
            errors.append(FieldError(f"{field}.quantity", "must be above zero"))
            continue
        if request.unit_price < 0:
            errors.append(FieldError(f"{field}.unit_price", "must not be negative"))
            continue
        lines.append(
            {
                "line": index + 1,
                "product_id": product.product_id,
                "sku": product.sku,
                "name": product.name,
                "quantity": request.quantity.quantize(QUANTUM),
                "unit_price": request.unit_price.quantize(CENT),
                "list_price": product.list_price,
                "floor_price": product.floor_price,
                "unit_cost": product.unit_cost,
            }
        )
    if errors:
        raise ValidationFailed(errors)
    return lines


def discount_pct(line: dict[str, Any]) -> Decimal:
    """How far below list price a line is sold, in percent (negative above list)."""
    list_price = Decimal(line["list_price"])
    if list_price == 0:
        return Decimal(0)
    return ((list_price - Decimal(line["unit_price"])) / list_price * 100).quantize(PCT)


def below_floor(line: dict[str, Any]) -> bool:
    return Decimal(line["unit_price"]) < Decimal(line["floor_price"])


def deepest_discount_pct(lines: Iterable[dict[str, Any]]) -> Decimal:
    return max((discount_pct(line) for line in lines), default=Decimal(0))


def _cents(amount: Decimal) -> Decimal:
    """Commercial rounding of a line amount: half a cent rounds up."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def totals(lines: Iterable[dict[str, Any]]) -> dict[str, Decimal]:
    """Amount, list value, cost and margin of a revision: each line rounded to the cent."""
    amount = list_total = cost = Decimal(0)
    for line in lines:
        quantity = Decimal(line["quantity"])
        amount += _cents(quantity * Decimal(line["unit_price"]))
        list_total += _cents(quantity * Decimal(line["list_price"]))
        cost += _cents(quantity * Decimal(line["unit_cost"]))
    return {
        "amount": amount,
        "list_amount": list_total,
        "discount_amount": list_total - amount,
        "cost": cost,
        "margin": amount - cost,
    }


def line_view(line: dict[str, Any]) -> dict[str, Any]:
    """A line as clients and auditors see it: prices, and where it stands against the policy."""
    quantity = Decimal(line["quantity"])
    return {
        **line,
        "amount": _cents(quantity * Decimal(line["unit_price"])),
        "discount_pct": discount_pct(line),
        "below_floor": below_floor(line),
    }


def _authors_of(meta: dict[str, Any]) -> set[str]:
    return {who for who in (meta.get("actor"), meta.get("on_behalf_of")) if who}


def invalid_state(state: S, action: str) -> InvalidTransition:
    return InvalidTransition(
        f"a {state.value} quote cannot be {action}", code="invalid_state", state=state.value
    )


class Quote(Customisable):
    """A priced offer to an account, revision by revision, with its approval history."""

    id: UUID
    kind = "quote"
    record_type = "quotes"

    @event("Created")
    def __init__(
        self,
        account_id: str,
        owner_id: str,
        opportunity_id: str | None,
        title: str,
        currency: str,
        valid_until: date,
        terms: str | None,
        lines: list[dict[str, Any]],
    ) -> None:
        self.account_id = account_id
        self.owner_id = owner_id
        self.opportunity_id = opportunity_id
        self.title = title
        self.currency = currency
        self.valid_until = valid_until
        self.terms = terms
        self.lines = lines
        self.revision = 1
        self.state = S.DRAFT
        self.authors: list[str] = []
        self.approval: dict[str, Any] | None = None
        self.submitted: dict[str, Any] | None = None
        self.closed_reason: str | None = None
        self.voided_approvals = 0

    @classmethod
    def draft(
        cls,
        quote_id: UUID,
        *,
        account_id: str,
        owner_id: str,
        opportunity_id: str | None,
        title: str,
        currency: str,
        valid_until: date,
        terms: str | None,
        lines: list[dict[str, Any]],
        today: date,
    ) -> Quote:
        _check_valid_until(valid_until, today)
        return cls.with_id(
            quote_id,
            account_id=account_id,
            owner_id=owner_id,
            opportunity_id=opportunity_id,
            title=title,
            currency=currency,
            valid_until=valid_until,
            terms=terms,
            lines=lines,
        )

    # reading

    @property
    def totals(self) -> dict[str, Decimal]:
        return totals(self.lines)

    @property
    def deepest_discount_pct(self) -> Decimal:
        return deepest_discount_pct(self.lines)

    @property
    def needs_approval(self) -> bool:
        return any(below_floor(line) for line in self.lines)

    def expired_on(self, today: date) -> bool:
        return today > self.valid_until

    # commands

    def revise(
        self,
        *,
        lines: list[dict[str, Any]] | None,
        title: str | None,
        valid_until: date | None,
        terms: str | None,
        terms_given: bool,
        reason: str | None,
        today: date,
    ) -> bool:
        """Record a new revision if lines or terms change; False when nothing would change."""
        if self.state not in REVISABLE:
            raise invalid_state(self.state, "revised")
        new: dict[str, Any] = {
            "lines": self.lines if lines is None else lines,
            "title": self.title if title is None else title,
            "valid_until": self.valid_until if valid_until is None else valid_until,
            "terms": terms if terms_given else self.terms,
        }
        if all(new[key] == getattr(self, key) for key in new):
            return False
        if valid_until is not None:
            _check_valid_until(valid_until, today)
        if self.state in (S.APPROVED, S.SENT) and self.approval is not None:
            self._approval_voided(
                revision=self.revision, approved_by=self.approval["by"], reason="revised"
            )
        self._revised(revision=self.revision + 1, reason=reason, **new)
        return True

    @event("ApprovalVoided")
    def _approval_voided(self, revision: int, approved_by: str, reason: str) -> None:
        self.approval = None
        self.voided_approvals += 1

    @event("Revised")
    def _revised(
        self,
        revision: int,
        lines: list[dict[str, Any]],
        title: str,
        valid_until: date,
        terms: str | None,
        reason: str | None,
    ) -> None:
        self.revision = revision
        self.lines = lines
        self.title = title
        self.valid_until = valid_until
        self.terms = terms
        self.state = S.DRAFT
        self.approval = None
        self.submitted = None
        self.closed_reason = None

    def submit(self, today: date) -> None:
        """Ask for approval of the current revision; within the price policy it is approved
        at once, by the policy."""
        if self.state is not S.DRAFT:
            raise invalid_state(self.state, "submitted")
        if not self.lines:
            raise ValidationFailed([FieldError("lines", "a quote needs at least one line")])
        self._require_not_expired(today, "submitted")
        below = [line["line"] for line in self.lines if below_floor(line)]
        deepest = self.deepest_discount_pct
        self._submitted(
            revision=self.revision,
            needs_approval=bool(below),
            lines_below_floor=below,
            deepest_discount_pct=deepest,
        )
        if not below:
            self._approved(
                revision=self.revision,
                approved_by=POLICY,
                deepest_discount_pct=deepest,
                approval_limit_pct=None,
                comment=None,
            )

    @event("Submitted")
    def _submitted(
        self,
        revision: int,
        needs_approval: bool,
        lines_below_floor: list[int],
        deepest_discount_pct: Decimal,
    ) -> None:
        self.state = S.PENDING_APPROVAL
        self.submitted = {"revision": revision}

    def approve(self, approver: Approver, revision: int, comment: str | None) -> None:
        """A manager approves the named revision; its limit must cover the deepest discount."""
        if self.state is not S.PENDING_APPROVAL:
            raise invalid_state(self.state, "approved")
        self._require_revision(revision)
        self._require_not_author(approver, "approve")
        deepest = self.deepest_discount_pct
        limit = approver.approval_limit_pct
        if limit is None or limit < deepest:
            raise PermissionDenied(
                f"the deepest discount on revision {self.revision} is {deepest}% below list "
                f"price; your approval limit is {limit if limit is not None else 0}%",
                code="approval_limit_exceeded",
                deepest_discount_pct=str(deepest),
                approval_limit_pct=None if limit is None else str(limit),
            )
        self._approved(
            revision=revision,
            approved_by=approver.id,
            deepest_discount_pct=deepest,
            approval_limit_pct=limit,
            comment=comment,
        )

    @event("Approved")
    def _approved(
        self,
        revision: int,
        approved_by: str,
        deepest_discount_pct: Decimal,
        approval_limit_pct: Decimal | None,
        comment: str | None,
    ) -> None:
        self.state = S.APPROVED
        self.approval = {
            "revision": revision,
            "by": approved_by,
            "deepest_discount_pct": deepest_discount_pct,
            "approval_limit_pct": approval_limit_pct,
        }

    def reject(self, approver: Approver | None, revision: int, reason: str) -> None:
        """Pending approval: a manager refuses the named revision (the author may revise and
        submit again). Sent: the customer declined it, as recorded by the seller."""
        self._require_revision(revision)
        if self.state is S.PENDING_APPROVAL:
            if approver is None:
                raise PermissionDenied(
                    "only a manager decides on a quote pending approval", code="forbidden"
                )
            self._approval_rejected(revision=revision, reason=reason)
        elif self.state is S.SENT:
            self._rejected_by_customer(revision=revision, reason=reason)
        else:
            raise invalid_state(self.state, "rejected")

    @event("ApprovalRejected")
    def _approval_rejected(self, revision: int, reason: str) -> None:
        self.state = S.REJECTED
        self.closed_reason = reason

    @event("RejectedByCustomer")
    def _rejected_by_customer(self, revision: int, reason: str) -> None:
        self.state = S.REJECTED
        self.closed_reason = reason

    def send(self, today: date) -> None:
        if self.state is not S.APPROVED:
            raise invalid_state(self.state, "sent")
        self._require_not_expired(today, "sent")
        self._sent(revision=self.revision)

    @event("Sent")
    def _sent(self, revision: int) -> None:
        self.state = S.SENT

    def accept(self, today: date, note: str | None) -> None:
        if self.state is not S.SENT:
            raise invalid_state(self.state, "accepted")
        self._require_not_expired(today, "accepted")
        self._accepted(revision=self.revision, note=note)

    @event("Accepted")
    def _accepted(self, revision: int, note: str | None) -> None:
        self.state = S.ACCEPTED

    def expire(self, today: date) -> None:
        if self.state not in OPEN:
            raise invalid_state(self.state, "expired")
        if not self.expired_on(today):
            raise InvalidTransition(
                f"the quote is valid until {self.valid_until.isoformat()}",
                code="not_yet_expired",
                valid_until=self.valid_until.isoformat(),
            )
        self._expired(revision=self.revision, valid_until=self.valid_until)

    @event("Expired")
    def _expired(self, revision: int, valid_until: date) -> None:
        self.state = S.EXPIRED

    def withdraw(self, reason: str | None) -> None:
        if self.state not in WITHDRAWABLE:
            raise invalid_state(self.state, "withdrawn")
        self._withdrawn(revision=self.revision, reason=reason)

    @event("Withdrawn")
    def _withdrawn(self, revision: int, reason: str | None) -> None:
        self.state = S.WITHDRAWN
        self.closed_reason = reason

    # rules

    def _require_revision(self, revision: int) -> None:
        if revision != self.revision:
            raise InvalidTransition(
                f"revision {revision} is not the quote's current revision {self.revision}",
                code="stale_revision",
                current_revision=self.revision,
            )

    def _require_not_author(self, approver: Approver, verb: str) -> None:
        if approver.id in self.authors:
            raise PermissionDenied(
                f"you wrote or submitted this quote and cannot {verb} it yourself",
                code="self_approval",
            )

    def _require_not_expired(self, today: date, verb: str) -> None:
        if self.expired_on(today):
            raise InvalidTransition(
                f"the quote expired after {self.valid_until.isoformat()} and cannot be {verb}; "
                "revise it with a new valid_until",
                code="quote_expired",
                valid_until=self.valid_until.isoformat(),
            )

    def _observe(self, event: CrmAggregate.Event) -> None:
        # Whoever writes or submits a revision is one of its authors, and never approves it.
        if event.type_name in AUTHORING_EVENTS:
            self.authors = sorted(set(self.authors) | _authors_of(event.meta))


def _check_valid_until(valid_until: date, today: date) -> None:
    if valid_until < today:
        raise ValidationFailed([FieldError("valid_until", "must not be in the past")])


def as_date(moment: datetime) -> date:
    return moment.date()


def _who(event: Any) -> dict[str, Any]:
    meta = event.meta
    return {
        "actor": meta["actor"],
        "on_behalf_of": meta.get("on_behalf_of"),
        "occurred_at": meta["occurred_at"],
        "recorded_at": event.timestamp,
        "version": event.originator_version,
    }


def audit_trail(events: Iterable[Any]) -> list[dict[str, Any]]:
    """Every revision of a quote as an auditor reads it: its lines against the price policy,
    its totals, who wrote and submitted it, who approved it (the policy or a manager, under
    which limit), and whether that approval was later voided or the revision rejected.
    A pure fold of the quote's events, so it holds for any prefix of them (`as_of`)."""
    revisions: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None
    for e in events:
        name = e.type_name
        if name in ("QuoteCreated", "QuoteRevised"):
            revision = 1 if name == "QuoteCreated" else e.revision
            lines = [line_view(line) for line in e.lines]
            current = {
                "revision": revision,
                "written": _who(e),
                "reason": getattr(e, "reason", None),
                "title": e.title,
                "valid_until": e.valid_until,
                "terms": e.terms,
                "lines": lines,
                "totals": totals(e.lines),
                "deepest_discount_pct": deepest_discount_pct(e.lines),
                "lines_below_floor": [line["line"] for line in lines if line["below_floor"]],
                "submitted": None,
                "approval": None,
                "approval_rejected": None,
                "voided": None,
                "outcome": None,
            }
            revisions.append(current)
        elif current is None:
            continue
        elif name == "QuoteSubmitted":
            current["submitted"] = {**_who(e), "needs_approval": e.needs_approval}
        elif name == "QuoteApproved":
            current["approval"] = {
                **_who(e),
                "approved_by": e.approved_by,
                "by_policy": e.approved_by == POLICY,
                "deepest_discount_pct": e.deepest_discount_pct,
                "approval_limit_pct": e.approval_limit_pct,
                "comment": e.comment,
            }
        elif name == "QuoteApprovalRejected":
            current["approval_rejected"] = {**_who(e), "reason": e.reason}
        elif name == "QuoteApprovalVoided":
            current["voided"] = {**_who(e), "reason": e.reason}
        else:
            outcome = name.removeprefix("Quote")
            current["outcome"] = {**_who(e), "event": outcome, "reason": getattr(e, "reason", None)}
    return revisions
