"""Annotated dependencies every router uses: services, the caller, the command context."""

from __future__ import annotations

import re
from typing import Annotated
from uuid import uuid4

from fastapi import Depends, Header, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from crm_api.application.app import CommandContext
from crm_api.application.services import Services
from crm_api.domain.errors import FieldError, ValidationFailed
from crm_api.domain.people import Principal

bearer = HTTPBearer(auto_error=False, description="A JWT or an API key (crmk_…)")


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def authenticate_request(request: Request, services: Services) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    with services.read() as conn:
        principal = services.authenticator.authenticate(
            conn,
            request.headers.get("authorization"),
            request.headers.get("x-on-behalf-of"),
            services.clock.now(),
        )
    request.state.principal = principal
    return principal


def get_principal(
    request: Request,
    services: ServicesDep,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)] = None,
    x_on_behalf_of: Annotated[
        str | None,
        Header(max_length=64, description="An assistant acts for this rep (user id)."),
    ] = None,
) -> Principal:
    return authenticate_request(request, services)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


def get_command_context(
    request: Request,
    principal: CurrentPrincipal,
    x_correlation_id: Annotated[
        str | None, Header(max_length=128, pattern=r"^[A-Za-z0-9._:\-]+$")
    ] = None,
    idempotency_key: Annotated[
        str | None,
        Header(max_length=255, description="Retries with the same key replay the first answer."),
    ] = None,
) -> CommandContext:
    command_id = getattr(request.state, "command_id", None) or str(uuid4())
    return CommandContext(
        principal=principal,
        command_id=command_id,
        correlation_id=x_correlation_id or getattr(request.state, "request_id", command_id),
    )


Command = Annotated[CommandContext, Depends(get_command_context)]

_ETAG = re.compile(r'^(?:W/)?"?(\d{1,9})"?$')


def get_if_match(
    if_match: Annotated[
        str | None,
        Header(max_length=64, description='The version you read (its ETag, e.g. "3").'),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    match = _ETAG.match(if_match.strip())
    if match is None:
        raise ValidationFailed([FieldError("If-Match", 'expected an ETag such as "3"')])
    return int(match.group(1))


IfMatch = Annotated[int | None, Depends(get_if_match)]


class Paging:
    def __init__(
        self,
        limit: Annotated[int, Query(ge=1, le=200, description="Page size, 1–200.")] = 50,
        cursor: Annotated[str | None, Query(max_length=2000)] = None,
        sort: Annotated[
            str | None, Query(max_length=200, description="e.g. name,-created_at")
        ] = None,
        min_position: Annotated[
            int | None,
            Query(ge=0, description="Wait (briefly) until the list reflects this log position."),
        ] = None,
    ) -> None:
        self.limit = limit
        self.cursor = cursor
        self.sort = sort
        self.min_position = min_position


PagingDep = Annotated[Paging, Depends()]


def new_request_id() -> str:
    return uuid4().hex
