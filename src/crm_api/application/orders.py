"""Orders: pushed by integrators in batches (an upsert keyed by source and external id), placed
one at a time, or made from an accepted quote.

A batch resolves its products and accounts once, decides every order (created, updated,
unchanged, or an error of its own), and saves all the changes in one append. An order that is
invalid never blocks the others; a batch that loses a race with another writer is decided
again order by order, so nothing valid is lost and nothing is recorded twice.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import IntegrityError
from sqlalchemy import Engine

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.application.custom_fields import (
    change_custom_fields,
    current_specs,
    custom_fields_on_create,
    resolve_values,
    with_custom_fields,
)
from crm_api.domain.accounts import Account
from crm_api.domain.base import CrmAggregate
from crm_api.domain.catalog import Product
from crm_api.domain.custom_fields import FieldSpec
from crm_api.domain.errors import DomainError, FieldError, NotFound, ValidationFailed
from crm_api.domain.orders import (
    QUOTE_SOURCE,
    Order,
    fingerprint,
    order_id_for,
    order_line,
)
from crm_api.domain.people import OWNER_ROLES, Principal, User
from crm_api.domain.quotes import Quote
from crm_api.domain.uniqueness import UniqueClaim
from crm_api.projections.accounts import account_owners
from crm_api.projections.catalog import catalog_entries
from crm_api.projections.custom_fields import values_of
from crm_api.projections.orders import known_orders

ACCOUNT_REF = "account_ref"
CREATED, UPDATED, UNCHANGED, ERROR = "created", "updated", "unchanged", "error"


@dataclass(frozen=True)
class LineInput:
    quantity: Decimal
    unit_price: Decimal
    product_id: str | None = None
    sku: str | None = None
    unit_cost: Decimal | None = None


@dataclass(frozen=True)
class AccountRef:
    source: str
    id: str
    name: str | None = None

    @property
    def key(self) -> str:
        return f"{self.source.strip().lower()}:{self.id.strip()}"


@dataclass(frozen=True)
class OrderInput:
    source: str
    external_id: str
    ordered_at: datetime
    currency: str
    lines: Sequence[LineInput]
    account_id: str | None = None
    account_ref: AccountRef | None = None
    reference: str | None = None
    custom_fields: dict[str, Any] | None = None
    """PATCH semantics, as on every record: the keys sent change, null removes, None (not
    sent) leaves the values be; a new order also gets the defaults."""


@dataclass
class OrderResult:
    index: int
    external_id: str | None
    status: str
    order_id: str | None = None
    error: DomainError | None = None


@dataclass
class BatchOutcome:
    results: list[OrderResult]
    position: int
    topics: frozenset[str] | None = None
    orders: dict[int, Order] = field(default_factory=dict)


def order_view(order: Order) -> dict[str, Any]:
    return {
        "id": str(order.id),
        "source": order.source,
        "external_id": order.external_id,
        "account_id": order.account_id,
        "quote_id": order.quote_id,
        "ordered_at": order.ordered_at,
        "currency": order.currency,
        "reference": order.reference,
        "status": order.status,
        "cancel_reason": order.cancel_reason,
        "lines": [
            {**line, "amount": (line["quantity"] * line["unit_price"]).quantize(Decimal("0.01"))}
            for line in order.lines
        ],
        **order.totals,
        "custom_fields": order.custom_fields,
        "version": order.version,
        "created_at": order.created_on,
        "updated_at": order.modified_on,
    }


@dataclass(frozen=True)
class ProductRef:
    id: str
    sku: str
    currency: str
    active: bool


@dataclass(frozen=True)
class AccountInfo:
    id: str
    owner_id: str


class _Batch:
    """What one batch has resolved so far: products, accounts, new accounts to save.

    Products and accounts are looked up for the whole batch at once in the read models, which
    a write waits for (read-your-writes); what they do not know yet is read from the log."""

    def __init__(self, service: OrderService, ctx: CommandContext, owner_id: str | None) -> None:
        self.service = service
        self.app = service.app
        self.ctx = ctx
        self.owner_id = owner_id
        self.products: dict[str, ProductRef | None] = {}
        self.skus: dict[str, str | None] = {}
        self.accounts: dict[str, AccountInfo | None] = {}
        self.refs: dict[str, str | None] = {}
        self.new_accounts: dict[str, list[CrmAggregate]] = {}
        self._order_fields: list[FieldSpec] | None = None

    @property
    def order_fields(self) -> list[FieldSpec]:
        """The orders' custom field definitions, loaded once for the batch."""
        if self._order_fields is None:
            self._order_fields = current_specs(self.service.app, "orders")
        return self._order_fields

    def prefetch(self, orders: Sequence[OrderInput | ValidationFailed]) -> None:
        account_ids, product_ids, skus = set(), set(), set()
        for order in orders:
            if isinstance(order, ValidationFailed):
                continue
            if order.account_id:
                account_ids.add(order.account_id)
            for line in order.lines:
                if line.product_id:
                    product_ids.add(line.product_id)
                elif line.sku:
                    skus.add(line.sku)
        with self.service.engine.connect() as conn:
            for row in catalog_entries(conn, sorted(product_ids), sorted(skus)):
                ref = ProductRef(row["id"], row["sku"], row["currency"], row["active"])
                self.products[ref.id] = ref
                self.skus[ref.sku.lower()] = ref.id
            for row in account_owners(conn, sorted(account_ids)):
                self.accounts[row["id"]] = AccountInfo(row["id"], row["owner_id"])

    def product(self, line: LineInput, index: int) -> ProductRef:
        field_name = f"lines[{index}]"
        product_id = line.product_id
        if product_id is None and line.sku is not None:
            key = line.sku.strip().lower()
            if key not in self.skus:
                self.skus[key] = self.service.holder(UniqueClaim.id_for("sku", line.sku))
            product_id = self.skus[key]
            if product_id is None:
                raise ValidationFailed([FieldError(f"{field_name}.sku", f"no product {line.sku}")])
        assert product_id is not None
        if product_id not in self.products:
            try:
                product = self.app.load(product_id, Product)
                self.products[product_id] = ProductRef(
                    str(product.id), product.sku, product.currency, product.active
                )
            except NotFound:
                self.products[product_id] = None
        found = self.products[product_id]
        if found is None:
            raise ValidationFailed(
                [FieldError(f"{field_name}.product_id", f"no product {product_id}")]
            )
        return found

    def _account_info(self, account_id: str) -> AccountInfo | None:
        if account_id not in self.accounts:
            try:
                account = self.app.load(account_id, Account)
                self.accounts[account_id] = AccountInfo(str(account.id), account.owner_id)
            except NotFound:
                self.accounts[account_id] = None
        return self.accounts[account_id]

    def account(self, order: OrderInput) -> str:
        principal = self.ctx.principal
        if order.account_id is not None:
            info = self._account_info(order.account_id)
            if info is None or not principal.sees_owner(info.owner_id):
                raise ValidationFailed([FieldError("account_id", f"no account {order.account_id}")])
            return info.id
        ref = order.account_ref
        assert ref is not None
        if ref.key not in self.refs:
            self.refs[ref.key] = self.service.holder(UniqueClaim.id_for(ACCOUNT_REF, ref.key))
        holder = self.refs[ref.key]
        if holder is not None and ref.key in self.new_accounts:
            return holder  # created by an earlier order of this batch
        if holder is not None:
            info = self._account_info(holder)
            if info is None or not principal.sees_owner(info.owner_id):
                raise ValidationFailed([FieldError("account_ref", "no such account")])
            return holder
        if self.owner_id is None:
            raise ValidationFailed(
                [
                    FieldError(
                        "account_ref",
                        f"no account is known as {ref.source}/{ref.id}; send "
                        '"create_missing_accounts": {"owner_id": …} to create it',
                    )
                ]
            )
        return self._create_account(ref)

    def _create_account(self, ref: AccountRef) -> str:
        account_id = str(UniqueClaim.id_for("account-from-ref", ref.key))
        with self.app.stamping(self.ctx):
            account = Account.with_id(
                UUID(account_id),
                name=(ref.name or f"{ref.source} {ref.id}")[:200],
                owner_id=self.owner_id,
                industry=None,
                phone=None,
                address=None,
                manual_grade=None,
            )
            account.link_external_ref(ref.source, ref.id)
            claim = UniqueClaim.with_id(
                UniqueClaim.id_for(ACCOUNT_REF, ref.key),
                namespace=ACCOUNT_REF,
                value=ref.key,
                holder_id=account_id,
            )
        self.refs[ref.key] = account_id
        self.new_accounts[ref.key] = [account, claim]
        return account_id

    def content(self, order: OrderInput) -> dict[str, Any]:
        """The order as it would be recorded, checked and priced; raises what is wrong."""
        errors: list[FieldError] = []
        lines = []
        for index, line in enumerate(order.lines):
            try:
                product = self.product(line, index)
            except ValidationFailed as error:
                errors.extend(error.errors)
                continue
            if product.currency != order.currency:
                errors.append(
                    FieldError(
                        f"lines[{index}].product_id",
                        f"the product is priced in {product.currency}, the order in "
                        f"{order.currency}",
                    )
                )
                continue
            lines.append(
                order_line(
                    index + 1,
                    product_id=product.id,
                    sku=product.sku,
                    quantity=line.quantity,
                    unit_price=line.unit_price,
                    unit_cost=line.unit_cost,
                )
            )
        try:
            account_id = self.account(order)
        except ValidationFailed as error:
            errors = error.errors + errors
        if errors:
            raise ValidationFailed(errors)
        return {
            "account_id": account_id,
            "ordered_at": order.ordered_at,
            "currency": order.currency,
            "reference": order.reference,
            "lines": lines,
        }


