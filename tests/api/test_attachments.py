"""Attachments and call recordings on service requests: stored once by content, checked for
size and type, downloaded only by those who see the request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from crm_api.settings import Settings
from tests.api.test_graphql_sales import gql
from tests.sales_support import assert_problem, fields, history_types, ok
from tests.service_support import REQUESTS, open_request, settings_with_blobs
from tests.support import Company

LIMIT = 2 * 1024 * 1024
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x01" * 100
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64


@pytest.fixture
def settings(store_url: str, tmp_path: Path) -> Settings:
    return settings_with_blobs(store_url, tmp_path, max_attachment_bytes=LIMIT)


def upload(
    company: Company,
    who: str,
    request_id: str,
    content: bytes,
    content_type: str = "image/png",
    filename: str = "photo.png",
    **form: str,
) -> Any:
    return company.client.post(
        f"{REQUESTS}/{request_id}/attachments",
        files={"file": (filename, content, content_type)},
        data=form,
        headers=company.as_(who),
    )


def blob_files(settings: Settings) -> list[Path]:
    return [p for p in Path(settings.blob_dir).rglob("*") if p.is_file()]


def test_an_attachment_is_recorded_listed_and_downloaded(company: Company, settings) -> None:
    account = company.open_account("rep_a")
    rid = open_request(company, "rep_a", account["id"])["id"]
    response = upload(
        company, "rep_a", rid, PNG, filename="../Fotó <1>|.png", description="the display"
    )
    added = ok(response, 201)
    assert response.headers["Location"] == f"{REQUESTS}/{rid}/attachments/{added['id']}"
    assert (added["filename"], added["content_type"], added["size"], added["kind"]) == (
        "Fotó _1_.png",
        "image/png",
        len(PNG),
        "attachment",
    )
    assert (added["description"], added["added_by"]) == ("the display", company.ids["rep_a"])
    listed = ok(company.client.get(f"{REQUESTS}/{rid}/attachments", headers=company.as_("rep_a")))
    assert [a["id"] for a in listed["data"]] == [added["id"]]
    request = ok(company.client.get(f"{REQUESTS}/{rid}", headers=company.as_("manager")))
    assert [a["sha256"] for a in request["attachments"]] == [added["sha256"]]
    assert history_types(company, f"{REQUESTS}/{rid}")[-1] == "ServiceRequestAttachmentAdded"
    query = "query($id: ID!) { serviceRequest(id: $id) { attachments { id kind sha256 } } }"
    seen = gql(company, "manager", query, id=rid)["data"]["serviceRequest"]["attachments"]
    assert seen == [{"id": added["id"], "kind": "attachment", "sha256": added["sha256"]}]

    download = company.client.get(
        f"{REQUESTS}/{rid}/attachments/{added['id']}", headers=company.as_("manager")
    )
    assert download.status_code == 200 and download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["x-content-type-options"] == "nosniff"
    assert download.headers["content-disposition"] == (
        "attachment; filename=\"Fot_ _1_.png\"; filename*=UTF-8''Fot%C3%B3%20_1_.png"
    )


def test_a_call_recording_over_the_body_limit_but_within_its_own_is_accepted(
    company: Company, settings
) -> None:
    account = company.open_account("rep_a")
    rid = open_request(company, "rep_a", account["id"], channel="call_center")["id"]
    recording = WAV + b"\x01" * (1024 * 1024 + 500)
    added = ok(
        upload(company, "rep_a", rid, recording, "audio/wav", "call.wav", kind="recording"), 201
    )
    assert (added["kind"], added["size"]) == ("recording", len(recording))
    problem = assert_problem(
        upload(company, "rep_a", rid, PNG, kind="recording"), 415, "unsupported_media_type"
    )
    assert fields(problem) == ["file"]


def test_the_same_content_is_stored_once(company: Company, settings) -> None:
    account = company.open_account("rep_a")
    first = open_request(company, "rep_a", account["id"])["id"]
    second = open_request(company, "rep_a", account["id"], subject="Again")["id"]
    one = ok(upload(company, "rep_a", first, PNG), 201)
    other = ok(upload(company, "rep_a", second, PNG, filename="same.png"), 201)
    assert one["sha256"] == other["sha256"] and one["id"] != other["id"]
    assert [p.name for p in blob_files(settings)] == [one["sha256"]]


def test_too_large_wrong_lying_and_empty_files_are_refused(company: Company, settings) -> None:
    account = company.open_account("rep_a")
    rid = open_request(company, "rep_a", account["id"])["id"]
    too_large = assert_problem(
        upload(company, "rep_a", rid, PNG + b"\x00" * LIMIT), 413, "attachment_too_large"
    )
    assert fields(too_large) == ["file"] and str(LIMIT) in too_large["detail"]
    wrong = assert_problem(
        upload(company, "rep_a", rid, b"MZ\x90\x00", "application/x-msdownload", "a.exe"),
        415,
        "unsupported_media_type",
    )
    assert fields(wrong) == ["file"]
    lying = assert_problem(
        upload(company, "rep_a", rid, b"%PDF-1.7 not a picture"), 415, "unsupported_media_type"
    )
    assert fields(lying) == ["file"]
    empty = assert_problem(upload(company, "rep_a", rid, b""), 422, "validation_failed")
    assert fields(empty) == ["file"]
    assert blob_files(settings) == []
    assert "ServiceRequestAttachmentAdded" not in history_types(company, f"{REQUESTS}/{rid}")


def test_only_those_who_see_the_request_see_its_attachments(company: Company, settings) -> None:
    account = company.open_account("rep_a")
    rid = open_request(company, "rep_a", account["id"])["id"]
    added = ok(upload(company, "rep_a", rid, PNG), 201)
    url = f"{REQUESTS}/{rid}/attachments"
    assert_problem(
        company.client.get(f"{url}/{added['id']}", headers=company.as_("rep_c")), 404, "not_found"
    )
    assert_problem(company.client.get(url, headers=company.as_("rep_c")), 404, "not_found")
    assert_problem(upload(company, "rep_c", rid, PNG), 404, "not_found")
    assert_problem(
        company.client.get(
            f"{url}/00000000-0000-4000-8000-000000000000", headers=company.as_("rep_a")
        ),
        404,
        "not_found",
    )
    assert company.client.get(f"{url}/{added['id']}", headers=company.as_("auditor")).content == PNG
