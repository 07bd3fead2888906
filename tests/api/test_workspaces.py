"""Training workspaces: `crm-api workspace fork` copies the live history by replay into a new
database marked training; `crm-api workspace reset` returns it to the fork point."""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi.testclient import TestClient

from crm_api.app import create_app
from crm_api.application.services import Services
from crm_api.blobs import LocalBlobStore
from crm_api.db import Store
from crm_api.settings import Settings
from crm_api.workspaces import redacted_url
from tests.api.test_backup import crm_api, fresh_store  # noqa: F401
from tests.support import Company, FrozenClock


@contextmanager
def serving(url: str, settings: Settings, clock: FrozenClock) -> Iterator[TestClient]:
    """The API of the workspace at `url`, as `crm-api serve` would run it there; its services
    are `client.app.state.services`."""
    there = settings.model_copy(update={"database_url": url})
    services = Services(there, clock)
    try:
        app = create_app(there, clock=clock, services=services, run_workers=False, listen=False)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client
    finally:
        services.close()


def other_kind(store_url: str) -> str:
    return "sqlite" if Store(store_url).is_postgres else "postgres"


def run(args: list[str], url: str) -> tuple[int, str]:
    """`crm-api …` against `url`: its exit code and its output as one line."""
    result = crm_api(args, url)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, " ".join(str(result.output).split())


def fork(store_url: str, to: str, *args: str) -> str:
    code, output = run(["workspace", "fork", "--to", to, *args], store_url)
    assert code == 0, output
    return output


def test_a_fork_is_training_everyone_may_do_anything_and_live_never_sees_it(
    company: Company,
    services,
    store_url,
    settings,
    clock,
    tmp_path,
    fresh_store,  # noqa: F811
):
    account = company.open_account("rep_a", "Acme")
    live_head = services.app.head()
    live_files = LocalBlobStore(tmp_path / "blobs")
    kept, _ = live_files.put(io.BytesIO(b"a live recording"))
    training = fresh_store(other_kind(store_url))
    output = fork(store_url, training, "--name", "practice")
    assert f"forked {live_head} events" in output
    settings = settings.model_copy(update={"blob_dir": str(tmp_path / "blobs")})

    with serving(training, settings, clock) as fork_client:
        health = fork_client.get("/health")
        assert health.headers["x-crm-workspace"] == "practice; kind=training"
        body = health.json()
        assert body["workspace"] == "practice" and body["training"] is True
        details = body["workspace_details"]
        assert details["kind"] == "training" and details["source_position"] == live_head
        assert details["fork_position"] == live_head
        assert details["forked_from"] == redacted_url(store_url)
        # rep_c is in no team with rep_a: in training it sees and changes rep_a's account,
        # and the history still names rep_c.
        seen = fork_client.get("/api/v1/accounts", headers=company.as_("rep_c"))
        assert [a["name"] for a in seen.json()["data"]] == ["Acme"]
        changed = fork_client.patch(
            f"/api/v1/accounts/{account['id']}",
            json={"name": "Acme (practice)"},
            headers=company.as_("rep_c"),
        )
        assert changed.status_code == 200, changed.text
        history = fork_client.get(
            f"/api/v1/accounts/{account['id']}/history", headers=company.as_("auditor")
        )
        assert history.json()["data"][-1]["actor"] == company.ids["rep_c"]
        # Nothing leaves a training workspace: its workers start no webhook deliverer.
        fork_services = fork_client.app.state.services
        fork_services.start_workers()
        names = {thread.name for thread in fork_services._threads}
        assert "projection-group" in names and "webhook-deliverer" not in names
        # Its files: the live ones are read, never deleted; new ones stay in training.
        files = fork_services.blobs
        assert files.open(kept).read() == b"a live recording"
        files.delete(kept)
        new, _ = files.put(io.BytesIO(b"a practice upload"))
        assert live_files.exists(kept) and not live_files.exists(new) and files.exists(new)

    live = company.client.get(f"/api/v1/accounts/{account['id']}", headers=company.as_("rep_a"))
    assert live.headers["x-crm-workspace"] == "live; kind=live"
    assert live.json()["name"] == "Acme" and live.json()["version"] == 1
    assert services.app.head() == live_head
    refused = company.client.get(f"/api/v1/accounts/{account['id']}", headers=company.as_("rep_c"))
    assert refused.status_code == 404


