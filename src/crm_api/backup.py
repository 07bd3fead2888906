"""Backup and restore of the whole store as a stream of events (`crm-api export-log` and
`crm-api import-log`).

The file is NDJSON: one CloudEvents 1.0 envelope per stored event, in log order, carrying the
stored topic, originator id and version, the event's timestamp, its log position and the
stored state bytes (`data_base64`), so payloads encrypted by the store's cipher stay encrypted;
then one envelope per subject key (wrapped by the same cipher), without which a restored store
would read every contact's personal data as erased. Keys destroyed by an erasure travel as
tombstones, so an erasure survives a restore.

Both commands report the count and a running SHA-256 over (log order, originator, version,
topic, state as the store's cipher reveals it); import recomputes it from the target after
writing, and the two digests equal the export's whenever the events are the same, also across
a key rotation.
"""

from __future__ import annotations

import hashlib
import json
from base64 import b64decode, b64encode
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, TYPE_CHECKING, Any
from uuid import UUID

from eventsourcing.persistence import Cipher, StoredEvent

from crm_api.integrations.event_feed import event_id
from crm_api.privacy.keys import StoredSubjectKey, store_cipher

if TYPE_CHECKING:
    from crm_api.application.services import Services

BATCH = 500
EVENT_TYPE = "crm.backup.StoredEvent"
KEY_TYPE = "crm.backup.SubjectKey"
NO_SOURCE_CIPHER = "none"


class BackupError(Exception):
    """The backup cannot be written or restored as asked; `hint` says what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


@dataclass(frozen=True)
class LogSummary:
    events: int
    subject_keys: int
    digest: str


class LogDigest:
    """SHA-256 over each event's (originator, version, topic, revealed state), in log order."""

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.count = 0

    def add(self, originator_id: str, version: int, topic: str, state: bytes) -> None:
        for part in (originator_id.encode(), str(version).encode(), topic.encode(), state):
            self._hash.update(len(part).to_bytes(8, "big"))
            self._hash.update(part)
        self.count += 1

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def reveal(cipher: Cipher | None, state: bytes, where: str) -> bytes:
    if cipher is None:
        return state
    try:
        return cipher.decrypt(state)
    except ValueError:
        raise BackupError(
            f"the payload of {where} cannot be decrypted with this key",
            "give the key the file was written with (--source-key KEY), or --source-key none "
            "for a file written without CRM_CIPHER_KEY",
        ) from None


def notifications(services: Services, head: int) -> Iterator[Any]:
    start = 1
    while start <= head:
        batch = services.app.recorder.select_notifications(start=start, limit=BATCH, stop=head)
        if not batch:
            return
        yield from batch
        start = batch[-1].id + 1


def _log_digest(services: Services) -> LogDigest:
    cipher = services.app.mapper.cipher
    digest = LogDigest()
    for n in notifications(services, services.app.head()):
        state = reveal(cipher, n.state, f"event {n.id}")
        digest.add(str(n.originator_id), n.originator_version, n.topic, state)
    return digest


def export_log(
    services: Services, out: IO[str], progress: Callable[[int], None] | None = None
) -> LogSummary:
    """Write every stored event up to the current head, then every subject key."""
    app = services.app
    cipher = app.mapper.cipher
    source = f"/crm/{services.settings.workspace_name}/backup"
    digest = LogDigest()
    for n in notifications(services, app.head()):
        state = reveal(cipher, n.state, f"event {n.id}")
        timestamp = app.mapper.transcoder.decode(state)["timestamp"]
        envelope = {
            "specversion": "1.0",
            "id": event_id(n.originator_id, n.originator_version),
            "source": source,
            "type": EVENT_TYPE,
            "subject": str(n.originator_id),
            "time": timestamp.isoformat() if isinstance(timestamp, datetime) else timestamp,
            "datacontenttype": "application/octet-stream",
            "crmposition": n.id,
            "crmtopic": n.topic,
            "crmversion": n.originator_version,
            "data_base64": b64encode(n.state).decode(),
        }
        out.write(json.dumps(envelope, separators=(",", ":")) + "\n")
        digest.add(str(n.originator_id), n.originator_version, n.topic, state)
        if progress is not None and digest.count % BATCH == 0:
            progress(digest.count)
    keys = 0
    for key in services.subject_keys.stored(BATCH):
        envelope = {
            "specversion": "1.0",
            "id": f"subject-key:{key.subject_id}",
            "source": source,
            "type": KEY_TYPE,
            "subject": key.subject_id,
            "time": key.created_at.isoformat(),
        }
        if key.erased_at is not None:
            envelope["crmerasedat"] = key.erased_at.isoformat()
        if key.key is not None:
            envelope["datacontenttype"] = "application/octet-stream"
            envelope["data_base64"] = b64encode(key.key).decode()
        out.write(json.dumps(envelope, separators=(",", ":")) + "\n")
        keys += 1
    if progress is not None:
        progress(digest.count)
    return LogSummary(digest.count, keys, digest.hexdigest())


