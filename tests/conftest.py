"""One place splits the suites over SQLite and PostgreSQL (CRM_TEST_STORES, default both).

PostgreSQL must be reachable when it is asked for: the run fails, it never skips silently.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from crm_api.app import create_app
from crm_api.application.services import Services
from crm_api.db import Store, migrate
from crm_api.settings import Settings
from tests.support import Company, FrozenClock

STORES = [
    s.strip() for s in os.environ.get("CRM_TEST_STORES", "sqlite,postgres").split(",") if s.strip()
]
PG_ADMIN = os.environ.get(
    "CRM_TEST_POSTGRES", "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
)
# Every Settings() made by a test (and every server it starts) keeps the rate limiter on but out
# of reach of suites that send thousands of requests as one user; test_rate_limit sets its own.
os.environ.setdefault("CRM_RATE_LIMIT", "100000/minute")


def pytest_report_header(config: pytest.Config) -> str:
    return f"crm_api stores under test: {', '.join(STORES)}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    name = f"crm_test_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as error:
        pytest.exit(
            f"PostgreSQL is not reachable ({error}). Start it with "
            "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, "
            "or run only SQLite with CRM_TEST_STORES=sqlite.",
            returncode=3,
        )
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        # A test database needs no durability: commits don't wait for the WAL to reach disk.
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    params = psycopg.conninfo.conninfo_to_dict(PG_ADMIN)
    url = f"postgresql+psycopg://{params.get('user', 'postgres')}@{params.get('host', '127.0.0.1')}:{params.get('port', 5432)}/{name}"
    migrate(Store(url))
    yield url
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("template")
    store = Store(f"sqlite:///{folder / 'crm.db'}")
    migrate(store)
    return folder


def _empty_postgres(url: str) -> None:
    """Empty every table and restart every sequence: DELETE on a few small tables costs a
    tenth of TRUNCATE's per-table file work, which dominated each test's set-up."""
    conninfo = Store(url).psycopg_conninfo()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ]
        sequences = [
            row[0]
            for row in conn.execute(
                "SELECT sequencename FROM pg_sequences WHERE schemaname = 'public'"
            )
        ]
        with conn.transaction():
            for table in tables:
                conn.execute(f'DELETE FROM "{table}"')
            for sequence in sequences:
                conn.execute(f'ALTER SEQUENCE "{sequence}" RESTART')


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
        _empty_postgres(url)
        return url
    template = request.getfixturevalue("sqlite_template")
    for file in template.iterdir():
        if file.name.endswith(".db"):
            shutil.copy(file, tmp_path / file.name)
    return f"sqlite:///{tmp_path / 'crm.db'}"


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
def settings(store_url: str) -> Settings:
    return Settings(database_url=store_url, jwt_secret="test-secret-" + "x" * 32)


@pytest.fixture
def services(settings: Settings, clock: FrozenClock) -> Iterator[Services]:
    services = Services(settings, clock)
    yield services
    services.close()


@pytest.fixture
def client(
    request: pytest.FixtureRequest, settings: Settings, clock: FrozenClock, services: Services
) -> Iterator[TestClient]:
    # Projections catch up inline on each write (read-your-writes) unless a test is about the
    # background workers themselves: a dozen threads waking on every append cost more than the
    # work they do in a suite of small tests.
    workers = request.node.get_closest_marker("workers") is not None
    app = create_app(settings, clock=clock, services=services, run_workers=workers, listen=workers)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def company(client: TestClient, settings: Settings, clock: FrozenClock) -> Company:
    return Company.build(client, settings, clock)
