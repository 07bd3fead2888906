"""The per-connection GraphQL context: services, the caller (authenticated lazily, once) and
the DataLoaders of the running operation."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import anyio
import strawberry
from anyio import to_thread
from starlette.requests import HTTPConnection
from strawberry.extensions import SchemaExtension
from strawberry.fastapi import BaseContext

from crm_api.api.graphql.loaders import Loaders
from crm_api.application.app import CommandContext
from crm_api.application.idempotency import Claimed, Mismatch, command_id_for
from crm_api.application.services import Services
from crm_api.domain.errors import DomainError, FieldError, ValidationFailed
from crm_api.domain.people import Principal

MAX_IDEMPOTENCY_KEY = 255
CORRELATION_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


class GraphQLContext(BaseContext):
    """HTTP requests carry `Authorization` / `X-On-Behalf-Of` headers; a WebSocket carries them
    in its `connection_init` payload (headers of the upgrade request are the fallback)."""

    def __init__(self, services: Services, connection: HTTPConnection) -> None:
        super().__init__()
        self.services = services
        self.connection = connection
        self._principal: Principal | None = None
        self._failure: DomainError | None = None
        self._lock = anyio.Lock()
        self.loaders = Loaders(services, self.principal)

    def start_operation(self) -> None:
        """A WebSocket runs many operations on one context: none reuses another's cache."""
        self.loaders = Loaders(self.services, self.principal)

    async def principal(self) -> Principal:
        async with self._lock:
            if self._principal is None and self._failure is None:
                try:
                    self._principal = await to_thread.run_sync(self._authenticate)
                except DomainError as error:
                    self._failure = error
        if self._failure is not None:
            raise self._failure
        assert self._principal is not None
        return self._principal

    async def command(self, idempotency_key: str | None, fingerprint: str) -> CommandContext:
        """A command's ids: a retried mutation with the same key gets the same command id, so
        the aggregate recognises it instead of recording it twice. The key is kept in the same
        store as REST's: reused for another mutation or other arguments, it is refused."""
        principal = await self.principal()
        if idempotency_key is None:
            command_id = str(uuid4())
        elif 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
            await self._claim(principal, idempotency_key, fingerprint)
            command_id = command_id_for(principal.id, idempotency_key)
        else:
            raise ValidationFailed([FieldError("idempotencyKey", "must be 1 to 255 characters")])
        given = self.connection.headers.get("x-correlation-id", "")
        correlation_id = (
            given
            if CORRELATION_ID.fullmatch(given)
            else getattr(self.connection.state, "request_id", None) or command_id
        )
        return CommandContext(
            principal=principal, command_id=command_id, correlation_id=correlation_id
        )

    async def _claim(self, principal: Principal, key: str, fingerprint: str) -> None:
        store = self.services.idempotency
        outcome = await to_thread.run_sync(
            store.claim, principal.id, f"graphql:{key}", fingerprint, self.services.clock.now()
        )
        if isinstance(outcome, Mismatch):
            raise DomainError(
                "this idempotencyKey was used with another mutation or other arguments; use a new key",
                code="idempotency_key_reused",
            )
        if isinstance(outcome, Claimed):
            await to_thread.run_sync(store.complete, principal.id, f"graphql:{key}", 200, {}, b"")

    def _credentials(self) -> tuple[str | None, str | None]:
        params: dict[str, Any] = {}
        if isinstance(self.connection_params, dict):
            params = {str(k).lower(): v for k, v in self.connection_params.items()}
        headers = self.connection.headers
        authorization = params.get("authorization") or headers.get("authorization")
        on_behalf_of = params.get("x-on-behalf-of") or headers.get("x-on-behalf-of")
        return (
            authorization if isinstance(authorization, str) else None,
            on_behalf_of if isinstance(on_behalf_of, str) else None,
        )

    def _authenticate(self) -> Principal:
        # An HTTP request authenticated by the rate limiter (same headers) is not looked up again.
        cached: Principal | None = getattr(self.connection.state, "principal", None)
        if cached is not None and self.connection.scope["type"] == "http":
            return cached
        authorization, on_behalf_of = self._credentials()
        with self.services.read() as conn:
            return self.services.authenticator.authenticate(
                conn, authorization, on_behalf_of, self.services.clock.now()
            )


class PerOperationLoaders(SchemaExtension):
    def on_operation(self) -> Iterator[None]:
        self.execution_context.context.start_operation()
        yield


async def context_getter(connection: HTTPConnection) -> GraphQLContext:
    return GraphQLContext(connection.app.state.services, connection)


Info = strawberry.Info[GraphQLContext, None]
