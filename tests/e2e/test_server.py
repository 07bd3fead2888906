"""End to end: the real `crm-api` commands and a uvicorn server on loopback."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.support import BIN, serving
from tests.e2e.support import e2e_env as _env
from tests.e2e.support import token as _token

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(store_url: str) -> Iterator[tuple[str, dict[str, str]]]:
    env = _env(store_url)
    subprocess.run([BIN / "crm-api", "migrate"], env=env, check=True, capture_output=True)
    with serving(env) as base:
        yield base, env


def test_a_client_bootstraps_an_admin_creates_a_rep_and_its_account_over_http(server):
    base, env = server
    admin = subprocess.run(
        [BIN / "crm-api", "token", "--admin"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {admin}"}) as http:
        health = http.get("/health")
        assert health.json()["workspace"] == "e2e"
        assert health.headers["x-workspace"] == "e2e"
        rep = http.post(
            "/api/v1/users", json={"name": "Rita Rep", "email": "rita@example.com", "role": "rep"}
        )
        assert rep.status_code == 201, rep.text
        rep_token = subprocess.run(
            [BIN / "crm-api", "token", "--user", rep.json()["id"]],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout.strip()
        as_rep = {"Authorization": f"Bearer {rep_token}"}
        created = http.post(
            "/api/v1/accounts", json={"name": "Acme", "owner_id": rep.json()["id"]}, headers=as_rep
        )
        assert created.status_code == 201, created.text
        listed = http.get("/api/v1/accounts", headers=as_rep).json()
        assert [a["name"] for a in listed["data"]] == ["Acme"]
        assert http.get("/ready").json()["status"] == "ok"
        assert http.get("/docs").status_code == 200
        assert (
            http.get("/api/v1/accounts", headers={"Authorization": "Bearer nope"}).status_code
            == 401
        )


def test_an_api_process_without_workers_reads_its_writes_through_a_separate_worker(store_url):
    """PostgreSQL scale-out: `serve --no-workers` records events, `crm-api worker` projects
    them (woken by LISTEN/NOTIFY), and the API process's write waits for the worker's
    progress notification before answering, so the list shows the write at once."""
    if not store_url.startswith("postgresql"):
        pytest.skip("API and worker processes share a store only on PostgreSQL")
    env = _env(store_url)
    subprocess.run([BIN / "crm-api", "migrate"], env=env, check=True, capture_output=True)
    worker = subprocess.Popen(
        [BIN / "crm-api", "worker"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        with serving(env, "--no-workers") as base:
            admin = {"Authorization": f"Bearer {_token(env, '--admin')}"}
            with httpx.Client(base_url=base, timeout=10) as http:
                rep = http.post(
                    "/api/v1/users",
                    json={"name": "Rita", "email": "rita@example.com", "role": "rep"},
                    headers=admin,
                )
                assert rep.status_code == 201, rep.text
                as_rep = {"Authorization": f"Bearer {_token(env, '--user', rep.json()['id'])}"}
                for n in range(5):
                    created = http.post(
                        "/api/v1/accounts",
                        json={"name": f"Acme {n}", "owner_id": rep.json()["id"]},
                        headers=as_rep,
                    )
                    assert created.status_code == 201, created.text
                    listed = http.get("/api/v1/accounts", headers=as_rep).json()["data"]
                    names = [a["name"] for a in listed]
                    assert f"Acme {n}" in names
                statuses = {
                    p["name"]: p for p in http.get("/api/v1/projections", headers=admin).json()
                }
                assert all(p["holder"] and "crm-api" in p["holder"] for p in statuses.values())
    finally:
        worker.terminate()
        worker.wait(timeout=20)


def test_migrate_creates_the_folder_of_a_fresh_sqlite_store(tmp_path):
    """`make run` on a fresh clone: ./var does not exist yet."""
    env = _env(f"sqlite:///{tmp_path / 'not-yet' / 'crm.db'}")
    done = subprocess.run([BIN / "crm-api", "migrate"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "not-yet" / "crm-read.db").exists()
