"""End to end: the real `crm-api` commands and a uvicorn server on loopback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(store_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    env = {
        **os.environ,
        "CRM_DATABASE_URL": store_url,
        "CRM_JWT_SECRET": "e2e-secret-" + "y" * 32,
        "CRM_WORKSPACE_NAME": "e2e",
    }
    subprocess.run([BIN / "crm-api", "migrate"], env=env, check=True, capture_output=True)
    port = _free_port()
    process = subprocess.Popen(
        [BIN / "crm-api", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        with httpx.Client() as probe:
            for _ in range(200):
                try:
                    if probe.get(f"{base}/health").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if process.poll() is not None:
                    raise AssertionError(process.stdout.read().decode() if process.stdout else "")
                time.sleep(0.05)  # waiting for a child process to bind its port, not for our clock
        yield base, env
    finally:
        process.terminate()
        process.wait(timeout=20)


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
