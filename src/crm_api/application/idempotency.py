"""Idempotency keys: the first response to a key is kept and replayed for its retries.

The key also fixes the command id (see `command_id_for`), and every event records its command
id, so a retry after a crash between saving the events and storing the response is recognised
by the aggregate and never recorded twice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import NAMESPACE_URL, uuid5

from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    select,
    update,
)

from crm_api.db import UTCDateTime, metadata
from crm_api.projections.base import insert_ignore

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("principal_id", String(64), nullable=False),
    Column("key", String(255), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("response_status", Integer, nullable=True),
    Column("response_headers", JSON, nullable=True),
    Column("response_body", LargeBinary, nullable=True),
    Column("created_at", UTCDateTime, nullable=False, index=True),
    Column("locked_at", UTCDateTime, nullable=False),
    PrimaryKeyConstraint("principal_id", "key"),
)


def command_id_for(principal_id: str, key: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"crm-idempotency:{principal_id}:{key}"))


@dataclass(frozen=True)
class Claimed:
    """This request owns the key: run it, then `complete` or `release`."""


@dataclass(frozen=True)
class Replay:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass(frozen=True)
class Mismatch:
    """The key was used before with a different request."""


@dataclass(frozen=True)
class InFlight:
    """The first request with this key has not answered yet."""


Outcome = Claimed | Replay | Mismatch | InFlight


class IdempotencyStore:
    def __init__(self, engine: Engine, *, lease: timedelta, ttl: timedelta) -> None:
        self.engine = engine
        self.lease = lease
        self.ttl = ttl

    def claim(self, principal_id: str, key: str, request_hash: str, now: datetime) -> Outcome:
        where = (idempotency_keys.c.principal_id == principal_id) & (idempotency_keys.c.key == key)
        with self.engine.begin() as conn:
            inserted = insert_ignore(
                conn,
                idempotency_keys,
                {
                    "principal_id": principal_id,
                    "key": key,
                    "request_hash": request_hash,
                    "state": "in_flight",
                    "created_at": now,
                    "locked_at": now,
                },
                ["principal_id", "key"],
            )
            if inserted:
                return Claimed()
            row = conn.execute(select(idempotency_keys).where(where)).one()
            if row.request_hash != request_hash:
                return Mismatch()
            if row.state == "done":
                return Replay(row.response_status, row.response_headers or {}, row.response_body)
            if row.locked_at + self.lease > now:
                return InFlight()
            taken = conn.execute(
                update(idempotency_keys)
                .where(where, idempotency_keys.c.locked_at == row.locked_at)
                .values(locked_at=now)
            ).rowcount
            return Claimed() if taken == 1 else InFlight()

    def complete(
        self, principal_id: str, key: str, status: int, headers: dict[str, str], body: bytes
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                update(idempotency_keys)
                .where(
                    idempotency_keys.c.principal_id == principal_id,
                    idempotency_keys.c.key == key,
                )
                .values(
                    state="done",
                    response_status=status,
                    response_headers=json.loads(json.dumps(headers)),
                    response_body=body,
                )
            )

    def release(self, principal_id: str, key: str) -> None:
        """Forget a key whose request failed on our side, so that a retry runs again."""
        with self.engine.begin() as conn:
            conn.execute(
                delete(idempotency_keys).where(
                    idempotency_keys.c.principal_id == principal_id,
                    idempotency_keys.c.key == key,
                )
            )

    def purge(self, now: datetime) -> int:
        with self.engine.begin() as conn:
            return conn.execute(
                delete(idempotency_keys).where(idempotency_keys.c.created_at < now - self.ttl)
            ).rowcount
