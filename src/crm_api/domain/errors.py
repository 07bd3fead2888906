"""Domain errors: each carries a stable machine `code`; transports map them to problems."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class DomainError(Exception):
    """A business rule said no. `code` is stable and documented for clients."""

    code = "domain_error"
    title = "The request breaks a business rule"

    def __init__(self, detail: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra


class NotFound(DomainError):
    code = "not_found"
    title = "Not found"


class PermissionDenied(DomainError):
    code = "forbidden"
    title = "Forbidden"


class ValidationFailed(DomainError):
    code = "validation_failed"
    title = "The request is not valid"

    def __init__(self, errors: list[FieldError], detail: str | None = None) -> None:
        self.errors = errors
        super().__init__(detail or "; ".join(f"{e.field}: {e.message}" for e in errors))


class PayloadTooLarge(ValidationFailed):
    """413: a file (upload, email attachment) over its size limit, naming the field."""

    code = "attachment_too_large"
    title = "The file is too large"


class UnsupportedMediaType(ValidationFailed):
    """415: a file whose type is not accepted, or whose content contradicts its declared type."""

    code = "unsupported_media_type"
    title = "Unsupported media type"


class VersionConflict(DomainError):
    code = "version_conflict"
    title = "The record has changed since you read it"

    def __init__(self, expected: int, current: int) -> None:
        super().__init__(
            f"expected version {expected} but the record is at version {current}",
            expected_version=expected,
            current_version=current,
        )
        self.expected = expected
        self.current = current


class Conflict(DomainError):
    code = "conflict"
    title = "Conflict"


class InvalidTransition(DomainError):
    code = "invalid_state_transition"
    title = "Not allowed in the record's current state"


class PreconditionRequired(DomainError):
    code = "if_match_required"
    title = "This command must name the version it acts on"
