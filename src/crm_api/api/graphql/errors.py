"""GraphQL errors speak the REST codes: `extensions.code` and `extensions.status` come from the
one mapping in crm_api.errors; anything unexpected is logged and answered without details."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from graphql import GraphQLError
from strawberry.extensions import SchemaExtension

from crm_api.domain.errors import DomainError
from crm_api.errors import domain_problem_body

log = logging.getLogger(__name__)

PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}


def is_unexpected(error: GraphQLError) -> bool:
    original = error.original_error
    return original is not None and not isinstance(original, DomainError | GraphQLError)


def coded(error: GraphQLError) -> GraphQLError:
    original = error.original_error
    if isinstance(original, DomainError):
        status, body = domain_problem_body(original)
        extensions = {
            "code": body["code"],
            "status": status,
            **{k: v for k, v in body.items() if k not in PROBLEM_FIELDS},
        }
        return _rebuilt(error, original.detail, extensions)
    if is_unexpected(error):
        return _rebuilt(
            error, "an unexpected error occurred", {"code": "internal_error", "status": 500}
        )
    if not (error.extensions or {}).get("code"):
        extensions = {**(error.extensions or {}), "code": "bad_request", "status": 400}
        return _rebuilt(error, error.message, extensions)
    return error


def _rebuilt(error: GraphQLError, message: str, extensions: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        extensions=extensions,
    )


def log_unexpected(errors: list[GraphQLError]) -> None:
    for error in errors:
        if is_unexpected(error):
            log.error("unexpected GraphQL error at %s", error.path, exc_info=error.original_error)


class ErrorCodes(SchemaExtension):
    """Rewrites every result's errors, streamed (subscriptions) or not."""

    def __init__(self) -> None:
        self._streamed = False

    def _rewrite(self, result: Any) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = [coded(e) for e in errors]

    def on_operation(self) -> Iterator[None]:
        self._streamed = False
        yield
        if not self._streamed:
            self._rewrite(self.execution_context.result)

    def on_stream_result(self, result: Any) -> Iterator[None]:
        self._streamed = True
        self._rewrite(result)
        yield None
