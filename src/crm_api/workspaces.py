"""Workspaces: the live one, and training copies made by `crm-api workspace fork`.

A fork copies the live log (as stored, so encrypted payloads stay encrypted) into a new, empty
database by replay, in batches, up to a position or a time; copies the subject keys (an erasure
made in live before the fork holds in the copy); verifies the copy's digest; and writes the
`workspace` marker row that makes the copy a training workspace. The marker is the only
authority: a database without one is live. `crm-api workspace reset` deletes the events recorded
after the fork point, which only a training workspace allows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from eventsourcing.persistence import StoredEvent
from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Integer,
    String,
    Table,
    delete,
    inspect,
    select,
)
from sqlalchemy.engine import URL, make_url

from crm_api import backup
from crm_api.application.idempotency import idempotency_keys
from crm_api.blobs import BlobStore, LocalBlobStore
from crm_api.db import UTCDateTime, metadata
from crm_api.settings import Settings

if TYPE_CHECKING:
    from crm_api.application.services import Services

LIVE = "live"
TRAINING = "training"
MARKER_ID = 1

workspace = Table(
    "workspace",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("name", String(100), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("forked_from", String(500), nullable=False),
    Column("source_position", BigInteger, nullable=False),
    Column("fork_position", BigInteger, nullable=False),
    Column("fork_time", UTCDateTime, nullable=True),
    Column("forked_at", UTCDateTime, nullable=False),
)
"""One row (id 1) in a training workspace; none in live. `source_position` is the live log's
position the copy stops at; `fork_position` the copy's own head then (what reset returns to);
`fork_time` the `--at` time when the fork was asked by time."""


class WorkspaceError(Exception):
    """A workspace command cannot run as asked; `hint` says what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class Workspace:
    name: str
    kind: str
    forked_from: str | None = None
    source_position: int | None = None
    fork_position: int | None = None
    fork_time: datetime | None = None
    forked_at: datetime | None = None

    @property
    def training(self) -> bool:
        return self.kind == TRAINING

    @property
    def header(self) -> str:
        """The X-CRM-Workspace value: `<name>; kind=training|live`."""
        return f"{self.name}; kind={self.kind}"

    def describe(self) -> dict[str, Any]:
        """What /health says about the workspace."""
        described: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.training and self.forked_from is not None:
            described.update(
                forked_from=self.forked_from,
                source_position=self.source_position,
                fork_position=self.fork_position,
                fork_time=self.fork_time,
                forked_at=self.forked_at,
            )
        return described


def current_workspace(engine: Engine, settings: Settings) -> Workspace:
    """The marker row when there is one; else the settings' name, live unless
    CRM_WORKSPACE_TRAINING says otherwise (a store not yet migrated reads as live)."""
    with engine.connect() as conn:
        row = _marker(conn) if inspect(conn).has_table(workspace.name) else None
    if row is None:
        kind = TRAINING if settings.workspace_training else LIVE
        return Workspace(settings.workspace_name, kind)
    return Workspace(
        name=row.name,
        kind=row.kind,
        forked_from=row.forked_from,
        source_position=row.source_position,
        fork_position=row.fork_position,
        fork_time=row.fork_time,
        forked_at=row.forked_at,
    )


class TrainingBlobs:
    """A training workspace's files (attachments, recordings): new ones go to its own
    directory; the live history's files are read from the live directory and never written
    or deleted there (an erasure made in training deletes only training's own files)."""

    def __init__(self, own: BlobStore, live: BlobStore) -> None:
        self.own = own
        self.live = live

    def put(self, stream: BinaryIO, limit: int | None = None) -> tuple[str, int]:
        return self.own.put(stream, limit)

    def open(self, sha256: str) -> BinaryIO:
        try:
            return self.own.open(sha256)
        except FileNotFoundError:
            return self.live.open(sha256)

    def exists(self, sha256: str) -> bool:
        return self.own.exists(sha256) or self.live.exists(sha256)

    def delete(self, sha256: str) -> bool:
        return self.own.delete(sha256)


def workspace_blobs(settings: Settings, marked: Workspace) -> BlobStore:
    """Live: CRM_BLOB_DIR. Training: its own directory beside it (`<dir>-training-<name>`)
    over a read-only view of CRM_BLOB_DIR."""
    live = LocalBlobStore(settings.blob_dir)
    if not marked.training:
        return live
    root = Path(settings.blob_dir)
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", marked.name).strip("-") or TRAINING
    return TrainingBlobs(LocalBlobStore(root.with_name(f"{root.name}-training-{slug}")), live)


def _marker(conn: Connection) -> Any:
    return conn.execute(select(workspace).where(workspace.c.id == MARKER_ID)).first()


def redacted_url(url: str) -> str:
    """The database URL without its password or query (which may carry one)."""
    u = make_url(url)
    return URL.create(u.drivername, u.username, None, u.host, u.port, u.database).render_as_string(
        hide_password=False
    )


