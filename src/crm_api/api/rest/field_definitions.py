"""/api/v1/field-definitions: the custom fields administrators add per record type, for UIs
to render forms from, and the records a narrowed definition no longer fits."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, Field

from crm_api.api.rest.conventions import (
    PROBLEMS,
    HistoryEntry,
    ListEnvelope,
    Strict,
    history_entry,
    listed,
    wait_min_position,
)
from crm_api.api.rest.custom_fields import CustomValue
from crm_api.api.rest.deps import Command, CurrentPrincipal, IfMatch, PagingDep, ServicesDep
from crm_api.application.app import Outcome
from crm_api.application.custom_fields import FieldDefinitionService
from crm_api.application.services import Services
from crm_api.domain.custom_fields import (
    FIELD_TYPES,
    LABEL_LENGTH,
    RECORD_TYPES,
    REFERENCE_TARGETS,
    FieldCatalog,
    FieldSpec,
)
from crm_api.projections.custom_fields import DEFINITION_SORTS, list_definitions, violations
from crm_api.projections.paging import Page, Sort

router = APIRouter(prefix="/api/v1/field-definitions", tags=["custom fields"], responses=PROBLEMS)

RecordType = Literal[tuple(RECORD_TYPES)]  # type: ignore[valid-type]
FieldType = Literal[FIELD_TYPES]  # type: ignore[valid-type]
ReferenceTarget = Literal[tuple(REFERENCE_TARGETS)]  # type: ignore[valid-type]

Bound = Annotated[
    Any,
    Field(description="number: a number; decimal: a decimal string; date: YYYY-MM-DD"),
]


class DefinitionChange(Strict):
    """Only the attributes sent change. The key and record type never change."""

    label: str | None = Field(None, min_length=1, max_length=LABEL_LENGTH)
    type: FieldType | None = None
    required: bool | None = None
    default: CustomValue = None
    options: list[str] | None = Field(None, max_length=200)
    min: Bound = None
    max: Bound = None
    max_length: int | None = Field(None, ge=1, le=1000)
    reference_to: ReferenceTarget | None = None
    help_text: str | None = Field(None, max_length=500)


class DefinitionCreate(DefinitionChange):
    record_type: RecordType
    key: str = Field(
        min_length=1,
        max_length=40,
        pattern=r"^[a-z][a-z0-9_]*$",
        description="Lowercase snake case, ≤ 40 characters; never changes, never reused.",
    )
    label: str = Field(min_length=1, max_length=LABEL_LENGTH)
    type: FieldType
    required: bool = False


class DefinitionOut(BaseModel):
    id: UUID
    record_type: str
    key: str
    label: str
    type: str
    required: bool
    default: CustomValue = None
    options: list[str] | None = None
    min: Any = None
    max: Any = None
    max_length: int | None = None
    reference_to: str | None = None
    help_text: str | None = None
    retired: bool
    revision: int = Field(description="Changes with every change; the ETag and If-Match value.")


class Violation(BaseModel):
    record_id: UUID
    value: CustomValue = None
    problem: str


class DefinitionChanged(DefinitionOut):
    violations: ListEnvelope[Violation] = Field(
        description="The first records that the definition as changed no longer fits "
        "(GET …/violations pages through all of them). Their values stay as written."
    )


def _view(spec: FieldSpec) -> dict[str, Any]:
    return {
        "id": str(spec.id),
        "record_type": spec.record_type,
        "key": spec.key,
        **spec.attributes(),
        "retired": spec.retired,
        "revision": spec.revision,
    }


def _answer(
    services: Services, response: Response, outcome: Outcome[FieldCatalog], key: str
) -> FieldSpec:
    services.wait_for(outcome.position, outcome.topics)
    spec = outcome.record.spec(key)
    response.headers["ETag"] = f'"{spec.revision}"'
    response.headers["X-Log-Position"] = str(outcome.position)
    return spec


def _violations(services: Services, spec: FieldSpec, cursor: str | None, limit: int) -> Page:
    with services.read() as conn:
        return violations(conn, spec, cursor, limit)


@router.post("", status_code=201, response_model=DefinitionOut)
def define_field(
    body: DefinitionCreate, ctx: Command, services: ServicesDep, response: Response
) -> Any:
    attributes = body.model_dump(exclude={"record_type", "key"}, exclude_none=True)
    attributes["required"] = body.required
    outcome = FieldDefinitionService(services.app).define(
        ctx, body.record_type, body.key, attributes
    )
    spec = _answer(services, response, outcome, body.key)
    response.headers["Location"] = f"{router.prefix}/{spec.id}"
    return _view(spec)


@router.get("", response_model=ListEnvelope[DefinitionOut])
def search_field_definitions(
    principal: CurrentPrincipal,
    services: ServicesDep,
    paging: PagingDep,
    record_type: RecordType | None = None,
    retired: Literal["false", "true", "any"] = "false",
) -> Any:
    principal.require("fields:read")
    wait_min_position(services, paging.min_position)
    with services.read() as conn:
        page = list_definitions(
            conn,
            sort=Sort.parse(paging.sort, DEFINITION_SORTS, "key"),
            cursor=paging.cursor,
            limit=paging.limit,
            record_type=record_type,
            retired={"false": False, "true": True, "any": None}[retired],
        )
    return listed(page)


@router.get("/{field_id}", response_model=DefinitionOut)
def get_field_definition(
    field_id: str, principal: CurrentPrincipal, services: ServicesDep, response: Response
) -> Any:
    spec = FieldDefinitionService(services.app).get(principal, field_id)
    response.headers["ETag"] = f'"{spec.revision}"'
    return _view(spec)


@router.patch("/{field_id}", response_model=DefinitionChanged)
def change_field_definition(
    field_id: str,
    body: DefinitionChange,
    ctx: Command,
    if_match: IfMatch,
    services: ServicesDep,
    response: Response,
) -> Any:
    """Narrowing (a stricter type, fewer options, tighter bounds, `required`) is allowed:
    values already written stay as written and the answer lists the records that no longer
    fit."""
    changes = body.model_dump(exclude_unset=True)
    definitions = FieldDefinitionService(services.app)
    _record_type, key = definitions.locate(field_id)
    outcome = definitions.change(ctx, field_id, changes, if_match)
    spec = _answer(services, response, outcome, key)
    return {**_view(spec), "violations": listed(_violations(services, spec, None, 20))}


@router.post("/{field_id}/retire", response_model=DefinitionOut)
def retire_field(
    field_id: str, ctx: Command, if_match: IfMatch, services: ServicesDep, response: Response
) -> Any:
    """A retired field's values stay in every record and its history, and can no longer be
    written; its key is never reused."""
    definitions = FieldDefinitionService(services.app)
    _record_type, key = definitions.locate(field_id)
    outcome = definitions.retire(ctx, field_id, if_match)
    return _view(_answer(services, response, outcome, key))


@router.get("/{field_id}/violations", response_model=ListEnvelope[Violation])
def field_violations(
    field_id: str,
    principal: CurrentPrincipal,
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=36)] = None,
) -> Any:
    """The records whose value (or missing value, for a required field) does not fit the
    definition as it is now, by record id."""
    principal.require("fields:define")
    spec = FieldDefinitionService(services.app).get(principal, field_id)
    return listed(_violations(services, spec, cursor, limit))


@router.get("/{field_id}/history", response_model=ListEnvelope[HistoryEntry])
def field_history(field_id: str, principal: CurrentPrincipal, services: ServicesDep) -> Any:
    """Every change of the definition, in order (a field has few: no paging needed)."""
    events = FieldDefinitionService(services.app).history(principal, field_id)
    return {"data": [history_entry(e) for e in events], "next_cursor": None, "has_more": False}
