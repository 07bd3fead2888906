"""The GraphQL schema and its router, mounted at /graphql by create_app."""

from __future__ import annotations

from typing import Any

import strawberry
from cross_web import HTTPException
from fastapi import WebSocket
from graphql import GraphQLError
from strawberry.fastapi import GraphQLRouter
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext
from strawberry.types.unset import UNSET

from crm_api.api.graphql.catalog import CatalogMutation, CatalogQuery
from crm_api.api.graphql.context import GraphQLContext, PerOperationLoaders, context_getter
from crm_api.api.graphql.errors import ErrorCodes, log_unexpected
from crm_api.api.graphql.insights import InsightsMutation, InsightsQuery
from crm_api.api.graphql.limits import Limits
from crm_api.api.graphql.mutations import Mutation as CoreMutation
from crm_api.api.graphql.orders import OrderMutation, OrderQuery
from crm_api.api.graphql.privacy import PrivacyMutation
from crm_api.api.graphql.queries import Query as CoreQuery
from crm_api.api.graphql.quotes import QuoteMutation, QuoteQuery
from crm_api.api.graphql.receivables import ReceivablesMutation, ReceivablesQuery
from crm_api.api.graphql.sales import SalesMutation, SalesQuery
from crm_api.api.graphql.scalars import SCALAR_OVERRIDES
from crm_api.api.graphql.service import ServiceMutation, ServiceQuery
from crm_api.api.graphql.subscriptions import Subscription
from crm_api.api.graphql.sync import SyncMutation
from crm_api.api.graphql.work import WorkMutation, WorkQuery
from crm_api.errors import problem


class CrmSchema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Business errors are answers, not incidents: only the unexpected are logged."""
        log_unexpected(errors)


# Each area of the API keeps its queries and mutations in its own module; the schema merges them.
QUERIES: tuple[type, ...] = (
    CoreQuery,
    CatalogQuery,
    SalesQuery,
    QuoteQuery,
    OrderQuery,
    ReceivablesQuery,
    ServiceQuery,
    WorkQuery,
    InsightsQuery,
)
MUTATIONS: tuple[type, ...] = (
    CoreMutation,
    CatalogMutation,
    SalesMutation,
    QuoteMutation,
    OrderMutation,
    ReceivablesMutation,
    ServiceMutation,
    WorkMutation,
    PrivacyMutation,
    SyncMutation,
    InsightsMutation,
)
Query = merge_types("Query", QUERIES)
Mutation = merge_types("Mutation", MUTATIONS)

schema = CrmSchema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    extensions=[PerOperationLoaders, Limits, ErrorCodes],
    scalar_overrides=SCALAR_OVERRIDES,
)


class CrmGraphQLRouter(GraphQLRouter[GraphQLContext, None]):
    """Strawberry answers a request it cannot take as GraphQL (not JSON, no query, a batch,
    `variables` not an object) in text/plain; clients get the problem document every other
    refusal of this API is."""

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context=context, root_value=root_value)
        except HTTPException as refused:
            if isinstance(request, WebSocket):
                raise
            return problem(
                refused.status_code,
                "invalid_graphql_request",
                "Invalid GraphQL request",
                f"{refused.reason}. Send one operation as JSON: "
                '{"query": "...", "variables": {...}, "operationName": "..."}.',
                app=request.app,
            )


def graphql_router() -> GraphQLRouter[GraphQLContext, None]:
    """Batching stays off (the schema has no batching config): one operation per request.
    Limits come from the app's settings (services.settings), read per operation."""
    return CrmGraphQLRouter(schema, context_getter=context_getter, include_in_schema=False)


def print_schema() -> str:
    """The SDL, for openapi/schema.graphql."""
    return str(schema)