class OrderService:
    def __init__(self, app: CrmApplication, read_engine: Engine) -> None:
        self.app = app
        self.engine = read_engine

    def holder(self, claim_id: UUID) -> str | None:
        try:
            return self.app.load(claim_id, UniqueClaim).holder_id
        except NotFound:
            return None

    # the batch upsert

    def upsert(
        self,
        ctx: CommandContext,
        orders: Sequence[OrderInput | ValidationFailed],
        *,
        create_missing_accounts_owner: str | None = None,
    ) -> BatchOutcome:
        """Create, update or leave each order; the result of each in request order."""
        principal = ctx.principal
        principal.require("orders:write")
        if create_missing_accounts_owner is not None:
            self._check_owner(principal, create_missing_accounts_owner)
        batch = _Batch(self, ctx, create_missing_accounts_owner)
        batch.prefetch(orders)
        results: list[OrderResult] = []
        decided: list[tuple[OrderResult, OrderInput, dict[str, Any]]] = []
        seen: set[UUID] = set()
        for index, item in enumerate(orders):
            if isinstance(item, ValidationFailed):
                results.append(OrderResult(index, None, ERROR, error=item))
                continue
            result = OrderResult(index, item.external_id, ERROR)
            results.append(result)
            order_id = order_id_for(item.source, item.external_id)
            result.order_id = str(order_id)
            if order_id in seen:
                result.error = ValidationFailed(
                    [FieldError("external_id", "this order appears earlier in the same batch")]
                )
                continue
            seen.add(order_id)
            try:
                decided.append((result, item, batch.content(item)))
            except DomainError as error:
                result.error = error
        known = self._known([UUID(r.order_id) for r, _, _ in decided if r.order_id])
        stored = self._stored_values(
            [r.order_id for r, item, _ in decided if r.order_id in known and item.custom_fields]
        )
        changed: list[tuple[OrderResult, Order, dict[str, Any] | None]] = []
        needed: set[str] = set()
        for result, item, content in decided:
            try:
                order = self._decide(ctx, result, item, content, known, stored, batch)
            except DomainError as error:
                result.error, result.status = error, ERROR
                continue
            if order is not None:
                changed.append((result, order, item.custom_fields))
                if item.account_ref is not None:
                    needed.add(item.account_ref.key)
        # New accounts are saved with the orders that use them, and only if some order does.
        accounts = [a for key in needed for a in batch.new_accounts.get(key, [])]
        return self._save(ctx, results, changed, accounts)

    def _known(self, order_ids: list[UUID]) -> dict[str, tuple[int, str]]:
        """(version, fingerprint) of the orders the read model knows among these ids."""
        if not order_ids:
            return {}
        with self.engine.connect() as conn:
            return known_orders(conn, [str(i) for i in order_ids])

    def _stored_values(self, order_ids: list[str | None]) -> dict[str, dict[str, Any]]:
        """The custom field values the read model holds for these known orders."""
        if not order_ids:
            return {}
        with self.engine.connect() as conn:
            return values_of(conn, "orders", [i for i in order_ids if i])

    def _decide(
        self,
        ctx: CommandContext,
        result: OrderResult,
        item: OrderInput,
        content: dict[str, Any],
        known: dict[str, tuple[int, str]],
        stored: dict[str, dict[str, Any]],
        batch: _Batch,
    ) -> Order | None:
        """The order to save (new or revised), or None when it is unchanged."""
        order_ctx = dataclasses.replace(
            ctx, command_id=f"{ctx.command_id}#{result.index}", occurred_at=None
        )
        order_id = result.order_id or ""
        seen = known.get(order_id)
        if seen is not None and seen[1] == fingerprint(content):
            current = stored.get(order_id, {})
            if not item.custom_fields or (
                resolve_values(
                    self.app,
                    ctx.principal,
                    "orders",
                    item.custom_fields,
                    current,
                    batch.order_fields,
                )
                == current
            ):
                result.status = UNCHANGED
                return None
        # Unknown to the read model: new, most likely. If the read model lags and the order
        # exists after all, saving the batch fails as a whole and every order of it is decided
        # again on its own from the log (_save_one_by_one).
        existing = self.app.load(order_id, Order) if seen is not None else None
        if existing is None:
            try:
                values = custom_fields_on_create(
                    self.app, ctx.principal, "orders", item.custom_fields, batch.order_fields
                )
            except ValidationFailed:
                # What a new order lacks (a required value) an existing one may not need.
                if not self.app.exists(UUID(order_id)):
                    raise
                existing = self.app.load(order_id, Order)
            else:
                with self.app.stamping(dataclasses.replace(order_ctx, occurred_at=item.ordered_at)):
                    order = Order.place(
                        source=item.source, external_id=item.external_id, quote_id=None, **content
                    )
                    with_custom_fields(order, values)
                result.status = CREATED
                return order
        self._require_visible(ctx.principal, existing)
        return self._revise(result, existing, order_ctx, content, item.custom_fields, batch)

    def _revise(
        self,
        result: OrderResult,
        order: Order,
        order_ctx: CommandContext,
        content: dict[str, Any],
        custom_fields: dict[str, Any] | None,
        batch: _Batch | None,
    ) -> Order | None:
        """The order revised to `content` and its custom fields, or None if nothing differs."""
        before = order.version
        with self.app.stamping(order_ctx):
            order.revise(**content)
            specs = batch.order_fields if batch is not None else None
            change_custom_fields(self.app, order_ctx.principal, order, custom_fields, specs)
        changed = order.version != before
        result.status = UPDATED if changed else UNCHANGED
        return order if changed else None

    def _save(
        self,
        ctx: CommandContext,
        results: list[OrderResult],
        changed: list[tuple[OrderResult, Order, dict[str, Any] | None]],
        accounts: list[CrmAggregate],
    ) -> BatchOutcome:
        if not changed:
            return BatchOutcome(results, self.app.head())
        try:
            recordings = self.app.save(*accounts, *(order for _, order, _ in changed))
        except IntegrityError:
            # Another writer got there first for some of them: decide each again on its own.
            return self._save_one_by_one(ctx, results, changed, accounts)
        topics = frozenset(r.notification.topic for r in recordings)
        orders = {result.index: order for result, order, _ in changed}
        return BatchOutcome(results, recordings[-1].notification.id, topics, orders)

    def _save_one_by_one(
        self,
        ctx: CommandContext,
        results: list[OrderResult],
        changed: list[tuple[OrderResult, Order, dict[str, Any] | None]],
        accounts: list[CrmAggregate],
    ) -> BatchOutcome:
        position, orders = self.app.head(), {}
        for account, claim in zip(accounts[::2], accounts[1::2], strict=True):
            # (Created meanwhile by another batch under the same reference: that one serves.)
            with contextlib.suppress(IntegrityError):
                position = max(position, self.app.save(account, claim)[-1].notification.id)
        for result, order, custom_fields in changed:
            try:
                fresh = self._retry(ctx, result, order, custom_fields)
                if fresh is None:
                    continue
                recordings = self.app.save(fresh)
            except DomainError as error:
                result.error, result.status = error, ERROR
                continue
            except IntegrityError:
                result.status = ERROR
                result.error = DomainError(
                    "the order changed while it was being saved; send it again",
                    code="conflict",
                )
                continue
            position = max(position, recordings[-1].notification.id)
            orders[result.index] = fresh
        return BatchOutcome(results, position, None, orders)

    def _retry(
        self,
        ctx: CommandContext,
        result: OrderResult,
        order: Order,
        custom_fields: dict[str, Any] | None,
    ) -> Order | None:
        """The order decided again from the log, after the batch lost a race."""
        order_ctx = dataclasses.replace(ctx, command_id=f"{ctx.command_id}#{result.index}")
        content = order.content
        if not self.app.exists(order.id):
            values = custom_fields_on_create(self.app, ctx.principal, "orders", custom_fields)
            with self.app.stamping(dataclasses.replace(order_ctx, occurred_at=order.ordered_at)):
                fresh = Order.place(
                    source=order.source,
                    external_id=order.external_id,
                    quote_id=order.quote_id,
                    **content,
                )
                with_custom_fields(fresh, values)
            result.status = CREATED
            return fresh
        current = self.app.load(order.id, Order)
        if current.has_applied(order_ctx.command_id):
            return None
        self._require_visible(ctx.principal, current)
        return self._revise(result, current, order_ctx, content, custom_fields, None)

    # one order

    @command
    def cancel(
        self, ctx: CommandContext, order_id: str, reason: str | None, expected_version: int | None
    ) -> Outcome[Order]:
        ctx.principal.require("orders:write")
        return self.app.change(
            ctx,
            order_id,
            Order,
            lambda order: order.cancel(reason),
            expected_version=expected_version,
            authorize=lambda order: self._require_visible(ctx.principal, order),
        )

    @command
    def change(
        self,
        ctx: CommandContext,
        order_id: str,
        update: Callable[[dict[str, Any]], OrderInput],
        expected_version: int | None,
        custom_fields: dict[str, Any] | None = None,
    ) -> Outcome[Order]:
        """Apply a partial update (a function of the current content) to one order, and
        its custom fields (those sent change)."""
        principal = ctx.principal
        principal.require("orders:write")

        def decide(order: Order) -> None:
            item = update(
                {**order.content, "source": order.source, "external_id": order.external_id}
            )
            content = _Batch(self, ctx, None).content(item)
            order.revise(**content)
            change_custom_fields(self.app, ctx.principal, order, custom_fields)

        return self.app.change(
            ctx,
            order_id,
            Order,
            decide,
            expected_version=expected_version,
            authorize=lambda order: self._require_visible(principal, order),
        )

    def get_order(self, principal: Principal, order_id: str) -> Order:
        principal.require("orders:read")
        order = self.app.load(order_id, Order)
        self._require_visible(principal, order)
        return order

    # from an accepted quote

    @staticmethod
    def from_quote(quote: Quote, accepted_at: datetime) -> Order:
        """The order an accepted quote becomes (inside the accepting command's context)."""
        return Order.place(
            source=QUOTE_SOURCE,
            external_id=str(quote.id),
            account_id=quote.account_id,
            quote_id=str(quote.id),
            ordered_at=accepted_at,
            currency=quote.currency,
            reference=quote.title,
            lines=[
                order_line(
                    line["line"],
                    product_id=line["product_id"],
                    sku=line["sku"],
                    quantity=line["quantity"],
                    unit_price=line["unit_price"],
                    unit_cost=line["unit_cost"],
                )
                for line in quote.lines
            ],
        )

    # rules

    def _require_visible(self, principal: Principal, order: Order) -> None:
        account = self.app.load(order.account_id, Account)
        principal.require_sees_owner(account.owner_id, "order", order.id)

    def _check_owner(self, principal: Principal, owner_id: str) -> None:
        field_name = "create_missing_accounts.owner_id"
        try:
            owner = self.app.load(owner_id, User, "user")
        except NotFound:
            raise ValidationFailed([FieldError(field_name, f"no user {owner_id}")]) from None
        if not owner.active or owner.role not in OWNER_ROLES:
            raise ValidationFailed(
                [FieldError(field_name, "the owner must be an active rep or manager")]
            )
        if not principal.sees_owner(owner_id):
            raise ValidationFailed([FieldError(field_name, f"no user {owner_id}")])
