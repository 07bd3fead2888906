"""/health (process up, workspace, version) and /ready (database, migrations, projections)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select, text

from crm_api import __version__
from crm_api.api.rest.deps import ServicesDep
from crm_api.db import migration_status
from crm_api.projections.base import tracking

router = APIRouter(tags=["health"])


@router.get("/health")
def health(services: ServicesDep) -> dict[str, Any]:
    return {
        "status": "ok",
        "workspace": services.settings.workspace_name,
        "training": services.settings.workspace_training,
        "version": __version__,
    }


@router.get("/ready")
def ready(services: ServicesDep) -> JSONResponse:
    checks: dict[str, Any] = {}
    ok = True
    try:
        with services.read() as conn:
            conn.execute(text("SELECT 1"))
            rows = {r.name: r for r in conn.execute(select(tracking))}
        head = services.app.head()
        checks["database"] = "ok"
    except Exception as error:
        return JSONResponse({"status": "unavailable", "checks": {"database": str(error)}}, 503)
    current, latest = migration_status(services.store)
    checks["migrations"] = {"current": current, "head": latest}
    ok = ok and current == latest
    projections = {}
    for name in services.runners:
        row = rows.get(name)
        position = row.position if row else 0
        projections[name] = {
            "position": position,
            "lag": head - position,
            "error_position": row.error_position if row else None,
            "last_error": row.last_error if row else None,
        }
        ok = ok and (row is None or row.last_error is None)
    checks["projections"] = projections
    checks["log_head"] = head
    return JSONResponse(
        {"status": "ok" if ok else "degraded", "checks": checks}, 200 if ok else 503
    )
