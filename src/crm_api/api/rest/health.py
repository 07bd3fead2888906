"""/health (process up, workspace, version), /ready (database, migrations, projections) and
/api/v1/projections (operators: status and resume)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from crm_api import __version__
from crm_api.api.rest.conventions import PROBLEMS
from crm_api.api.rest.deps import CurrentPrincipal, ServicesDep
from crm_api.application.services import Services
from crm_api.db import migration_status
from crm_api.domain.errors import NotFound
from crm_api.projections.runner import ProjectionRunner
from crm_api.projections.status import ProjectionStatus

router = APIRouter(tags=["health"])
operations = APIRouter(prefix="/api/v1/projections", tags=["operations"], responses=PROBLEMS)


@router.get("/health")
def health(services: ServicesDep) -> dict[str, Any]:
    marked = services.workspace
    return {
        "status": "ok",
        "workspace": marked.name,
        "training": marked.training,
        "workspace_details": marked.describe(),
        "version": __version__,
    }


@router.get("/ready")
def ready(services: ServicesDep) -> JSONResponse:
    """503 unless the database answers, migrations are at head, and every projection is
    healthy and within its lag budget."""
    try:
        with services.read() as conn:
            conn.execute(text("SELECT 1"))
        statuses = services.status()
        current, latest = migration_status(services.store)
    except Exception as error:
        body = {"status": "unavailable", "checks": {"database": type(error).__name__}}
        return JSONResponse(body, 503)
    budget = services.settings.projection_lag_budget_seconds
    projections = {}
    ok = current == latest
    for status in statuses:
        healthy = status.last_error is None and not status.paused and status.lag_seconds <= budget
        ok = ok and healthy
        projections[status.name] = {
            "ok": healthy,
            "position": status.position,
            "lag": status.lag,
            "lag_seconds": status.lag_seconds,
            "paused": status.paused,
            "error_position": status.error_position,
            "last_error": status.last_error,
        }
    body = {
        "status": "ok" if ok else "degraded",
        "checks": {
            "database": "ok",
            "migrations": {"current": current, "head": latest},
            "log_head": statuses[0].head if statuses else services.app.head(),
            "projections": projections,
        },
    }
    return JSONResponse(body, 200 if ok else 503)


@operations.get("", response_model=list[ProjectionStatus])
def list_projections(principal: CurrentPrincipal, services: ServicesDep) -> Any:
    principal.require("operations:read")
    return services.status()


@operations.post("/{name}/pause", status_code=204)
def pause_projection(name: str, principal: CurrentPrincipal, services: ServicesDep) -> Response:
    """Hold a projection where it is (maintenance); writes stop waiting for it."""
    principal.require("operations:write")
    _runner(services, name).pause()
    return Response(status_code=204)


@operations.post("/{name}/resume", status_code=204)
def resume_projection(name: str, principal: CurrentPrincipal, services: ServicesDep) -> Response:
    """Let a paused or failing projection try again now (once its cause is fixed)."""
    principal.require("operations:write")
    _runner(services, name).resume()
    return Response(status_code=204)


def _runner(services: Services, name: str) -> ProjectionRunner:
    if name not in services.runners:
        raise NotFound(f"no projection {name}")
    return services.runners[name]
