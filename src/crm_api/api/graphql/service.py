"""The service area over GraphQL: assets, service requests and their commands, SLA policies,
routing rules and requests per product, through the same service desk and read models as
REST. Types are derived from the REST response models; inputs are checked by the REST request
models, so each rule is written once."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Annotated, Any
from uuid import UUID

import strawberry
from strawberry.experimental import pydantic as strawberry_pydantic
from strawberry.scalars import JSON

from crm_api.api.graphql.context import Info
from crm_api.api.graphql.custom_fields import (
    CustomFieldConditions,
    custom_field_field,
    custom_field_query,
    custom_fields_field,
    sort_argument,
)
from crm_api.api.graphql.inputs import validated
from crm_api.api.graphql.mutations import IdempotencyKey, IfMatch, _run
from crm_api.api.graphql.pagination import Connection, connection, keyset_connection, page_size
from crm_api.api.graphql.queries import _read, _visible_owners
from crm_api.api.rest import assets as rest_assets
from crm_api.api.rest import service_admin as rest_admin
from crm_api.api.rest import service_analytics as rest_analytics
from crm_api.api.rest import service_requests as rest
from crm_api.api.rest.attachments import AttachmentOut
from crm_api.api.rest.conventions import Strict, point_in_time
from crm_api.application.app import CommandContext, Outcome
from crm_api.application.service import asset_view, request_view
from crm_api.application.services import Services
from crm_api.domain.assets import Asset as AssetRecord
from crm_api.domain.people import Principal
from crm_api.domain.service import ServiceRequest as RequestRecord
from crm_api.projections.custom_fields import with_custom_fields
from crm_api.projections.paging import Sort
from crm_api.projections.service import (
    ADMIN_SORTS,
    ASSET_SORTS,
    REQUEST_SORTS,
    list_assets,
    list_policies,
    list_rules,
    service_by_product_page,
)

# types (from the REST response models)


@strawberry_pydantic.type(model=rest_assets.AssetOut, all_fields=True)
class Asset:
    custom_fields: JSON = custom_fields_field()
    custom_field: JSON | None = custom_field_field()


@strawberry_pydantic.type(model=rest.SlaOut, all_fields=True)
class ServiceSla:
    pass


@strawberry_pydantic.type(model=rest.MessageOut, all_fields=True)
class ServiceMessage:
    pass


@strawberry_pydantic.type(model=rest.NotificationOut, all_fields=True)
class CustomerNotification:
    pass


@strawberry_pydantic.type(model=AttachmentOut, all_fields=True)
class ServiceAttachment:
    pass


@strawberry_pydantic.type(model=rest.EvaluationOut, all_fields=True)
class ServiceEvaluation:
    pass


@strawberry_pydantic.type(model=rest.RequestOut, all_fields=True, description="A request, whole.")
class ServiceRequest:
    custom_fields: JSON = custom_fields_field()
    custom_field: JSON | None = custom_field_field()


@strawberry_pydantic.type(model=rest.RequestRow, all_fields=True, description="As lists show it.")
class ServiceRequestSummary:
    custom_fields: JSON = custom_fields_field()
    custom_field: JSON | None = custom_field_field()


@strawberry_pydantic.type(model=rest_admin.BusinessHoursOut, all_fields=True)
class BusinessHours:
    pass


@strawberry_pydantic.type(model=rest_admin.PolicyOut, all_fields=True)
class SlaPolicy:
    pass


@strawberry_pydantic.type(model=rest_admin.ConditionsOut, all_fields=True)
class RoutingConditions:
    pass


@strawberry_pydantic.type(model=rest_admin.RuleOut, all_fields=True)
class RoutingRule:
    pass


@strawberry_pydantic.type(model=rest_analytics.KindCounts, all_fields=True)
class ServiceKindCounts:
    pass


@strawberry_pydantic.type(model=rest_analytics.ServiceByProductRow, all_fields=True)
class ServiceByProductRow:
    pass


def _asset(row: dict[str, Any]) -> Asset:
    return Asset.from_pydantic(rest_assets.AssetOut.model_validate(row))  # type: ignore[attr-defined,no-any-return]


def _request(row: dict[str, Any]) -> ServiceRequest:
    return ServiceRequest.from_pydantic(rest.RequestOut.model_validate(row))  # type: ignore[attr-defined,no-any-return]


def _summary(row: dict[str, Any]) -> ServiceRequestSummary:
    return ServiceRequestSummary.from_pydantic(rest.RequestRow.model_validate(row))  # type: ignore[attr-defined,no-any-return]


# inputs (checked by the REST request models)


@strawberry.input
class RegisterAssetInput:
    account_id: strawberry.ID
    serial_number: str
    asset_number: str | None = None
    model: str | None = None
    product_id: strawberry.ID | None = None
    manufacturer: str | None = None
    install_date: dt.date | None = None
    warranty_end: dt.date | None = None

    custom_fields: JSON | None = strawberry.field(
        default=None,
        description="Custom field values: key → value (GET /api/v1/field-definitions).",
    )


@strawberry.input(description="Only the fields sent change; null clears an optional field.")
class UpdateAssetInput:
    account_id: strawberry.ID | None = strawberry.UNSET
    serial_number: str | None = strawberry.UNSET
    asset_number: str | None = strawberry.UNSET
    model: str | None = strawberry.UNSET
    product_id: strawberry.ID | None = strawberry.UNSET
    manufacturer: str | None = strawberry.UNSET
    install_date: dt.date | None = strawberry.UNSET
    warranty_end: dt.date | None = strawberry.UNSET

    custom_fields: JSON | None = strawberry.field(
        default=strawberry.UNSET, description="The keys sent change; null removes a value."
    )


@strawberry.input
class OpenServiceRequestInput:
    account_id: strawberry.ID
    kind: str = strawberry.field(description="inquiry, complaint, fault or repair")
    channel: str = strawberry.field(description="phone, email, web, call_center or in_person")
    subject: str
    priority: str = "normal"
    description: str | None = None
    asset_id: strawberry.ID | None = None
    contact_id: strawberry.ID | None = None

    custom_fields: JSON | None = strawberry.field(
        default=None,
        description="Custom field values: key → value (GET /api/v1/field-definitions).",
    )


@strawberry.input
class AssetFilter:
    account_id: strawberry.ID | None = None
    product_id: strawberry.ID | None = None
    serial_number: str | None = None


@strawberry.input
class ServiceRequestFilter:
    account_id: strawberry.ID | None = None
    asset_id: strawberry.ID | None = None
    assignee_id: strawberry.ID | None = None
    queue_id: strawberry.ID | None = None
    state: str | None = None
    kind: str | None = None
    priority: str | None = None


class _Filters(Strict):
    """The list filters, checked as REST checks its query parameters."""

    account_id: UUID | None = None
    asset_id: UUID | None = None
    assignee_id: UUID | None = None
    queue_id: UUID | None = None
    state: rest.RequestState | None = None
    kind: rest.Kind | None = None
    priority: rest.Priority | None = None


From = Annotated[dt.date | None, strawberry.argument(name="from")]


@strawberry.type
class ServiceQuery:
    @strawberry.field(description="Null asOf/version: the current asset.")
    async def asset(
        self,
        info: Info,
        id: strawberry.ID,
        as_of: dt.datetime | None = None,
        version: int | None = None,
    ) -> Asset:
        def read(services: Services, principal: Principal) -> Asset:
            record = services.service.get_asset(principal, id)
            past = point_in_time(services.app, record, AssetRecord, version=version, as_of=as_of)
            return _asset(asset_view(past))

        return await _read(info, read)

    @strawberry.field
    async def assets(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: AssetFilter | None = None,
        custom_fields: CustomFieldConditions = None,
        sort: Annotated[str | None, sort_argument(ASSET_SORTS)] = None,
    ) -> Connection[Asset]:
        limit, given = page_size(first), filter or AssetFilter()

        def read(services: Services, principal: Principal) -> Connection[Asset]:
            principal.require("assets:read")
            custom = custom_field_query(services, "assets", custom_fields)
            order = Sort.parse(sort, ASSET_SORTS + custom.sort_names, "created_at")
            with services.read() as conn:
                page = with_custom_fields(
                    conn,
                    "assets",
                    list_assets(
                        conn,
                        visible_owners=_visible_owners(principal),
                        sort=order,
                        cursor=after,
                        limit=limit,
                        account_id=given.account_id,
                        product_id=given.product_id,
                        serial_number=given.serial_number,
                        custom=custom,
                    ),
                )
            return keyset_connection(page, order, _asset)

        return await _read(info, read)

    @strawberry.field(description="customerView: internal notes left out.")
    async def service_request(
        self,
        info: Info,
        id: strawberry.ID,
        as_of: dt.datetime | None = None,
        version: int | None = None,
        customer_view: bool = False,
    ) -> ServiceRequest:
        def read(services: Services, principal: Principal) -> ServiceRequest:
            record = services.service.get_request(principal, id)
            past = point_in_time(services.app, record, RequestRecord, version=version, as_of=as_of)
            return _request(request_view(past, services.clock.now(), internal=not customer_view))

        return await _read(info, read)

    @strawberry.field
    async def service_requests(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: ServiceRequestFilter | None = None,
        custom_fields: CustomFieldConditions = None,
        sort: Annotated[str | None, sort_argument(REQUEST_SORTS)] = None,
    ) -> Connection[ServiceRequestSummary]:
        limit = page_size(first)
        filters = validated(_Filters, filter or ServiceRequestFilter()).model_dump()

        def read(services: Services, principal: Principal) -> Connection[ServiceRequestSummary]:
            principal.require("service:read")
            custom = custom_field_query(services, "service-requests", custom_fields)
            order = Sort.parse(sort, REQUEST_SORTS + custom.sort_names, "-opened_at")
            page = rest.request_page(services, principal, order, after, limit, filters, custom)
            return keyset_connection(page, order, _summary)

        return await _read(info, read)

    @strawberry.field
    async def sla_policies(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[SlaPolicy]:
        limit = page_size(first)

        def read(services: Services, principal: Principal) -> Connection[SlaPolicy]:
            principal.require("service:read")
            order = Sort.parse(None, ADMIN_SORTS, "created_at")
            with services.read() as conn:
                page = list_policies(conn, order, after, limit)
            return keyset_connection(
                page,
                order,
                lambda row: SlaPolicy.from_pydantic(  # type: ignore[attr-defined]
                    rest_admin.PolicyOut.model_validate(rest_admin.policy_row(dict(row)))
                ),
            )

        return await _read(info, read)

    @strawberry.field(description="By position: the order routing tries them in.")
    async def routing_rules(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        active: bool | None = None,
    ) -> Connection[RoutingRule]:
        limit = page_size(first)

        def read(services: Services, principal: Principal) -> Connection[RoutingRule]:
            principal.require("service:read")
            order = Sort.parse(None, (*ADMIN_SORTS, "position"), "position")
            with services.read() as conn:
                page = list_rules(conn, order, after, limit, active)
            return keyset_connection(
                page,
                order,
                lambda row: RoutingRule.from_pydantic(rest_admin.RuleOut.model_validate(row)),  # type: ignore[attr-defined]
            )

        return await _read(info, read)

    @strawberry.field(description="Requests per product (per model for foreign assets).")
    async def service_by_product(
        self,
        info: Info,
        from_: From = None,
        to: dt.date | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[ServiceByProductRow]:
        limit = page_size(first)

        def read(services: Services, principal: Principal) -> Connection[ServiceByProductRow]:
            rest_analytics._period(principal, from_, to)
            with services.read() as conn:
                page = service_by_product_page(
                    conn,
                    visible_owners=_visible_owners(principal),
                    start=from_,
                    end=to,
                    cursor=after,
                    limit=limit,
                )
            nodes = [
                ServiceByProductRow.from_pydantic(  # type: ignore[attr-defined]
                    rest_analytics.ServiceByProductRow.model_validate(row)
                )
                for row in page.rows
            ]
            return connection(nodes, [r["cursor"] for r in page.rows], page.has_more)

        return await _read(info, read)


Command = Callable[[CommandContext], Outcome[RequestRecord]]


async def _command(info: Info, idempotency_key: str | None, run: Command) -> ServiceRequest:
    services = info.context.services
    row = await _run(info, idempotency_key, run, lambda r: request_view(r, services.clock.now()))
    return _request(row)


@strawberry.type
class ServiceMutation:
    @strawberry.mutation
    async def register_asset(
        self, info: Info, input: RegisterAssetInput, idempotency_key: IdempotencyKey = None
    ) -> Asset:
        fields = rest_assets.asset_fields(validated(rest_assets.AssetCreate, input))
        desk = info.context.services.service
        row = await _run(
            info, idempotency_key, lambda ctx: desk.register_asset(ctx, **fields), asset_view
        )
        return _asset(row)

    @strawberry.mutation
    async def update_asset(
        self,
        info: Info,
        id: strawberry.ID,
        input: UpdateAssetInput,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Asset:
        changes = rest_assets.asset_changes(validated(rest_assets.AssetUpdate, input))
        desk = info.context.services.service
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: desk.change_asset(ctx, id, changes, if_match),
            asset_view,
        )
        return _asset(row)

    @strawberry.mutation(description="Opens a request; routing rules pick its assignee or queue.")
    async def open_service_request(
        self, info: Info, input: OpenServiceRequestInput, idempotency_key: IdempotencyKey = None
    ) -> ServiceRequest:
        body = validated(rest.RequestOpen, input)
        details = {k: str(v) if isinstance(v, UUID) else v for k, v in body.model_dump().items()}
        desk = info.context.services.service
        return await _command(info, idempotency_key, lambda ctx: desk.open_request(ctx, **details))

    @strawberry.mutation(description="Managers and admins: to a user and/or a queue.")
    async def assign_service_request(
        self,
        info: Info,
        id: strawberry.ID,
        assignee_id: strawberry.ID | None = None,
        queue_id: strawberry.ID | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> ServiceRequest:
        desk = info.context.services.service
        return await _command(
            info, idempotency_key, lambda ctx: desk.assign(ctx, id, assignee_id, queue_id, if_match)
        )

    @strawberry.mutation
    async def start_service_request(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> ServiceRequest:
        desk = info.context.services.service
        return await _command(info, idempotency_key, lambda ctx: desk.start(ctx, id, if_match))

    @strawberry.mutation
    async def wait_on_customer(
        self,
        info: Info,
        id: strawberry.ID,
        reason: str | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> ServiceRequest:
        body = validated(rest.WithReason, {"reason": reason})
        desk = info.context.services.service
        return await _command(
            info, idempotency_key, lambda ctx: desk.wait_on_customer(ctx, id, body.reason, if_match)
        )

    @strawberry.mutation
    async def resume_service_request(
        self,
        info: Info,
        id: strawberry.ID,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> ServiceRequest:
        desk = info.context.services.service
        return await _command(info, idempotency_key, lambda ctx: desk.resume(ctx, id, if_match))

    @strawberry.mutation
    async def resolve_service_request(
        self,
        info: Info,
        id: strawberry.ID,
        resolution: str,
        notify_customer: bool = True,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> ServiceRequest:
        body = validated(
            rest.Resolve, {"resolution": resolution, "notify_customer": notify_customer}
        )
        desk = info.context.services.service
        return await _command(
            info,
            idempotency_key,
            lambda ctx: desk.resolve(ctx, id, body.resolution, body.notify_customer, if_match),
        )

    @strawberry.mutation(description="Satisfied closes the request; unsatisfied reopens it.")
    async def evaluate_service_request(
        self,
        info: Info,
        id: strawberry.ID,
        satisfied: bool,
        score: int,
        comment: str | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> ServiceRequest:
        body = validated(
            rest.Evaluate, {"satisfied": satisfied, "score": score, "comment": comment}
        )
        desk = info.context.services.service
        return await _command(
            info,
            idempotency_key,
            lambda ctx: desk.evaluate(ctx, id, body.satisfied, body.score, body.comment, if_match),
        )

    @strawberry.mutation
    async def close_service_request(
        self,
        info: Info,
        id: strawberry.ID,
        reason: str | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> ServiceRequest:
        body = validated(rest.WithReason, {"reason": reason})
        desk = info.context.services.service
        return await _command(
            info, idempotency_key, lambda ctx: desk.close(ctx, id, body.reason, if_match)
        )

    @strawberry.mutation
    async def reopen_service_request(
        self,
        info: Info,
        id: strawberry.ID,
        reason: str | None = None,
        if_match: IfMatch = None,
        idempotency_key: IdempotencyKey = None,
    ) -> ServiceRequest:
        body = validated(rest.WithReason, {"reason": reason})
        desk = info.context.services.service
        return await _command(
            info, idempotency_key, lambda ctx: desk.reopen(ctx, id, body.reason, if_match)
        )

    @strawberry.mutation(description="An internal note: never in customer-facing views.")
    async def add_service_note(
        self, info: Info, id: strawberry.ID, text: str, idempotency_key: IdempotencyKey = None
    ) -> ServiceRequest:
        body = validated(rest.Message, {"text": text})
        desk = info.context.services.service
        return await _command(info, idempotency_key, lambda ctx: desk.add_note(ctx, id, body.text))

    @strawberry.mutation(description="A reply the customer sees.")
    async def reply_to_service_request(
        self, info: Info, id: strawberry.ID, text: str, idempotency_key: IdempotencyKey = None
    ) -> ServiceRequest:
        body = validated(rest.Message, {"text": text})
        desk = info.context.services.service
        return await _command(info, idempotency_key, lambda ctx: desk.reply(ctx, id, body.text))

    @strawberry.mutation(description="Records (and, with SMTP configured, sends) an email.")
    async def notify_customer(
        self,
        info: Info,
        id: strawberry.ID,
        to: str | None = None,
        template: str = "update",
        message: str | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> ServiceRequest:
        body = validated(rest.Notify, {"to": to, "template": template, "message": message})
        recipient = str(body.to) if body.to else None
        desk = info.context.services.service
        return await _command(
            info,
            idempotency_key,
            lambda ctx: desk.notify(ctx, id, recipient, body.template, body.message),
        )
