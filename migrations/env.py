"""Alembic owns every read-side table; the event store's tables belong to eventsourcing."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import crm_api.application.idempotency
import crm_api.auth
import crm_api.projections.registry
import crm_api.workspaces  # noqa: F401
from crm_api.db import Store, metadata
from crm_api.settings import get_settings

config = context.config

SEARCHED_TABLES = ("accounts", "contacts")
FTS5_SHADOWS = ("", "_data", "_idx", "_content", "_docsize", "_config")
UNMAPPED_TABLES = frozenset(f"{t}_search{s}" for t in SEARCHED_TABLES for s in FTS5_SHADOWS)
UNMAPPED_INDEXES = frozenset(f"ix_{t}_search_text_trgm" for t in SEARCHED_TABLES)


def include_name(name: str | None, type_: str, parent_names: dict[str, str | None]) -> bool:
    """Autogenerate leaves out the text-search indexes of migration 0017, which the metadata
    cannot describe on both stores: SQLite's FTS5 tables (with their shadow tables) and
    PostgreSQL's trigram indexes (absent where pg_trgm could not be created)."""
    if type_ == "table":
        return name not in UNMAPPED_TABLES
    if type_ == "index":
        return name not in UNMAPPED_INDEXES
    return True


def _url() -> str:
    return config.attributes.get("url") or Store(get_settings().database_url).read_url


def run_migrations_offline() -> None:
    context.configure(
        url=_url(), target_metadata=metadata, literal_binds=True, include_name=include_name
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=True,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url())
    with engine.connect() as conn:
        context.configure(
            connection=conn,
            target_metadata=metadata,
            render_as_batch=True,
            include_name=include_name,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
