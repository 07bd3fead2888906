"""Erasure of a contact's personal data (right to erasure, GDPR art. 17)."""

from __future__ import annotations

from collections.abc import Callable

from eventsourcing.application import LRUCache
from sqlalchemy import Engine, delete, select, tuple_

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.application.idempotency import idempotency_keys
from crm_api.domain.accounts import Contact
from crm_api.privacy.keys import SubjectKeys


class ErasureService:
    """Erases a contact's personal data: records who and why (ContactErased), destroys the
    subject key, then scrubs the copies the key does not cover."""

    def __init__(self, app: CrmApplication, keys: SubjectKeys, writer: Engine) -> None:
        self.app = app
        self.keys = keys
        self.writer = writer
        self.forget_files: Callable[[str], int] | None = None
        """Deletes stored files (attachments) only the contact's records hold."""

    @command
    def erase_contact(
        self, ctx: CommandContext, contact_id: str, reason: str, reference: str | None
    ) -> Outcome[Contact]:
        ctx.principal.require("contacts:erase")
        contact = self.app.load(contact_id, Contact)
        if contact.erased:
            # A retry after a crash between the event and the key: finish the job, then say so.
            self.keys.destroy(str(contact.id))
        outcome = self.app.change(
            ctx, contact_id, Contact, lambda c: c.erase(reason=reason, reference=reference)
        )
        self.keys.destroy(str(outcome.record.id))
        self._forget_decoded_records()
        return outcome

    def _forget_decoded_records(self) -> None:
        """Other records decoded before the erasure (a service request's customer messages and
        notifications) sit in the aggregate cache with the values in clear: start a new cache,
        so they are read again from the log. (The library's LRUCache.clear keeps its entries.)"""
        cache = self.app.repository.cache
        if isinstance(cache, LRUCache):
            self.app.repository.cache = LRUCache(cache.maxsize)
        elif cache is not None:
            cache.cache.clear()

    def scrub(self, contact_id: str) -> int:
        """After the read models applied the erasure: forget stored Idempotency-Key answers
        that quote the contact, and on SQLite fold the write-ahead logs into the database files
        and truncate them (old page images would otherwise keep the values). Returns how many
        stored answers were forgotten."""
        needle = contact_id.encode()
        forgotten = 0
        after = ("", "")
        table = idempotency_keys
        while True:
            with self.writer.connect() as conn:
                rows = conn.execute(
                    select(table.c.principal_id, table.c.key, table.c.response_body)
                    .where(tuple_(table.c.principal_id, table.c.key) > tuple_(*after))
                    .order_by(table.c.principal_id, table.c.key)
                    .limit(500)
                ).all()
            quoting = [(r.principal_id, r.key) for r in rows if needle in (r.response_body or b"")]
            if quoting:
                with self.writer.begin() as conn:
                    for principal_id, key in quoting:
                        conn.execute(
                            delete(table).where(
                                table.c.principal_id == principal_id, table.c.key == key
                            )
                        )
                forgotten += len(quoting)
            if len(rows) < 500:
                break
            after = (rows[-1].principal_id, rows[-1].key)
        self._checkpoint()
        if self.forget_files is not None:
            self.forget_files(contact_id)
        return forgotten

    def _checkpoint(self) -> None:
        """The event store needs none: personal values only ever reach it sealed."""
        if self.writer.dialect.name != "sqlite":
            return
        raw = self.writer.raw_connection()
        try:
            cursor = raw.cursor()
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            cursor.close()
        finally:
            raw.close()
