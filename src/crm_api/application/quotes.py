"""Commands and reads on quotes: whoever sees the account writes its quotes; managers approve
within their limit; auditors read every revision and every decision, at any instant."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.application.custom_fields import (
    change_custom_fields,
    custom_fields_on_create,
    with_custom_fields,
)
from crm_api.application.orders import OrderService
from crm_api.domain.accounts import Account
from crm_api.domain.base import CrmAggregate
from crm_api.domain.catalog import Product
from crm_api.domain.errors import (
    DomainError,
    FieldError,
    NotFound,
    PreconditionRequired,
    ValidationFailed,
)
from crm_api.domain.orders import QUOTE_SOURCE, order_id_for
from crm_api.domain.people import Principal, Role, User
from crm_api.domain.quotes import (
    Approver,
    CatalogPrice,
    LineRequest,
    Quote,
    QuoteState,
    audit_trail,
    line_view,
    price_lines,
)

DEFAULT_VALIDITY = timedelta(days=30)
SYSTEM = Principal(
    id="system", kind="system", role=Role.ADMIN, name="quote expiry", visible_owners=None
)


def quote_view(quote: Quote) -> dict[str, Any]:
    return {
        "id": str(quote.id),
        "account_id": quote.account_id,
        "owner_id": quote.owner_id,
        "opportunity_id": quote.opportunity_id,
        "title": quote.title,
        "state": quote.state.value,
        "revision": quote.revision,
        "currency": quote.currency,
        "valid_until": quote.valid_until,
        "terms": quote.terms,
        "lines": [line_view(line) for line in quote.lines],
        **quote.totals,
        "deepest_discount_pct": quote.deepest_discount_pct,
        "needs_approval": quote.needs_approval,
        "approval": None if quote.approval is None else _approval_view(quote.approval),
        "authors": list(quote.authors),
        "closed_reason": quote.closed_reason,
        "order_id": (
            str(order_id_for(QUOTE_SOURCE, str(quote.id)))
            if quote.state is QuoteState.ACCEPTED
            else None
        ),
        "voided_approvals": quote.voided_approvals,
        "custom_fields": quote.custom_fields,
        "version": quote.version,
        "created_at": quote.created_on,
        "updated_at": quote.modified_on,
    }


def _approval_view(approval: dict[str, Any]) -> dict[str, Any]:
    return {
        "revision": approval["revision"],
        "approved_by": approval["by"],
        "deepest_discount_pct": approval["deepest_discount_pct"],
        "approval_limit_pct": approval["approval_limit_pct"],
    }


class EventHistory:
    """The decoded events of recently read records, kept in order and topped up from the store.

    Events are immutable and versions contiguous, so a cached prefix stays true for ever: a
    read fetches only the events after it (usually none). Bounded (least recently used out);
    correct across processes, since the tail always comes from the store."""

    def __init__(self, app: CrmApplication, size: int = 256) -> None:
        self.app = app
        self.size = size
        self._cache: OrderedDict[UUID, tuple[Any, ...]] = OrderedDict()
        self._lock = threading.Lock()

    def events(self, record_id: UUID, version: int) -> tuple[Any, ...]:
        """The record's events up to at least `version`."""
        with self._lock:
            known = self._cache.get(record_id, ())
        if len(known) < version:
            tail = tuple(self.app.events.get(record_id, gt=len(known) or None))
            known = known + tail
        with self._lock:
            if len(known) > len(self._cache.get(record_id, ())):
                self._cache[record_id] = known
            self._cache.move_to_end(record_id)
            while len(self._cache) > self.size:
                self._cache.popitem(last=False)
        return known


@dataclass(frozen=True)
class QuoteAudit:
    """A quote as it stood at an instant, with every revision up to then."""

    quote: Quote
    revisions: list[dict[str, Any]]
    events: list[Any]


