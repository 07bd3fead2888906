"""Commands and reads on opportunities. Who sees one is decided by its ACCOUNT's owner: a rep
sees the opportunities of the accounts it owns, a manager its team's, an assistant its rep's."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.application.custom_fields import (
    change_custom_fields,
    custom_fields_on_create,
    with_custom_fields,
)
from crm_api.domain.accounts import Account
from crm_api.domain.catalog import Product
from crm_api.domain.custom_fields import Customisable
from crm_api.domain.errors import (
    FieldError,
    InvalidTransition,
    NotFound,
    PermissionDenied,
    ValidationFailed,
)
from crm_api.domain.opportunities import PROSPECTING, Opportunity
from crm_api.domain.people import OWNER_ROLES, Principal, User


def opportunity_view(opportunity: Opportunity) -> dict[str, Any]:
    return {
        "id": str(opportunity.id),
        "account_id": opportunity.account_id,
        "name": opportunity.name,
        "amount": opportunity.amount,
        "currency": opportunity.currency,
        "expected_close_date": opportunity.expected_close_date,
        "product_id": opportunity.product_id,
        "owner_id": opportunity.owner_id,
        "stage": opportunity.stage,
        "lost_reason": opportunity.lost_reason,
        "opened_at": opportunity.opened_at,
        "won_at": opportunity.won_at,
        "lost_at": opportunity.lost_at,
        "custom_fields": opportunity.custom_fields,
        "version": opportunity.version,
        "created_at": opportunity.created_on,
        "updated_at": opportunity.modified_on,
    }


def at_business_time(ctx: CommandContext, occurred_at: datetime | None) -> CommandContext:
    """The command as it happened at `occurred_at` (naive times are UTC); unchanged if None."""
    if occurred_at is None:
        return ctx
    aware = occurred_at if occurred_at.tzinfo else occurred_at.replace(tzinfo=UTC)
    return replace(ctx, occurred_at=aware.astimezone(UTC))


class OpportunityService:
    def __init__(self, app: CrmApplication) -> None:
        self.app = app

    @command
    def open_opportunity(
        self,
        ctx: CommandContext,
        *,
        account_id: str,
        name: str,
        amount: Decimal,
        currency: str,
        expected_close_date: date,
        product_id: str | None = None,
        owner_id: str | None = None,
        stage: str = PROSPECTING,
        occurred_at: datetime | None = None,
        custom_fields: dict[str, Any] | None = None,
    ) -> Outcome[Opportunity]:
        principal = ctx.principal
        principal.require("opportunities:write")
        try:
            account = self.app.load(account_id, Account)
            principal.require_sees_owner(account.owner_id, "account", account_id)
        except NotFound:
            raise ValidationFailed([FieldError("account_id", f"no account {account_id}")]) from None
        if account.archived:
            raise InvalidTransition(
                "opportunities cannot be opened on an archived account", code="archived"
            )
        if owner_id is not None:
            self._check_owner(principal, owner_id, "owner_id")
        if product_id is not None:
            self._check_product(product_id, "product_id")
        custom = custom_fields_on_create(self.app, ctx.principal, "opportunities", custom_fields)

        def build(opportunity_id: Any) -> list[Customisable]:
            return [
                with_custom_fields(
                    Opportunity.open(
                        opportunity_id,
                        account_id=str(account.id),
                        name=name,
                        amount=amount,
                        currency=currency,
                        expected_close_date=expected_close_date,
                        product_id=product_id,
                        owner_id=owner_id or account.owner_id,
                        stage=stage,
                    ),
                    custom,
                )
            ]

        return self.app.create(at_business_time(ctx, occurred_at), Opportunity, build)

    @command
    def change_opportunity(
        self,
        ctx: CommandContext,
        opportunity_id: str,
        changes: dict[str, Any],
        expected_version: int | None,
    ) -> Outcome[Opportunity]:
        principal = ctx.principal
        principal.require("opportunities:write")
        authorize = self._visible_to(principal)
        changes = dict(changes)
        custom = changes.pop("custom_fields", None)
        if "owner_id" in changes or changes.get("product_id") is not None:
            authorize(self.app.load(opportunity_id, Opportunity))
            if "owner_id" in changes:
                self._check_owner(principal, changes["owner_id"], "owner_id")
            if changes.get("product_id") is not None:
                self._check_product(changes["product_id"], "product_id")

        def decide(opportunity: Opportunity) -> None:
            opportunity.change_details(**changes)
            change_custom_fields(self.app, ctx.principal, opportunity, custom)

        return self.app.change(
            ctx,
            opportunity_id,
            Opportunity,
            decide,
            expected_version=expected_version,
            authorize=authorize,
        )

    @command
    def move_stage(
        self,
        ctx: CommandContext,
        opportunity_id: str,
        stage: str,
        occurred_at: datetime | None,
        expected_version: int | None,
    ) -> Outcome[Opportunity]:
        return self._transition(
            ctx, opportunity_id, lambda o: o.move_to(stage), occurred_at, expected_version
        )

    @command
    def win(
        self,
        ctx: CommandContext,
        opportunity_id: str,
        occurred_at: datetime | None,
        expected_version: int | None,
    ) -> Outcome[Opportunity]:
        return self._transition(
            ctx, opportunity_id, lambda o: o.win(), occurred_at, expected_version
        )

    @command
    def lose(
        self,
        ctx: CommandContext,
        opportunity_id: str,
        reason: str | None,
        occurred_at: datetime | None,
        expected_version: int | None,
    ) -> Outcome[Opportunity]:
        return self._transition(
            ctx, opportunity_id, lambda o: o.lose(reason), occurred_at, expected_version
        )

    @command
    def reopen(
        self,
        ctx: CommandContext,
        opportunity_id: str,
        stage: str,
        occurred_at: datetime | None,
        expected_version: int | None,
    ) -> Outcome[Opportunity]:
        return self._transition(
            ctx, opportunity_id, lambda o: o.reopen(stage), occurred_at, expected_version
        )

    def get_opportunity(self, principal: Principal, opportunity_id: str) -> Opportunity:
        principal.require("opportunities:read")
        opportunity = self.app.load(opportunity_id, Opportunity)
        self._visible_to(principal)(opportunity)
        return opportunity

    # rules

    def _transition(
        self,
        ctx: CommandContext,
        opportunity_id: str,
        decide: Any,
        occurred_at: datetime | None,
        expected_version: int | None,
    ) -> Outcome[Opportunity]:
        ctx.principal.require("opportunities:write")
        return self.app.change(
            at_business_time(ctx, occurred_at),
            opportunity_id,
            Opportunity,
            decide,
            expected_version=expected_version,
            authorize=self._visible_to(ctx.principal),
        )

    def _visible_to(self, principal: Principal) -> Any:
        """An opportunity is visible to whoever sees its account's (current) owner."""

        def authorize(opportunity: Opportunity) -> None:
            account = self.app.load(opportunity.account_id, Account)
            principal.require_sees_owner(account.owner_id, "opportunity", opportunity.id)

        return authorize

    def _check_product(self, product_id: str, field: str) -> None:
        try:
            self.app.load(product_id, Product)
        except NotFound:
            raise ValidationFailed([FieldError(field, f"no product {product_id}")]) from None

    def _check_owner(self, principal: Principal, owner_id: str, field: str) -> None:
        try:
            owner = self.app.load(owner_id, User, "user")
        except NotFound:
            raise ValidationFailed([FieldError(field, f"no user {owner_id}")]) from None
        if not owner.active or owner.role not in OWNER_ROLES:
            raise ValidationFailed(
                [FieldError(field, "the owner must be an active rep or manager")]
            )
        if not principal.sees_owner(owner_id):
            raise PermissionDenied(
                "you may only give opportunities to yourself or to the reps you manage or act for",
                code="owner_not_allowed",
            )
