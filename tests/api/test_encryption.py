"""Encryption at rest: with CRM_CIPHER_KEY every stored event and snapshot is AES-GCM
ciphertext; key rotation is a backup decrypted with the old key, restored under the new one."""

from __future__ import annotations

import io
import json
import sqlite3
from typing import Any
from uuid import UUID

import psycopg
import pytest

from crm_api import backup
from crm_api.application.app import CrmApplication
from crm_api.application.notifier import LogNotifier
from crm_api.application.services import Services
from crm_api.db import Store
from crm_api.domain.people import Principal, Role
from crm_api.privacy.keys import StoreKeyMismatch, cipher_env, new_cipher_key, store_cipher
from crm_api.settings import Settings
from tests.api.test_backup import fresh_store  # noqa: F401  (a fixture)
from tests.support import Company

KEY = new_cipher_key()
NEW_KEY = new_cipher_key()
SECRET_NAME = "Zyxwvut Holdings"
ADMIN = Principal(id="admin", kind="user", role=Role.ADMIN, visible_owners=None)


@pytest.fixture
def settings(store_url: str) -> Settings:
    return Settings(database_url=store_url, jwt_secret="test-secret-" + "x" * 32, cipher_key=KEY)


def raw_states(store_url: str, table: str) -> list[bytes]:
    """The `state` column exactly as the database holds it."""
    store = Store(store_url)
    if store.is_postgres:
        with psycopg.connect(store.psycopg_conninfo()) as conn:
            return [bytes(r[0]) for r in conn.execute(f"SELECT state FROM crm_{table}")]
    with sqlite3.connect(store.sqlite_path) as conn:
        return [r[0] for r in conn.execute(f"SELECT state FROM stored_{table}")]


def account(company: Company) -> dict[str, Any]:
    return company.open_account("rep_a", SECRET_NAME, phone="+49 30 123", industry="Mining")


def test_with_a_cipher_key_no_payload_is_readable_in_the_raw_table(company: Company, store_url):
    opened = account(company)
    states = raw_states(store_url, "events")
    assert len(states) > 5
    for state in states:
        # Not JSON (a ciphertext begins with b"{" once in 256, so parse, don't peek).
        with pytest.raises(ValueError):
            json.loads(state)
        for clear in (SECRET_NAME.encode(), b"Mining", b"@example.com", b'"meta"'):
            assert clear not in state
    read = company.client.get(f"/api/v1/accounts/{opened['id']}", headers=company.as_("rep_a"))
    assert read.json()["name"] == SECRET_NAME
    feed = company.client.get("/api/v1/events", headers=company.as_("admin"))
    assert SECRET_NAME in feed.text


def test_the_service_will_not_start_with_another_key_or_none(company: Company, settings, clock):
    account(company)
    for wrong in (NEW_KEY, None):
        with pytest.raises(StoreKeyMismatch, match="do not open with CRM_CIPHER_KEY"):
            Services(settings.model_copy(update={"cipher_key": wrong}), clock)


def test_snapshots_are_encrypted_too(company: Company, services, store_url, clock):
    opened = account(company)
    snapshotting = CrmApplication(
        {**services.store.event_store_env(), **cipher_env(KEY), "IS_SNAPSHOTTING_ENABLED": "y"},
        clock,
        LogNotifier(),
    )
    try:
        snapshotting.take_snapshot(UUID(opened["id"]))
        snapshots = raw_states(store_url, "snapshots")
        assert len(snapshots) == 1 and SECRET_NAME.encode() not in snapshots[0]
        assert snapshotting.repository.get(UUID(opened["id"])).name == SECRET_NAME
    finally:
        snapshotting.close()


def test_rotating_the_key_rewrites_every_payload_under_the_new_key(
    company: Company,
    services,
    store_url,
    fresh_store,  # noqa: F811
    clock,
):
    opened = account(company)
    contact = company.client.post(
        "/api/v1/contacts",
        json={"account_id": opened["id"], "name": "Rota Person", "email": "rota@example.com"},
        headers=company.as_("rep_a"),
    ).json()
    written = io.StringIO()
    exported = backup.export_log(services, written)

    kind = "postgres" if Store(store_url).is_postgres else "sqlite"
    target_url = fresh_store(kind)
    target = Services(Settings(database_url=target_url, cipher_key=NEW_KEY), clock)
    try:
        lines = io.BytesIO(written.getvalue().encode())
        with pytest.raises(backup.BackupError, match="cannot be decrypted"):
            backup.import_log(target, lines)
        lines.seek(0)
        imported = backup.import_log(target, lines, source_key=KEY)
        target.catch_up()
        moved = target.accounts.get_contact(ADMIN, contact["id"])
    finally:
        target.close()
    assert (imported.events, imported.digest) == (exported.events, exported.digest)
    assert (moved.name, moved.email) == ("Rota Person", "rota@example.com")
    old, new = store_cipher(KEY), store_cipher(NEW_KEY)
    assert old is not None and new is not None
    for state in raw_states(target_url, "events"):
        new.decrypt(state)
        with pytest.raises(ValueError):
            old.decrypt(state)