class QuoteService:
    def __init__(self, app: CrmApplication) -> None:
        self.app = app
        self._history = EventHistory(app)

    def _today(self) -> date:
        return self.app.clock.now().date()

    # commands

    @command
    def create_quote(
        self,
        ctx: CommandContext,
        *,
        account_id: str,
        opportunity_id: str | None,
        title: str | None,
        currency: str,
        valid_until: date | None,
        terms: str | None,
        lines: Sequence[LineRequest],
        custom_fields: dict[str, Any] | None = None,
    ) -> Outcome[Quote]:
        principal = ctx.principal
        principal.require("quotes:write")
        account = self._account_for(principal, account_id)
        if opportunity_id is not None:
            self._check_opportunity(opportunity_id, account_id)
        priced = price_lines(lines, self._catalog(lines), currency)
        today = self._today()
        custom = custom_fields_on_create(self.app, ctx.principal, "quotes", custom_fields)

        def build(quote_id: UUID) -> list[CrmAggregate]:
            return [
                with_custom_fields(
                    Quote.draft(
                        quote_id,
                        account_id=account_id,
                        owner_id=account.owner_id,
                        opportunity_id=opportunity_id,
                        title=title or f"Quote for {account.name}"[:200],
                        currency=currency,
                        valid_until=valid_until or today + DEFAULT_VALIDITY,
                        terms=terms,
                        lines=priced,
                        today=today,
                    ),
                    custom,
                )
            ]

        return self.app.create(ctx, Quote, build)

    @command
    def change_custom_fields(
        self,
        ctx: CommandContext,
        quote_id: str,
        custom_fields: dict[str, Any],
        expected_version: int | None,
    ) -> Outcome[Quote]:
        """Custom fields are the quote's own notes on itself: they change in any state and
        never make a new revision."""
        ctx.principal.require("quotes:write")
        return self._change(
            ctx,
            quote_id,
            lambda quote: change_custom_fields(self.app, ctx.principal, quote, custom_fields),
            expected_version,
        )

    @command
    def revise(
        self,
        ctx: CommandContext,
        quote_id: str,
        *,
        lines: Sequence[LineRequest] | None,
        title: str | None,
        valid_until: date | None,
        terms: str | None,
        terms_given: bool,
        reason: str | None,
        expected_version: int | None,
    ) -> Outcome[Quote]:
        ctx.principal.require("quotes:write")

        def decide(quote: Quote) -> None:
            priced = None
            if lines is not None:
                priced = price_lines(lines, self._catalog(lines), quote.currency)
            quote.revise(
                lines=priced,
                title=title,
                valid_until=valid_until,
                terms=terms,
                terms_given=terms_given,
                reason=reason,
                today=self._today(),
            )

        return self._change(ctx, quote_id, decide, expected_version)

    @command
    def submit(
        self, ctx: CommandContext, quote_id: str, expected_version: int | None
    ) -> Outcome[Quote]:
        ctx.principal.require("quotes:write")
        return self._change(ctx, quote_id, lambda q: q.submit(self._today()), expected_version)

    @command
    def approve(
        self,
        ctx: CommandContext,
        quote_id: str,
        *,
        revision: int,
        comment: str | None,
        expected_version: int | None,
    ) -> Outcome[Quote]:
        principal = ctx.principal
        principal.require("quotes:approve")
        self._require_if_match(expected_version, "approve")
        approver = self._approver(principal)
        return self._change(
            ctx, quote_id, lambda q: q.approve(approver, revision, comment), expected_version
        )

    @command
    def reject(
        self,
        ctx: CommandContext,
        quote_id: str,
        *,
        revision: int,
        reason: str,
        expected_version: int | None,
    ) -> Outcome[Quote]:
        """A manager's refusal while pending approval; the customer's refusal once sent."""
        principal = ctx.principal
        principal.require("quotes:write")
        self._require_if_match(expected_version, "reject")

        def decide(quote: Quote) -> None:
            approver = None
            if quote.state is QuoteState.PENDING_APPROVAL:
                principal.require("quotes:approve")
                approver = self._approver(principal)
            quote.reject(approver, revision, reason)

        return self._change(ctx, quote_id, decide, expected_version)

    @command
    def send(
        self, ctx: CommandContext, quote_id: str, expected_version: int | None
    ) -> Outcome[Quote]:
        ctx.principal.require("quotes:write")
        return self._change(ctx, quote_id, lambda q: q.send(self._today()), expected_version)

    @command
    def accept(
        self, ctx: CommandContext, quote_id: str, note: str | None, expected_version: int | None
    ) -> Outcome[Quote]:
        ctx.principal.require("quotes:write")

        def decide(quote: Quote) -> list[CrmAggregate]:
            """Accepted, the quote becomes an order, recorded in the same append."""
            quote.accept(self._today(), note)
            return [OrderService.from_quote(quote, quote.modified_on)]

        return self._change(ctx, quote_id, decide, expected_version)

    @command
    def expire(
        self, ctx: CommandContext, quote_id: str, expected_version: int | None
    ) -> Outcome[Quote]:
        ctx.principal.require("quotes:write")
        return self._change(ctx, quote_id, lambda q: q.expire(self._today()), expected_version)

    @command
    def withdraw(
        self, ctx: CommandContext, quote_id: str, reason: str | None, expected_version: int | None
    ) -> Outcome[Quote]:
        ctx.principal.require("quotes:write")
        return self._change(ctx, quote_id, lambda q: q.withdraw(reason), expected_version)

    def expire_due(self, due: Sequence[str]) -> int:
        """Expire the quotes past their valid_until (the system acts; a quote another process
        expired first, or that changed meanwhile, is left as it is). Returns how many."""
        expired = 0
        for quote_id in due:
            ctx = CommandContext(
                principal=SYSTEM,
                command_id=f"expire-due:{quote_id}",
                correlation_id=f"expire-due:{quote_id}",
            )
            try:
                outcome = self.expire(ctx, quote_id, None)
            except DomainError:
                continue
            expired += outcome.applied
        return expired

    # reads

    def get_quote(self, principal: Principal, quote_id: str) -> Quote:
        principal.require("quotes:read")
        quote = self.app.load(quote_id, Quote)
        self._visible_to(principal)(quote)
        return quote

    def audit(self, principal: Principal, quote_id: str, as_of: datetime | None) -> QuoteAudit:
        """Every revision with its pricing and decisions, as recorded up to `as_of`."""
        principal.require("history:read")
        return self._replay(self.get_quote(principal, quote_id), as_of=as_of)

    def point_in_time(
        self, principal: Principal, quote_id: str, *, as_of: datetime | None, version: int | None
    ) -> Quote:
        """The quote as recorded at `as_of`, or at `version`; the current one without either."""
        quote = self.get_quote(principal, quote_id)
        if as_of is not None and version is not None:
            raise ValidationFailed([FieldError("as_of", "give either as_of or version, not both")])
        if version is not None and not 1 <= version <= quote.version:
            raise NotFound(f"quote {quote_id} has no version {version}")
        if as_of is None and version is None:
            return quote
        return self._replay(quote, as_of=as_of, version=version).quote

    def _replay(
        self, quote: Quote, *, as_of: datetime | None = None, version: int | None = None
    ) -> QuoteAudit:
        if as_of is not None and as_of.tzinfo is None:
            as_of = as_of.replace(tzinfo=UTC)
        events: list[Any] = []
        state: Any = None
        for event in self._history.events(quote.id, quote.version):
            if as_of is not None and event.timestamp > as_of:
                break
            if version is not None and event.originator_version > version:
                break
            events.append(event)
            state = event.mutate(state)
        if state is None:
            raise NotFound(f"quote {quote.id} did not exist at {as_of}")
        return QuoteAudit(state, audit_trail(events), events)

    # rules

    def _change(
        self,
        ctx: CommandContext,
        quote_id: str,
        decide: Any,
        expected_version: int | None,
    ) -> Outcome[Quote]:
        return self.app.change(
            ctx,
            quote_id,
            Quote,
            decide,
            expected_version=expected_version,
            authorize=self._visible_to(ctx.principal),
        )

    def _visible_to(self, principal: Principal) -> Any:
        def authorize(quote: Quote) -> None:
            account = self.app.load(quote.account_id, Account)
            principal.require_sees_owner(account.owner_id, "quote", quote.id)

        return authorize

    def _account_for(self, principal: Principal, account_id: str) -> Account:
        try:
            account = self.app.load(account_id, Account)
        except NotFound:
            account = None
        if account is None or not principal.sees_owner(account.owner_id):
            raise ValidationFailed([FieldError("account_id", f"no account {account_id}")])
        if account.archived:
            raise ValidationFailed([FieldError("account_id", "the account is archived")])
        return account

    def _check_opportunity(self, opportunity_id: str, account_id: str) -> None:
        try:
            opportunity: Any = self.app.load(opportunity_id, CrmAggregate, "opportunity")
        except NotFound:
            opportunity = None
        if opportunity is None or getattr(opportunity, "kind", None) != "opportunity":
            raise ValidationFailed(
                [FieldError("opportunity_id", f"no opportunity {opportunity_id}")]
            )
        if str(getattr(opportunity, "account_id", "")) != account_id:
            raise ValidationFailed(
                [FieldError("opportunity_id", "the opportunity belongs to another account")]
            )

    def _catalog(self, lines: Sequence[LineRequest]) -> dict[str, CatalogPrice | None]:
        """The catalogue entries the lines name, read from the log (never a lagging list)."""
        found: dict[str, CatalogPrice | None] = {}
        for product_id in {line.product_id for line in lines}:
            try:
                product = self.app.load(product_id, Product)
            except NotFound:
                found[product_id] = None
                continue
            found[product_id] = CatalogPrice(
                product_id=str(product.id),
                sku=product.sku,
                name=product.name,
                list_price=product.list_price,
                floor_price=product.floor_price,
                unit_cost=product.unit_cost,
                currency=product.currency,
                active=product.active,
            )
        return found

    def _approver(self, principal: Principal) -> Approver:
        """The manager's limit from its user record, the authority (not the token)."""
        user = self.app.load(principal.id, User, "user")
        return Approver(id=principal.id, approval_limit_pct=user.approval_limit_pct)

    @staticmethod
    def _require_if_match(expected_version: int | None, verb: str) -> None:
        if expected_version is None:
            raise PreconditionRequired(
                f"send If-Match with the version you reviewed to {verb} a quote: "
                "a decision names the exact revision it was made on"
            )