def parse_fork_point(text: str | None) -> int | datetime | None:
    """`--at`: a log position (digits) or an ISO 8601 time (naive times are UTC)."""
    if text is None:
        return None
    text = text.strip()
    if text.isdigit():
        return int(text)
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise WorkspaceError(
            f"--at {text!r} is neither a log position nor an ISO 8601 time",
            "give a position such as 1200 or a time such as 2026-11-01T12:00:00Z",
        ) from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


@dataclass(frozen=True)
class ForkSummary:
    events: int
    subject_keys: int
    source_position: int
    fork_position: int
    digest: str


def fork(
    source: Services,
    target: Services,
    *,
    name: str,
    at: int | datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> ForkSummary:
    """Copy the source's log up to `at` (default: its head) into the empty target, with the
    subject keys, verify the copy, and mark the target as a training workspace. The caller
    rebuilds the target's read models."""
    head = source.app.head()
    if isinstance(at, int) and at > head:
        raise WorkspaceError(
            f"--at {at} is past the live log's head ({head})", f"give a position up to {head}"
        )
    try:
        backup.require_empty(target)
    except backup.BackupError as error:
        raise WorkspaceError(
            str(error), "fork into a new SQLite path or a new, empty PostgreSQL database"
        ) from None
    stop = at if isinstance(at, int) else head
    cipher = source.app.mapper.cipher
    digest = backup.LogDigest()
    batch: list[StoredEvent] = []
    last = 0
    for n in backup.notifications(source, stop):
        state = backup.reveal(cipher, n.state, f"event {n.id}")
        if isinstance(at, datetime) and _recorded_at(source, state) > at:
            break
        batch.append(StoredEvent(n.originator_id, n.originator_version, n.topic, n.state))
        digest.add(str(n.originator_id), n.originator_version, n.topic, state)
        last = n.id
        if len(batch) >= backup.BATCH:
            target.app.recorder.insert_events(batch)
            batch = []
            if progress is not None:
                progress(last)
    if batch:
        target.app.recorder.insert_events(batch)
    keys = _copy_subject_keys(source, target)
    copied = backup.log_digest(target)
    if (copied.events, copied.digest) != (digest.count, digest.hexdigest()):
        raise WorkspaceError(
            f"the copy holds {copied.events} events with digest {copied.digest}, the live log "
            f"{digest.count} with {digest.hexdigest()} up to position {last}",
            "the target changed during the fork: fork again into a new empty database",
        )
    fork_position = target.app.head()
    with target.writer.begin() as conn:
        conn.execute(
            workspace.insert().values(
                id=MARKER_ID,
                name=name,
                kind=TRAINING,
                forked_from=redacted_url(source.settings.database_url),
                source_position=last,
                fork_position=fork_position,
                fork_time=at if isinstance(at, datetime) else None,
                forked_at=source.clock.now(),
            )
        )
    if progress is not None:
        progress(stop)
    return ForkSummary(digest.count, keys, last, fork_position, digest.hexdigest())


def _recorded_at(services: Services, state: bytes) -> datetime:
    timestamp = services.app.mapper.transcoder.decode(state)["timestamp"]
    return timestamp if isinstance(timestamp, datetime) else datetime.fromisoformat(timestamp)


def _copy_subject_keys(source: Services, target: Services) -> int:
    copied = 0
    keys = []
    for key in source.subject_keys.stored(backup.BATCH):
        keys.append(key)
        if len(keys) >= backup.BATCH:
            copied += _restore(target, keys)
            keys = []
    return copied + (_restore(target, keys) if keys else 0)


def _restore(target: Services, keys: list[Any]) -> int:
    with target.writer.begin() as conn:
        target.subject_keys.restore(conn, keys)
    return len(keys)


@dataclass(frozen=True)
class ResetSummary:
    removed: int
    fork_position: int


def reset(services: Services) -> ResetSummary:
    """Delete every event recorded after the fork point and forget the Idempotency-Key answers
    given since; the caller rebuilds the read models. Refused unless this is a training
    workspace made by fork."""
    marked = current_workspace(services.engine, services.settings)
    if not marked.training or marked.fork_position is None:
        raise WorkspaceError(
            f"workspace '{marked.name}' is {marked.kind}, not a training workspace made by "
            "`crm-api workspace fork`: its events are never deleted",
            "point CRM_DATABASE_URL at the training database to reset it",
        )
    position = marked.fork_position
    removed = services.app.head() - position
    recorder: Any = services.app.recorder
    table = recorder.events_table_name
    with recorder.datastore.transaction(commit=True) as cursor:
        if services.store.is_postgres:
            from psycopg import sql

            qualified = sql.Identifier(recorder.datastore.schema or "public", table)
            cursor.execute(
                sql.SQL("DELETE FROM {} WHERE notification_id > %s").format(qualified),
                (position,),
            )
            removed = cursor.rowcount
            cursor.execute(
                sql.SQL("SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s, false)"),
                (f"{recorder.datastore.schema or 'public'}.{table}", position + 1),
            )
        else:
            cursor.execute(f"DELETE FROM {table} WHERE rowid > ?", (position,))
    with services.writer.begin() as conn:
        conn.execute(delete(idempotency_keys))
    return ResetSummary(max(removed, 0), position)
