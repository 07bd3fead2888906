"""create_app: the ASGI application (REST under /api/v1, GraphQL at /graphql)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.routing import APIRoute
from prometheus_fastapi_instrumentator import Instrumentator

from crm_api import __version__, errors
from crm_api.api.graphql.schema import graphql_router
from crm_api.api.rest import (
    accounts,
    activities,
    alerts,
    analytics,
    api_keys,
    assets,
    attachments,
    contacts,
    events,
    field_definitions,
    forecasts,
    health,
    inbound,
    insights,
    invoices,
    notices,
    opportunities,
    orders,
    products,
    quotes,
    service_admin,
    service_analytics,
    service_requests,
    shipments,
    sync,
    tasks,
    teams,
    users,
    webhooks,
    work_plans,
)
from crm_api.api.rest import exports as data_exports
from crm_api.api.rest.middleware import (
    Idempotency,
    MalformedContentLength,
    RequestLimits,
    ResponseHeaders,
)
from crm_api.api.rest.ratelimit import RateLimit, parse_rate_limit
from crm_api.api.rest.security import SecurityHeaders, allow_cross_origin
from crm_api.application.services import Services
from crm_api.domain.context import Clock
from crm_api.observability import AccessLog, Metrics, route_structlog_to_stdlib
from crm_api.settings import Settings, get_settings

DESCRIPTION = """A headless, event-sourced CRM. Every change is an immutable event; every record
has `/history` and can be read `?as_of=` an instant or at `?version=`.

Conventions: RFC 9457 problems with a stable `code`; cursor pagination; `ETag`/`If-Match`
(412 `version_conflict`); `Idempotency-Key` on every POST; `X-Log-Position` on every write and
`min_position` on every list (read-your-writes)."""


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    services: Services | None = None,
    run_workers: bool = True,
    listen: bool = True,
) -> FastAPI:
    """`run_workers`: this process runs the projections in threads. Without them, `listen`
    follows a separate worker's progress (PostgreSQL); with neither, each write brings the
    read models it touched up to date inline before answering (one process, no threads)."""
    settings = settings or get_settings()
    route_structlog_to_stdlib()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.services is None:
            app.state.services = Services(settings, clock)
        app.state.services.observe(metrics)
        if run_workers:
            app.state.services.start_workers()
        elif listen:
            app.state.services.start_listener()
        try:
            yield
        finally:
            app.state.services.close()

    app = FastAPI(
        title="crm_api",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.services = services
    metrics = Metrics()
    app.state.metrics = metrics
    errors.install(app)
    for module in (
        health,
        users,
        teams,
        accounts,
        contacts,
        products,
        quotes,
        orders,
        shipments,
        invoices,
        opportunities,
        forecasts,
        analytics,
        api_keys,
        events,
        webhooks,
        data_exports,
        activities,
        tasks,
        work_plans,
        notices,
        assets,
        service_requests,
        attachments,
        inbound,
        service_admin,
        service_analytics,
        alerts,
        insights,
        sync,
        field_definitions,
    ):
        _add_routes(app, module.router)
    _add_routes(app, health.operations)
    app.include_router(graphql_router(), prefix="/graphql", include_in_schema=False)
    # Added innermost first: AccessLog wraps CORS (so preflights and problems carry its
    # headers), the metrics, SecurityHeaders, ResponseHeaders, RateLimit, RequestLimits and
    # Idempotency.
    app.add_middleware(Idempotency)
    app.add_middleware(
        RequestLimits,
        limit=settings.max_body_bytes,
        batch_limit=settings.max_batch_body_bytes,
        upload_limits={
            attachments.UPLOAD_PATH: settings.max_attachment_bytes + attachments.MULTIPART_SLACK,
            inbound.EMAIL_PATH: settings.max_inbound_email_bytes,
        },
    )
    app.add_middleware(
        RateLimit,
        limits=parse_rate_limit(settings.rate_limit),
        storage_uri=settings.rate_limit_storage,
        namespace=settings.workspace_name,
    )
    app.add_middleware(ResponseHeaders, workspace=settings.workspace_name)
    app.add_middleware(SecurityHeaders, always_hsts=settings.hsts)
    Instrumentator(
        registry=metrics.registry,
        should_group_status_codes=False,
        excluded_handlers=["/metrics"],
    ).instrument(app).expose(app, include_in_schema=False)
    # Outside the metrics middleware, which parses Content-Length after the response.
    app.add_middleware(MalformedContentLength)
    allow_cross_origin(app, settings.cors_origins)
    app.add_middleware(AccessLog)
    _serve_problems_as_problem_json(app)
    return app


def _add_routes(app: FastAPI, router: APIRouter) -> None:
    """The router's own route objects, shared by every app this process makes. FastAPI wraps
    an included router and analyses its routes again for each app (about a second for ours,
    paid by the app's first request); our routers' routes already carry their full path, tags
    and problem responses, so they are added as they are."""
    if all(isinstance(route, APIRoute) for route in router.routes):
        app.router.routes.extend(router.routes)
    else:
        app.include_router(router)


def _serve_problems_as_problem_json(app: FastAPI) -> None:
    """FastAPI documents response models as application/json; our problems are sent as
    application/problem+json, so the document says so."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema.get("paths", {}).values():
                for operation in operations.values():
                    for status, response in operation.get("responses", {}).items():
                        content = response.get("content", {})
                        if status[0] in "45" and "application/json" in content:
                            content["application/problem+json"] = content.pop("application/json")
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
