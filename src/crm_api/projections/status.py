"""Where each projection stands: position, lag (events and seconds), failures, lock holder.

Read by /ready, /metrics and `crm-api status`.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select, text

from crm_api.projections.base import tracking


@dataclass(frozen=True)
class ProjectionStatus:
    name: str
    position: int
    head: int
    lag: int
    lag_seconds: float
    paused: bool
    failures: int
    error_position: int | None
    last_error: str | None
    holder: str | None


def lock_key(projection: str) -> int:
    return zlib.crc32(f"crm_projection:{projection}".encode())


def _holders(conn: Connection) -> dict[int, str]:
    if conn.dialect.name != "postgresql":
        return {}
    rows = conn.execute(
        text(
            "SELECT l.objid::bigint AS key, a.application_name, a.pid "
            "FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = 0"
        )
    )
    return {int(r.key): f"{r.application_name or 'unknown'} (pid {r.pid})" for r in rows}


def projection_status(services: Any, now: datetime) -> list[ProjectionStatus]:
    head = services.app.head()
    with services.read() as conn:
        rows = {r.name: r for r in conn.execute(select(tracking))}
        holders = _holders(conn)
        shared = conn.dialect.name == "postgresql"
    found = []
    for name, runner in services.runners.items():
        row = rows.get(name)
        recorded = row.position if row else 0
        in_process = services.notifier.position_of(name) or 0
        position = max(recorded, in_process if not (row and row.paused) else recorded)
        found.append(
            ProjectionStatus(
                name=name,
                position=position,
                head=head,
                lag=max(head - position, 0),
                lag_seconds=_oldest_unapplied_age(services, runner, position, head, now),
                paused=bool(row.paused) if row else False,
                failures=int(row.failures) if row else 0,
                error_position=row.error_position if row else None,
                last_error=row.last_error if row else None,
                holder=holders.get(lock_key(name))
                if shared
                else ("this process" if services.running else None),
            )
        )
    return found


def _oldest_unapplied_age(
    services: Any, runner: Any, position: int, head: int, now: datetime
) -> float:
    if head <= position:
        return 0.0
    first = services.app.recorder.select_notifications(
        start=position + 1, limit=1, stop=head, topics=runner.topics
    )
    if not first:
        return 0.0
    recorded_at = services.app.mapper.to_domain_event(first[0]).timestamp
    return max((now - recorded_at).total_seconds(), 0.0)
