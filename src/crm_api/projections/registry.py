"""Every projection the service runs, by name."""

from __future__ import annotations

from crm_api.projections.accounts import AccountsProjection
from crm_api.projections.base import Projection
from crm_api.projections.catalog import CatalogProjection
from crm_api.projections.directory import DirectoryProjection

PROJECTIONS: dict[str, type[Projection]] = {
    p.name: p for p in (DirectoryProjection, AccountsProjection, CatalogProjection)
}
