"""Opportunities: a possible sale on an account, moved through the sales stages.

Stages: prospecting → qualification → proposal → negotiation → won | lost. Open stages may be
moved between in either direction; won and lost are reached from any open stage; a lost
opportunity can be reopened into an open stage; won is final. Every stage change is its own
event carrying `from_stage` and `to_stage`, and its business time is the event's
`meta.occurred_at`, which may lie in the past (entering history late) but never in the future
and never before the opportunity was created.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.catalog import CENT, CURRENCY
from crm_api.domain.context import current_stamp
from crm_api.domain.custom_fields import Customisable
from crm_api.domain.errors import FieldError, InvalidTransition, ValidationFailed

PROSPECTING = "prospecting"
QUALIFICATION = "qualification"
PROPOSAL = "proposal"
NEGOTIATION = "negotiation"
WON = "won"
LOST = "lost"
OPEN_STAGES = (PROSPECTING, QUALIFICATION, PROPOSAL, NEGOTIATION)
STAGES = (*OPEN_STAGES, WON, LOST)
MAX_REASON = 500


def money_errors(amount: Decimal, currency: str, field: str = "amount") -> list[FieldError]:
    """What is wrong with an amount of money: negative, fractions of a cent, unknown currency."""
    errors = []
    if Decimal(amount).as_tuple().exponent < -2:  # type: ignore[operator]
        errors.append(FieldError(field, "must be a whole number of cents"))
    elif amount < 0:
        errors.append(FieldError(field, "must not be negative"))
    if not CURRENCY.match(currency):
        errors.append(FieldError("currency", "must be an ISO 4217 code such as EUR"))
    return errors


def business_time(event: Any) -> datetime:
    """When an event happened in business terms (its meta.occurred_at)."""
    return datetime.fromisoformat(event.meta["occurred_at"])


def _check_business_time(since: datetime | None) -> None:
    """The running command's occurred_at: not in the future, not before `since`."""
    meta, recorded_at = current_stamp()
    if meta.occurred_at > recorded_at:
        raise ValidationFailed([FieldError("occurred_at", "must not be in the future")])
    if since is not None and meta.occurred_at < since:
        raise ValidationFailed(
            [FieldError("occurred_at", "must not be before the opportunity was created")]
        )


