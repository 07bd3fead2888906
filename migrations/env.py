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


def _url() -> str:
    return config.attributes.get("url") or Store(get_settings().database_url).read_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url())
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
