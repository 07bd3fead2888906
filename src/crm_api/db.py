"""One URL selects the store: the event store's environment and the read side's engine."""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, Engine, MetaData, TypeDecorator, create_engine, event
from sqlalchemy.engine import make_url


@dataclass(frozen=True)
class Store:
    """Where events and read models live, derived from CRM_DATABASE_URL."""

    url: str

    @property
    def is_postgres(self) -> bool:
        return make_url(self.url).get_backend_name() == "postgresql"

    @property
    def sqlite_path(self) -> Path:
        database = make_url(self.url).database
        if not database or database == ":memory:":
            raise ValueError(
                "CRM_DATABASE_URL must name an SQLite file, e.g. sqlite:///./var/crm.db"
            )
        return Path(database)

    @property
    def read_url(self) -> str:
        """SQLite keeps read models in a second file beside the event store (one writer per
        file); PostgreSQL keeps both in one database."""
        if self.is_postgres:
            return str(make_url(self.url).set(drivername="postgresql+psycopg"))
        path = self.sqlite_path
        return f"sqlite:///{path.with_name(path.stem + '-read' + path.suffix)}"

    def event_store_env(self) -> dict[str, str]:
        if self.is_postgres:
            # The event store's pool takes no application_name; libpq falls back to PGAPPNAME,
            # so its sessions are named like the read side's (pg_stat_activity, status).
            os.environ["PGAPPNAME"] = process_name()
            u = make_url(self.url)
            return {
                "PERSISTENCE_MODULE": "eventsourcing.postgres",
                "POSTGRES_DBNAME": u.database or "postgres",
                "POSTGRES_HOST": u.host or "127.0.0.1",
                "POSTGRES_PORT": str(u.port or 5432),
                "POSTGRES_USER": u.username or os.environ.get("USER", "postgres"),
                "POSTGRES_PASSWORD": u.password or "",
                "POSTGRES_POOL_SIZE": "10",
                "POSTGRES_MAX_OVERFLOW": "20",
                "POSTGRES_LOCK_TIMEOUT": "10",
                "POSTGRES_IDLE_IN_TRANSACTION_SESSION_TIMEOUT": "30",
            }
        path = self.sqlite_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(path),
            "SQLITE_LOCK_TIMEOUT": "30",
        }

    def psycopg_conninfo(self) -> str:
        u = make_url(self.url)
        parts = {
            "dbname": u.database or "postgres",
            "host": u.host or "127.0.0.1",
            "port": str(u.port or 5432),
            "user": u.username or os.environ.get("USER", "postgres"),
            "application_name": process_name(),
        }
        if u.password:
            parts["password"] = u.password
        from psycopg.conninfo import make_conninfo

        return make_conninfo(**parts)


def process_name() -> str:
    """Names this process's PostgreSQL sessions, so `crm-api status` can say who holds a lock."""
    return f"crm-api {socket.gethostname()}:{os.getpid()}"[:63]


def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_read_engine(store: Store, *, writer: bool = False) -> Engine:
    """The read side's engine. On SQLite a writer engine begins IMMEDIATE transactions, so two
    writers queue on the file lock instead of failing to upgrade a read lock."""
    if store.is_postgres:
        return create_engine(
            store.read_url,
            pool_size=10,
            max_overflow=20,
            pool_pre_ping=True,
            connect_args={"application_name": process_name()},
        )
    store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(store.read_url, connect_args={"check_same_thread": False})
    event.listen(engine, "connect", _sqlite_pragmas)
    begin = "BEGIN IMMEDIATE" if writer else "BEGIN"
    event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
    return engine


metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as UTC and read back timezone-aware on SQLite and PostgreSQL alike."""

    impl = DateTime(timezone=True)
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _alembic_config(store: Store) -> Any:
    from alembic.config import Config

    for root in (Path(__file__).resolve().parents[2], Path.cwd()):
        if (root / "alembic.ini").exists():
            config = Config(str(root / "alembic.ini"))
            config.attributes["url"] = store.read_url
            return config
    raise FileNotFoundError("alembic.ini not found: run crm-api from the project folder")


def migrate(store: Store) -> None:
    """Bring the read-side schema to the newest migration."""
    from alembic import command

    if not store.is_postgres:
        store.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
    command.upgrade(_alembic_config(store), "heads")


def migration_status(store: Store) -> tuple[str | None, str | None]:
    """(current revision(s), head revision(s)) of the read-side schema, comma-separated."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config(store))
    engine = create_engine(store.read_url)
    try:
        with engine.connect() as conn:
            current = MigrationContext.configure(conn).get_current_heads()
    finally:
        engine.dispose()
    # Several heads are possible while branches of work meet; each must be applied.
    return ",".join(sorted(current)) or None, ",".join(sorted(script.get_heads())) or None