class Opportunity(Customisable):
    """A possible sale on an account, with an amount, an expected close date and a stage."""

    id: UUID
    kind = "opportunity"
    record_type = "opportunities"

    class Created(CrmAggregate.Created):
        account_id: str
        name: str
        amount: Decimal
        currency: str
        expected_close_date: str
        product_id: str | None
        owner_id: str
        stage: str

    @event(Created)
    def __init__(
        self,
        account_id: str,
        name: str,
        amount: Decimal,
        currency: str,
        expected_close_date: str,
        product_id: str | None,
        owner_id: str,
        stage: str,
    ) -> None:
        self.account_id = account_id
        self.name = name
        self.amount = amount
        self.currency = currency
        self.expected_close_date = date.fromisoformat(expected_close_date)
        self.product_id = product_id
        self.owner_id = owner_id
        self.stage = stage
        self.lost_reason: str | None = None
        self.opened_at: datetime | None = None
        self.won_at: datetime | None = None
        self.lost_at: datetime | None = None

    @classmethod
    def open(
        cls,
        opportunity_id: UUID,
        *,
        account_id: str,
        name: str,
        amount: Decimal,
        currency: str,
        expected_close_date: date,
        product_id: str | None,
        owner_id: str,
        stage: str = PROSPECTING,
    ) -> Opportunity:
        errors = money_errors(amount, currency)
        if stage not in OPEN_STAGES:
            errors.append(FieldError("stage", f"must be one of {', '.join(OPEN_STAGES)}"))
        if errors:
            raise ValidationFailed(errors)
        _check_business_time(None)
        return cls.with_id(
            opportunity_id,
            account_id=account_id,
            name=name,
            amount=Decimal(amount).quantize(CENT),
            currency=currency,
            expected_close_date=expected_close_date.isoformat(),
            product_id=product_id,
            owner_id=owner_id,
            stage=stage,
        )

    @property
    def is_open(self) -> bool:
        return self.stage in OPEN_STAGES

    # details

    def change_details(self, **changes: Any) -> None:
        """Name, amount, currency, expected close date, product, owner; only what differs."""
        if "expected_close_date" in changes:
            changes["expected_close_date"] = date.fromisoformat(str(changes["expected_close_date"]))
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not changes:
            return
        self._require_open("changed")
        errors = money_errors(
            changes.get("amount", self.amount), changes.get("currency", self.currency)
        )
        if errors:
            raise ValidationFailed(errors)
        if "amount" in changes:
            changes["amount"] = Decimal(changes["amount"]).quantize(CENT)
        if "expected_close_date" in changes:
            changes["expected_close_date"] = changes["expected_close_date"].isoformat()
        self._details_changed(changes=changes)

    @event("DetailsChanged")
    def _details_changed(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, date.fromisoformat(value) if key == "expected_close_date" else value)

    # stages

    def move_to(self, stage: str) -> None:
        if stage not in OPEN_STAGES:
            raise ValidationFailed(
                [FieldError("stage", f"must be one of {', '.join(OPEN_STAGES)}")]
            )
        self._require_open(f"moved to {stage}")
        if stage == self.stage:
            raise InvalidTransition(
                f"the opportunity is already in {stage}", code="invalid_state", state=self.stage
            )
        _check_business_time(self.opened_at)
        self._stage_changed(from_stage=self.stage, to_stage=stage)

    @event("StageChanged")
    def _stage_changed(self, from_stage: str, to_stage: str) -> None:
        self.stage = to_stage

    def win(self) -> None:
        self._require_open("won")
        _check_business_time(self.opened_at)
        self._won(from_stage=self.stage, to_stage=WON)

    @event("Won")
    def _won(self, from_stage: str, to_stage: str) -> None:
        self.stage = to_stage

    def lose(self, reason: str | None) -> None:
        self._require_open("lost")
        if reason is None or not reason.strip():
            raise InvalidTransition(
                "an opportunity is lost for a reason: give one (1 to 500 characters)",
                code="invalid_state",
                state=self.stage,
            )
        if len(reason) > MAX_REASON:
            raise ValidationFailed([FieldError("reason", "must be at most 500 characters")])
        _check_business_time(self.opened_at)
        self._lost(from_stage=self.stage, to_stage=LOST, reason=reason)

    @event("Lost")
    def _lost(self, from_stage: str, to_stage: str, reason: str) -> None:
        self.stage = to_stage
        self.lost_reason = reason

    def reopen(self, stage: str) -> None:
        if self.stage != LOST:
            raise InvalidTransition(
                "only a lost opportunity can be reopened", code="invalid_state", state=self.stage
            )
        if stage not in OPEN_STAGES:
            raise ValidationFailed(
                [FieldError("stage", f"must be one of {', '.join(OPEN_STAGES)}")]
            )
        _check_business_time(self.opened_at)
        self._reopened(from_stage=self.stage, to_stage=stage)

    @event("Reopened")
    def _reopened(self, from_stage: str, to_stage: str) -> None:
        self.stage = to_stage
        self.lost_reason = None
        self.lost_at = None

    # business times, from each event's meta (also when replayed)

    def _observe(self, e: Any) -> None:
        at = business_time(e)
        kind = type(e).__name__
        if kind == "Created":
            self.opened_at = at
        elif kind == "Won":
            self.won_at = at
        elif kind == "Lost":
            self.lost_at = at

    def _require_open(self, verb: str) -> None:
        if not self.is_open:
            raise InvalidTransition(
                f"a {self.stage} opportunity cannot be {verb}"
                + ("; reopen it first" if self.stage == LOST else ""),
                code="invalid_state",
                state=self.stage,
            )