def test_a_fork_at_a_past_time_equals_the_record_as_of_then(
    company: Company,
    store_url,
    settings,
    clock,
    fresh_store,  # noqa: F811
):
    created = company.client.post(
        "/api/v1/accounts",
        json={"name": "Then", "owner_id": company.ids["rep_a"]},
        headers=company.as_("rep_a"),
    )
    position = created.headers["x-log-position"]
    account = created.json()
    then = clock.advance(minutes=30)
    clock.advance(minutes=30)
    renamed = company.client.patch(
        f"/api/v1/accounts/{account['id']}", json={"name": "Now"}, headers=company.as_("rep_a")
    )
    assert renamed.status_code == 200
    as_of = company.client.get(
        f"/api/v1/accounts/{account['id']}",
        params={"as_of": then.isoformat()},
        headers=company.as_("rep_a"),
    ).json()
    assert as_of["name"] == "Then"

    training = fresh_store(other_kind(store_url))
    fork(store_url, training, "--at", then.isoformat())
    with serving(training, settings, clock) as fork_client:
        forked = fork_client.get(f"/api/v1/accounts/{account['id']}", headers=company.as_("rep_a"))
        assert forked.json() == as_of
        details = fork_client.get("/health").json()["workspace_details"]
        assert details["source_position"] == int(position)
        assert details["fork_time"].startswith(then.isoformat()[:19])


def test_reset_returns_a_training_workspace_to_its_fork_point_and_is_refused_on_live(
    company: Company,
    services,
    store_url,
    settings,
    clock,
    fresh_store,  # noqa: F811
):
    account = company.open_account("rep_a", "Acme")
    fork_at = services.app.head()
    company.open_account("rep_a", "Not in the fork")
    training = fresh_store(other_kind(store_url))
    fork(store_url, training, "--at", str(fork_at))
    with serving(training, settings, clock) as fork_client:
        fork_point = fork_client.get("/health").json()["workspace_details"]["fork_position"]
        fork_client.patch(
            f"/api/v1/accounts/{account['id']}", json={"name": "Oops"}, headers=company.as_("rep_b")
        )
        extra = fork_client.post(
            "/api/v1/accounts",
            json={"name": "Practice Ltd", "owner_id": company.ids["rep_b"]},
            headers=company.as_("rep_b"),
        ).json()

    code, refused = run(["workspace", "reset"], store_url)
    assert code == 2 and "is live, not a training workspace" in refused

    code, reset = run(["workspace", "reset"], training)
    assert code == 0 and "removed 2 events" in reset, reset

    with serving(training, settings, clock) as fork_client:
        back = fork_client.get(f"/api/v1/accounts/{account['id']}", headers=company.as_("rep_a"))
        assert back.json()["name"] == "Acme" and back.json()["version"] == 1
        gone = fork_client.get(f"/api/v1/accounts/{extra['id']}", headers=company.as_("admin"))
        assert gone.status_code == 404
        listed = fork_client.get("/api/v1/accounts", headers=company.as_("admin")).json()
        assert [a["name"] for a in listed["data"]] == ["Acme"]
        again = fork_client.post(
            "/api/v1/accounts",
            json={"name": "Practice Ltd", "owner_id": company.ids["rep_b"]},
            headers=company.as_("rep_b"),
        )
        assert int(again.headers["x-log-position"]) == fork_point + 1


def test_fork_refuses_a_database_that_is_not_empty_and_never_shows_a_password(
    company: Company,
    store_url,
    fresh_store,  # noqa: F811
):
    company.open_account("rep_a", "Acme")
    code, refused = run(["workspace", "fork", "--to", store_url], store_url)
    assert code == 2 and "live database itself" in refused
    used = fresh_store("sqlite")
    fork(store_url, used)
    code, again = run(["workspace", "fork", "--to", used], store_url)
    assert code == 2 and "not empty" in again
    code, bad = run(["workspace", "fork", "--to", used, "--at", "yesterday"], store_url)
    assert code == 2 and "neither a log position" in bad
    code, beyond = run(["workspace", "fork", "--to", used, "--at", "999999"], store_url)
    assert code == 2 and "past the live log's head" in beyond
    url = "postgresql+psycopg://crm:s3cret@db.example.com:5432/crm?password=s3cret"
    assert "s3cret" not in redacted_url(url)
    assert redacted_url(url) == "postgresql+psycopg://crm@db.example.com:5432/crm"