class _Recoder:
    """Bytes as the file holds them → bytes as the target stores them: unchanged when both
    use the same key (or none), else decrypted with the source key and encrypted with the
    target's (key rotation, turning the cipher on or off)."""

    def __init__(self, target: Cipher | None, source_key: str | None) -> None:
        self.target = target
        if source_key is None:
            self.source = target
        elif source_key == NO_SOURCE_CIPHER:
            self.source = None
        else:
            try:
                self.source = store_cipher(source_key)
            except ValueError as error:
                raise BackupError(str(error), "--source-key takes a CRM_CIPHER_KEY value") from None
        self.same = source_key is None

    def reveal(self, data: bytes, where: str) -> bytes:
        return reveal(self.source, data, where)

    def store(self, data: bytes, revealed: bytes) -> bytes:
        if self.same:
            return data
        return self.target.encrypt(revealed) if self.target else revealed


def _parse(line: bytes, number: int) -> dict[str, Any]:
    try:
        envelope = json.loads(line)
        if not isinstance(envelope, dict) or envelope.get("specversion") != "1.0":
            raise ValueError("not a CloudEvents 1.0 envelope")
        return envelope
    except ValueError as error:
        raise BackupError(
            f"line {number} is not a backup envelope: {error}",
            "give a file written by `crm-api export-log`",
        ) from None


def require_empty(services: Services) -> None:
    head = services.app.head()
    if head or not services.subject_keys.is_empty():
        raise BackupError(
            f"the target store is not empty ({head} events)",
            "import into an empty store: a new SQLite path or a new PostgreSQL database, "
            "migrated with `crm-api migrate`",
        )


def import_log(
    services: Services,
    lines: Iterable[bytes],
    source_key: str | None = None,
    progress: Callable[[int], None] | None = None,
) -> LogSummary:
    """Write a backup into an empty store, in batches, then check the target's digest."""
    app = services.app
    require_empty(services)
    recoder = _Recoder(app.mapper.cipher, source_key)
    digest = LogDigest()
    events: list[StoredEvent] = []
    keys: list[StoredSubjectKey] = []
    read = 0
    for number, line in enumerate(lines, start=1):
        read += len(line)
        if not line.strip():
            continue
        envelope = _parse(line, number)
        kind = envelope.get("type")
        data = b64decode(envelope["data_base64"]) if "data_base64" in envelope else None
        if kind == EVENT_TYPE and data is not None:
            revealed = recoder.reveal(data, f"line {number}")
            originator, version = envelope["subject"], int(envelope["crmversion"])
            events.append(
                StoredEvent(
                    originator_id=UUID(originator),
                    originator_version=version,
                    topic=envelope["crmtopic"],
                    state=recoder.store(data, revealed),
                )
            )
            digest.add(originator, version, envelope["crmtopic"], revealed)
        elif kind == KEY_TYPE:
            erased_at = envelope.get("crmerasedat")
            keys.append(
                StoredSubjectKey(
                    subject_id=envelope["subject"],
                    key=None
                    if data is None
                    else recoder.store(data, recoder.reveal(data, f"line {number}")),
                    created_at=datetime.fromisoformat(envelope["time"]),
                    erased_at=datetime.fromisoformat(erased_at) if erased_at else None,
                )
            )
        else:
            raise BackupError(
                f"line {number} has type {kind!r}", "give a file written by `crm-api export-log`"
            )
        if len(events) >= BATCH:
            app.recorder.insert_events(events)
            events = []
        if len(keys) >= BATCH:
            _restore_keys(services, keys)
            keys = []
        if progress is not None and number % BATCH == 0:
            progress(read)
    if events:
        app.recorder.insert_events(events)
    if keys:
        _restore_keys(services, keys)
    written = _log_digest(services)
    if (written.count, written.hexdigest()) != (digest.count, digest.hexdigest()):
        raise BackupError(
            f"the target holds {written.count} events with digest {written.hexdigest()}, "
            f"the file {digest.count} with {digest.hexdigest()}",
            "the target changed during the import: start again into a new empty store",
        )
    if progress is not None:
        progress(read)
    return LogSummary(digest.count, _count_keys(services), digest.hexdigest())


def _restore_keys(services: Services, keys: list[StoredSubjectKey]) -> None:
    with services.writer.begin() as conn:
        services.subject_keys.restore(conn, keys)


def _count_keys(services: Services) -> int:
    return sum(1 for _ in services.subject_keys.stored(BATCH))


def log_digest(services: Services) -> LogSummary:
    """The store's own count and digest (what export and import report)."""
    digest = _log_digest(services)
    return LogSummary(digest.count, _count_keys(services), digest.hexdigest())
