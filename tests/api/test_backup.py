"""Backup and restore as a stream of events: `crm-api export-log` and `crm-api import-log`."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from crm_api.cli import cli
from crm_api.db import Store, create_read_engine, metadata, migrate
from crm_api.settings import get_settings
from tests.conftest import PG_ADMIN
from tests.support import Company

NOT_COMPARED = {
    "alembic_version",
    "projection_tracking",
    "idempotency_keys",
    "api_keys",
    "webhook_secrets",
}
"""Bookkeeping (where each projection stopped reading), and the tables outside the log:
Idempotency-Key answers, API keys, webhook signing secrets."""

PERSON = {
    "name": "Backup Person",
    "email": "backup.person@example.com",
    "phone": "+49 30 5550",
    "occupation": "Buyer",
    "birth_year": 1979,
}


@pytest.fixture
def fresh_store(tmp_path: Path) -> Iterator[Callable[[str], str]]:
    """Makes empty, migrated stores of either kind; drops the PostgreSQL ones afterwards."""
    databases: list[str] = []

    def make(kind: str) -> str:
        if kind == "sqlite":
            folder = tmp_path / f"store-{uuid.uuid4().hex[:8]}"
            url = f"sqlite:///{folder / 'crm.db'}"
        else:
            name = f"crm_backup_{uuid.uuid4().hex[:10]}"
            with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            databases.append(name)
            params = psycopg.conninfo.conninfo_to_dict(PG_ADMIN)
            url = (
                f"postgresql+psycopg://{params.get('user', 'postgres')}@"
                f"{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}/{name}"
            )
        migrate(Store(url))
        return url

    yield make
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        for name in databases:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def crm_api(args: list[str], url: str, **env: str) -> Any:
    get_settings.cache_clear()
    try:
        return CliRunner().invoke(cli, args, env={"CRM_DATABASE_URL": url, **env})
    finally:
        get_settings.cache_clear()


def read_models(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every read model's rows, sorted."""
    engine = create_read_engine(Store(url))
    found: dict[str, list[tuple[Any, ...]]] = {}
    try:
        with engine.connect() as conn:
            for table in metadata.sorted_tables:
                if table.name not in NOT_COMPARED:
                    rows = conn.execute(select(table)).all()
                    found[table.name] = sorted((tuple(row) for row in rows), key=repr)
    finally:
        engine.dispose()
    return found


def a_company_with_personal_data(company: Company) -> tuple[str, str]:
    """A contact with personal data and one erased; returns their ids."""
    account = company.open_account("rep_a", "Backup Account", industry="Retail")
    ids = []
    for person in (PERSON, {"name": "Erased Person", "email": "erased.person@example.com"}):
        response = company.client.post(
            "/api/v1/contacts",
            json={"account_id": account["id"], **person},
            headers=company.as_("rep_a"),
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])
    erased = company.client.post(
        f"/api/v1/contacts/{ids[1]}/erase",
        json={"reason": "subject_request"},
        headers=company.as_("admin"),
    )
    assert erased.status_code == 200, erased.text
    return ids[0], ids[1]


def test_a_backup_round_trips_through_the_other_kind_of_store_unchanged(
    company, services, store_url, fresh_store, tmp_path
):
    kept, erased = a_company_with_personal_data(company)
    services.catch_up()
    source_kind = "postgres" if Store(store_url).is_postgres else "sqlite"
    other = fresh_store("sqlite" if source_kind == "postgres" else "postgres")
    back = fresh_store(source_kind)

    exported = crm_api(["export-log", "--to", str(tmp_path / "one.ndjson")], store_url)
    assert exported.exit_code == 0, exported.output
    digest = re.search(r"sha256 ([0-9a-f]{64})", exported.output).group(1)  # type: ignore[union-attr]
    imported = crm_api(["import-log", "--from", str(tmp_path / "one.ndjson")], other)
    assert imported.exit_code == 0, imported.output
    assert f"sha256 {digest} verified" in imported.output
    again = crm_api(["export-log", "--to", str(tmp_path / "two.ndjson")], other)
    assert again.exit_code == 0 and f"sha256 {digest}" in again.output
    restored = crm_api(["import-log", "--from", str(tmp_path / "two.ndjson")], back)
    assert restored.exit_code == 0, restored.output

    source_models = read_models(store_url)
    assert source_models == read_models(other) == read_models(back)
    contacts = {row[0]: row for row in source_models["contacts"]}
    assert contacts[kept][3] == PERSON["name"] and contacts[erased][3] == "[erased]"


def test_the_backup_is_cloudevents_with_the_stored_bytes(company, services, tmp_path, store_url):
    a_company_with_personal_data(company)
    result = crm_api(["export-log", "--to", str(tmp_path / "log.ndjson")], store_url)
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in (tmp_path / "log.ndjson").read_text().splitlines()]
    events = [e for e in lines if e["type"] == "crm.backup.StoredEvent"]
    keys = [e for e in lines if e["type"] == "crm.backup.SubjectKey"]
    assert len(events) == services.app.head()
    assert [e["crmposition"] for e in events] == list(range(1, len(events) + 1))
    first = events[0]
    assert first["specversion"] == "1.0" and first["crmtopic"].startswith("crm_api.domain.")
    assert {"subject", "crmversion", "time", "data_base64"} <= set(first)
    assert len(keys) == 2 and sum("data_base64" in k for k in keys) == 1
    assert "crmerasedat" in next(k for k in keys if "data_base64" not in k)
    raw = (tmp_path / "log.ndjson").read_text()
    assert "backup.person@example.com" not in raw and "Backup Person" not in raw


def test_importing_into_a_store_that_has_events_is_refused(company, tmp_path, store_url):
    company.open_account("rep_a")
    assert crm_api(["export-log", "--to", str(tmp_path / "log.ndjson")], store_url).exit_code == 0
    result = crm_api(["import-log", "--from", str(tmp_path / "log.ndjson")], store_url)
    said = " ".join(result.output.split())
    assert result.exit_code == 2
    assert "not empty" in said and "a new SQLite path or a new PostgreSQL database" in said
