"""Bad input always gets a 4xx RFC 9457 problem with a stable code, never a 500."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import jwt
import pytest

from crm_api.auth import mint_token
from tests.support import bearer

API = "/api/v1"
PROBLEM_FIELDS = {"type", "title", "status", "detail", "code"}


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body.keys() >= PROBLEM_FIELDS, body
    assert body["status"] == status
    assert body["type"] == f"urn:crm:problem:{body['code']}"
    assert "Traceback" not in response.text
    if code is not None:
        assert body["code"] == code, body
    return body


def error_fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body["errors"]]


def account_body(company: Any, **fields: Any) -> dict[str, Any]:
    return {"name": "Acme", "owner_id": company.ids["rep_a"], **fields}


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


# request bodies


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": 123}, "name"),
        ({"name": ["Acme"]}, "name"),
        ({"name": None}, "name"),
        ({"owner_id": "not-a-uuid"}, "owner_id"),
        ({"owner_id": 42}, "owner_id"),
        ({"manual_grade": "Z"}, "manual_grade"),
        ({"phone": "call me"}, "phone"),
        ({"address": "1 Main St"}, "address"),
        ({"address": {"country": "Norway"}}, "address.country"),
        ({"name": "x" * 201}, "name"),
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"industry": "i" * 101}, "industry"),
        ({"address": {"line1": "l" * 201}}, "address.line1"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_an_account_with_a_wrong_field_is_refused_naming_the_field(client, company, fields, field):
    response = client.post(
        f"{API}/accounts", json=account_body(company, **fields), headers=company.as_("rep_a")
    )
    body = assert_problem(response, 422, "validation_failed")
    assert error_fields(body) == [field]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Acme"}, "owner_id"),
        ({"owner_id": "00000000-0000-4000-8000-000000000009"}, "name"),
    ],
)
def test_an_account_without_a_required_field_is_refused(client, company, body, field):
    response = client.post(f"{API}/accounts", json=body, headers=company.as_("rep_a"))
    assert field in error_fields(assert_problem(response, 422, "validation_failed"))


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/accounts", {"name": "Acme", "colour": "red"}, "colour"),
        (
            "/accounts",
            {"name": "Acme", "address": {"line1": "x", "planet": "Mars"}},
            "address.planet",
        ),
        (
            "/users",
            {"name": "U", "email": "u@example.com", "role": "rep", "is_admin": True},
            "is_admin",
        ),
        ("/teams", {"name": "South", "budget": 1}, "budget"),
        ("/api-keys", {"name": "k", "scopes": ["accounts:read"], "secret": "mine"}, "secret"),
    ],
)
def test_unknown_fields_are_refused_by_name(client, company, path, body, field):
    if path == "/accounts":
        body = {**body, "owner_id": company.ids["rep_a"]}
    response = client.post(f"{API}{path}", json=body, headers=company.as_("admin"))
    assert error_fields(assert_problem(response, 422, "validation_failed")) == [field]


def test_an_unknown_field_in_a_patch_is_refused_and_changes_nothing(client, company):
    account = company.open_account("rep_a", "Acme")
    response = client.patch(
        f"{API}/accounts/{account['id']}",
        json={"name": "Renamed", "owner_id": company.ids["rep_b"]},
        headers=company.as_("rep_a"),
    )
    assert error_fields(assert_problem(response, 422, "validation_failed")) == ["owner_id"]
    current = client.get(f"{API}/accounts/{account['id']}", headers=company.as_("rep_a")).json()
    assert (current["name"], current["version"]) == ("Acme", account["version"])


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/users", {"name": "U", "email": "not-an-email", "role": "rep"}, "email"),
        ("/users", {"name": "U", "email": "u@example.com", "role": "emperor"}, "role"),
        (
            "/users",
            {"name": "U", "email": "u@example.com", "role": "rep", "team_id": "north"},
            "team_id",
        ),
        (
            "/users",
            {"name": "U", "email": "u@example.com", "role": "assistant", "assists": "rep"},
            "assists",
        ),
        (
            "/users",
            {"name": "U", "email": "u@example.com", "role": "manager", "approval_limit_pct": "abc"},
            "approval_limit_pct",
        ),
        (
            "/users",
            {"name": "U", "email": "u@example.com", "role": "manager", "approval_limit_pct": 101},
            "approval_limit_pct",
        ),
        (
            "/users",
            {"name": "U", "email": "u@example.com", "role": "rep", "approval_limit_pct": 10},
            "approval_limit_pct",
        ),
        (
            "/users",
            {
                "name": "U",
                "email": "u@example.com",
                "role": "rep",
                "assists": [],
                "team_id": None,
                "name2": 1,
            },
            "name2",
        ),
        ("/teams", {"name": "x" * 201}, "name"),
        ("/teams", {"name": "South", "manager_id": 7}, "manager_id"),
        ("/api-keys", {"name": "k", "scopes": []}, "scopes"),
        ("/api-keys", {"name": "k", "scopes": ["accounts:delete"]}, "scopes[0]"),
        ("/api-keys", {"name": "k", "role": "rep", "scopes": ["accounts:read"]}, "role"),
    ],
)
def test_wrong_values_for_users_teams_and_keys_are_refused_by_name(
    client, company, path, body, field
):
    response = client.post(f"{API}{path}", json=body, headers=company.as_("admin"))
    assert field in error_fields(assert_problem(response, 422, "validation_failed"))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"birth_year": "nineteen"}, "birth_year"),
        ({"birth_year": 1800}, "birth_year"),
        ({"birth_year": 10**30}, "birth_year"),
        ({"email": "nobody"}, "email"),
        ({"account_id": "acme"}, "account_id"),
    ],
)
def test_a_contact_with_a_wrong_field_is_refused_naming_the_field(client, company, fields, field):
    account = company.open_account("rep_a", "Acme")
    body = {"account_id": account["id"], "name": "Ann", **fields}
    response = client.post(f"{API}/contacts", json=body, headers=company.as_("rep_a"))
    assert error_fields(assert_problem(response, 422, "validation_failed")) == [field]


def test_a_contact_for_an_unknown_account_is_refused_naming_account_id(client, company):
    body = {"account_id": str(uuid4()), "name": "Ann"}
    response = client.post(f"{API}/contacts", json=body, headers=company.as_("rep_a"))
    assert error_fields(assert_problem(response, 422, "validation_failed")) == ["account_id"]


@pytest.mark.parametrize(
    "raw",
    [b'{"name": "Acme",', b"{'name': 'Acme'}", b"not json", b'{"name": "Acme"} trailing'],
    ids=["truncated", "single_quotes", "text", "trailing"],
)
def test_malformed_json_is_a_400(client, company, raw):
    headers = {**company.as_("rep_a"), "Content-Type": "application/json"}
    response = client.post(f"{API}/accounts", content=raw, headers=headers)
    assert_problem(response, 400, "malformed_json")


@pytest.mark.parametrize(
    "raw",
    [b"", b"null", b"[]", b'"Acme"', b"42"],
    ids=["empty", "null", "array", "string", "number"],
)
def test_a_body_that_is_not_an_object_is_refused(client, company, raw):
    headers = {**company.as_("rep_a"), "Content-Type": "application/json"}
    response = client.post(f"{API}/accounts", content=raw, headers=headers)
    assert_problem(response, 422, "validation_failed")


@pytest.mark.parametrize(
    "raw",
    [b"\xff\xfe\x00garbage", b"[" * 50_000, b'{"name": "Acme", "phone": NaN}'],
    ids=["not_utf8", "deeply_nested", "nan"],
)
def test_hostile_bodies_get_a_4xx_problem(client, company, raw):
    headers = {**company.as_("rep_a"), "Content-Type": "application/json"}
    response = client.post(f"{API}/accounts", content=raw, headers=headers)
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)


def test_a_non_finite_approval_limit_is_refused(client, company):
    raw = b'{"name": "M", "email": "m2@example.com", "role": "manager", "approval_limit_pct": NaN}'
    headers = {**company.as_("admin"), "Content-Type": "application/json"}
    response = client.post(f"{API}/users", content=raw, headers=headers)
    assert error_fields(assert_problem(response, 422, "validation_failed")) == [
        "approval_limit_pct"
    ]


def test_a_body_over_one_mebibyte_is_a_413(client, company):
    body = json.dumps(account_body(company, industry="x" * (1024 * 1024))).encode()
    headers = {**company.as_("rep_a"), "Content-Type": "application/json"}
    response = client.post(f"{API}/accounts", content=body, headers=headers)
    assert_problem(response, 413, "payload_too_large")
    listed = client.get(f"{API}/accounts", headers=company.as_("rep_a")).json()
    assert listed["data"] == []


def test_a_streamed_body_over_one_mebibyte_is_a_413(client, company):
    chunk = b" " * (256 * 1024)

    def chunks():
        yield b'{"name": "Acme", "industry": "'
        for _ in range(5):
            yield chunk
        yield b'"}'

    headers = {**company.as_("rep_a"), "Content-Type": "application/json"}
    response = client.post(f"{API}/accounts", content=chunks(), headers=headers)
    assert_problem(response, 413, "payload_too_large")


def test_a_body_just_under_the_limit_is_judged_on_its_content(client, company):
    body = json.dumps(account_body(company, industry="x" * (1024 * 1000))).encode()
    headers = {**company.as_("rep_a"), "Content-Type": "application/json"}
    response = client.post(f"{API}/accounts", content=body, headers=headers)
    assert error_fields(assert_problem(response, 422, "validation_failed")) == ["industry"]


# lists: cursors, sorts, limits, filters

LISTS = ["/accounts", "/contacts", "/users", "/teams", "/api-keys"]


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        "!!!",
        b64(b"garbage"),
        b64(b"\xff\xfe\xfd"),
        b64(b'{"s": "name,id"}'),
        b64(b'["name,id", []]'),
        b64(b'"name,id"'),
        b64(b'{"s": "name,id", "k": [1, 2]}'),
        b64(b'{"s": "name,id", "k": [null, null]}'),
        b64(b'{"s": "name,id", "k": ["a"]}'),
    ],
)
def test_a_bad_cursor_is_a_400_invalid_cursor(client, company, path, cursor):
    response = client.get(f"{API}{path}", params={"cursor": cursor}, headers=company.as_("admin"))
    assert_problem(response, 400, "invalid_cursor")


def test_a_cursor_from_another_sort_order_is_refused(client, company):
    first = client.get(
        f"{API}/users", params={"limit": 1, "sort": "name"}, headers=company.as_("admin")
    ).json()
    assert first["has_more"] is True
    response = client.get(
        f"{API}/users",
        params={"limit": 1, "sort": "-created_at", "cursor": first["next_cursor"]},
        headers=company.as_("admin"),
    )
    body = assert_problem(response, 400, "invalid_cursor")
    assert "sort" in body["detail"]


def test_a_cursor_still_works_with_its_own_sort_order(client, company):
    first = client.get(
        f"{API}/users", params={"limit": 1, "sort": "-email"}, headers=company.as_("admin")
    ).json()
    second = client.get(
        f"{API}/users",
        params={"limit": 1, "sort": "-email", "cursor": first["next_cursor"]},
        headers=company.as_("admin"),
    )
    assert second.status_code == 200
    assert second.json()["data"][0]["email"] < first["data"][0]["email"]


@pytest.mark.parametrize(
    ("path", "sort"),
    [("/users", "created_at"), ("/accounts", "-updated_at"), ("/api-keys", None)],
)
def test_the_next_page_of_a_list_sorted_by_a_timestamp_loads(client, company, path, sort):
    for name in ("Acme", "Globex"):
        company.open_account("manager", name)
        client.post(
            f"{API}/api-keys",
            json={"name": name, "scopes": ["accounts:read"]},
            headers=company.as_("admin"),
        )
        company.clock.advance(minutes=1)
    params = {"limit": 1} if sort is None else {"limit": 1, "sort": sort}
    first = client.get(f"{API}{path}", params=params, headers=company.as_("admin")).json()
    second = client.get(
        f"{API}{path}",
        params={**params, "cursor": first["next_cursor"]},
        headers=company.as_("admin"),
    )
    assert second.status_code == 200, second.text
    assert second.json()["data"][0]["id"] != first["data"][0]["id"]


@pytest.mark.parametrize("value", ["not a date", "2026-01-01T00:00:00", 5])
def test_a_timestamp_cursor_without_an_aware_timestamp_is_a_400(client, company, value):
    cursor = b64(json.dumps({"s": "-created_at,-id", "k": [value, str(uuid4())]}).encode())
    response = client.get(
        f"{API}/api-keys", params={"cursor": cursor}, headers=company.as_("admin")
    )
    assert_problem(response, 400, "invalid_cursor")


@pytest.mark.parametrize("cursor", ["abc", "-1", "1" * 10])
def test_a_bad_history_cursor_is_a_400_invalid_cursor(client, company, cursor):
    account = company.open_account("rep_a", "Acme")
    response = client.get(
        f"{API}/accounts/{account['id']}/history",
        params={"cursor": cursor},
        headers=company.as_("rep_a"),
    )
    assert_problem(response, 400, "invalid_cursor")


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize(
    "sort", ["password", "name,name", "owner_id", ",", "name;drop table users"]
)
def test_a_bad_sort_is_refused_naming_sort(client, company, path, sort):
    response = client.get(f"{API}{path}", params={"sort": sort}, headers=company.as_("admin"))
    assert error_fields(assert_problem(response, 422, "validation_failed")) == ["sort"]


@pytest.mark.parametrize(
    "path", [*LISTS, "/accounts/{account}/history", "/accounts/{account}/contacts"]
)
@pytest.mark.parametrize("limit", ["0", "201", "ten"])
def test_a_limit_outside_1_to_200_is_refused(client, company, path, limit):
    account = company.open_account("rep_a", "Acme")
    url = f"{API}{path}".format(account=account["id"])
    response = client.get(url, params={"limit": limit}, headers=company.as_("admin"))
    assert error_fields(assert_problem(response, 422, "validation_failed")) == ["limit"]


@pytest.mark.parametrize("limit", ["1", "200"])
def test_limits_1_and_200_are_accepted(client, company, limit):
    response = client.get(f"{API}/accounts", params={"limit": limit}, headers=company.as_("admin"))
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"owner_id": "rep_a"}, "owner_id"),
        ({"updated_since": "yesterday"}, "updated_since"),
        ({"archived": "maybe"}, "archived"),
        ({"manual_grade": "Z"}, "manual_grade"),
        ({"q": ""}, "q"),
        ({"q": "q" * 101}, "q"),
        ({"min_position": "-1"}, "min_position"),
    ],
)
def test_a_bad_filter_is_refused_naming_it(client, company, params, field):
    response = client.get(f"{API}/accounts", params=params, headers=company.as_("admin"))
    assert error_fields(assert_problem(response, 422, "validation_failed")) == [field]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"version": "0"}, "version"),
        ({"as_of": "soon"}, "as_of"),
        ({"version": "1", "as_of": "2026-01-01T00:00:00Z"}, "as_of"),
    ],
)
def test_a_bad_point_in_time_is_refused(client, company, params, field):
    account = company.open_account("rep_a", "Acme")
    response = client.get(
        f"{API}/accounts/{account['id']}", params=params, headers=company.as_("rep_a")
    )
    assert error_fields(assert_problem(response, 422, "validation_failed")) == [field]


def test_a_version_the_record_never_had_is_a_404(client, company):
    account = company.open_account("rep_a", "Acme")
    response = client.get(
        f"{API}/accounts/{account['id']}", params={"version": 99}, headers=company.as_("rep_a")
    )
    assert_problem(response, 404, "not_found")


# ids in paths


@pytest.mark.parametrize(
    "record_id", ["not-a-uuid", "00000000-0000-0000-0000-00000000000g", "x" * 300]
)
@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/accounts/{id}"),
        ("PATCH", "/accounts/{id}"),
        ("GET", "/accounts/{id}/history"),
        ("GET", "/accounts/{id}/contacts"),
        ("POST", "/accounts/{id}/archive"),
        ("GET", "/contacts/{id}"),
        ("GET", "/users/{id}"),
        ("GET", "/teams/{id}"),
        ("POST", "/api-keys/{id}/revoke"),
    ],
)
def test_a_path_id_that_is_not_a_uuid_is_a_404(client, company, method, path, record_id):
    body = {"name": "Renamed"} if method == "PATCH" else None
    response = client.request(
        method, f"{API}{path}".format(id=record_id), json=body, headers=company.as_("admin")
    )
    assert_problem(response, 404, "not_found")


@pytest.mark.parametrize(
    ("path", "who"),
    [("/accounts/{id}", "manager"), ("/contacts/{id}", "manager"), ("/users/{id}", "team")],
)
def test_an_id_of_another_kind_of_record_is_a_404(client, company, path, who):
    response = client.get(f"{API}{path}".format(id=company.ids[who]), headers=company.as_("admin"))
    assert_problem(response, 404, "not_found")


# If-Match


@pytest.mark.parametrize(
    "if_match", ["abc", '"x"', '"1234567890"', "1,2", '"-1"', "W/", '"' + "9" * 70 + '"']
)
def test_a_bad_if_match_is_refused(client, company, if_match):
    account = company.open_account("rep_a", "Acme")
    response = client.patch(
        f"{API}/accounts/{account['id']}",
        json={"name": "Renamed"},
        headers={**company.as_("rep_a"), "If-Match": if_match},
    )
    body = assert_problem(response, 422, "validation_failed")
    assert [f.lower() for f in error_fields(body)] == ["if-match"]


@pytest.mark.parametrize("if_match", ['"1"', "1", 'W/"1"', "*"])
def test_an_if_match_naming_the_current_version_is_accepted(client, company, if_match):
    account = company.open_account("rep_a", "Acme")
    assert account["version"] == 1
    response = client.patch(
        f"{API}/accounts/{account['id']}",
        json={"name": "Renamed"},
        headers={**company.as_("rep_a"), "If-Match": if_match},
    )
    assert response.status_code == 200, response.text


def test_a_stale_if_match_is_a_412_with_the_current_version(client, company):
    account = company.open_account("rep_a", "Acme")
    response = client.patch(
        f"{API}/accounts/{account['id']}",
        json={"name": "Renamed"},
        headers={**company.as_("rep_a"), "If-Match": '"7"'},
    )
    body = assert_problem(response, 412, "version_conflict")
    assert body["current_version"] == 1


# authentication


def _jwt_parts(token: str) -> list[str]:
    return token.split(".")


def _unsigned_token(claims: dict[str, Any]) -> str:
    header = b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    payload = b64(json.dumps(claims).encode())
    return f"{header}.{payload}."


def _tampered_signature(token: str) -> str:
    header, payload, signature = _jwt_parts(token)
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    return f"{header}.{payload}.{flipped}"


def _swapped_payload(token: str, claims: dict[str, Any]) -> str:
    header, _, signature = _jwt_parts(token)
    return f"{header}.{b64(json.dumps(claims).encode())}.{signature}"


def bad_authorizations(company: Any) -> dict[str, str | None]:
    now = datetime.now(UTC)
    rep_a = company.ids["rep_a"]
    good = company.tokens["rep_a"]
    far = int((now + timedelta(days=1)).timestamp())
    return {
        "missing": None,
        "empty": "",
        "basic_scheme": "Basic dXNlcjpwYXNz",
        "bearer_without_token": "Bearer ",
        "token_without_scheme": good,
        "garbage": "Bearer garbage",
        "three_garbage_parts": "Bearer a.b.c",
        "expired": "Bearer "
        + mint_token(company.settings, rep_a, ttl=timedelta(hours=1), now=now - timedelta(hours=3)),
        "tampered_signature": "Bearer " + _tampered_signature(good),
        "payload_swapped_to_admin": "Bearer "
        + _swapped_payload(good, {"sub": str(uuid4()), "roles": ["admin"], "exp": far}),
        "other_secret": "Bearer "
        + jwt.encode({"sub": rep_a, "exp": far}, "another-secret-" + "y" * 32, algorithm="HS256"),
        "alg_none": "Bearer " + _unsigned_token({"sub": rep_a, "exp": far}),
        "alg_none_admin": "Bearer "
        + _unsigned_token({"sub": str(uuid4()), "roles": ["admin"], "exp": far}),
        "without_exp": "Bearer "
        + jwt.encode({"sub": rep_a}, company.settings.jwt_secret, algorithm="HS256"),
        "without_sub": "Bearer "
        + jwt.encode({"exp": far}, company.settings.jwt_secret, algorithm="HS256"),
        "unknown_subject_not_admin": "Bearer "
        + mint_token(company.settings, str(uuid4()), roles=["rep"], now=now),
        "unknown_api_key": f"Bearer crmk_{uuid4().hex}_{'s' * 43}",
        "malformed_api_key": "Bearer crmk_not-hex_secret",
        "bare_api_key_prefix": "Bearer crmk_",
    }


BAD_AUTHORIZATIONS = [
    "missing",
    "empty",
    "basic_scheme",
    "bearer_without_token",
    "token_without_scheme",
    "garbage",
    "three_garbage_parts",
    "expired",
    "tampered_signature",
    "payload_swapped_to_admin",
    "other_secret",
    "alg_none",
    "alg_none_admin",
    "without_exp",
    "without_sub",
    "unknown_subject_not_admin",
    "unknown_api_key",
    "malformed_api_key",
    "bare_api_key_prefix",
]


@pytest.mark.parametrize("case", BAD_AUTHORIZATIONS)
@pytest.mark.parametrize(("method", "path"), [("GET", "/accounts"), ("POST", "/accounts")])
def test_a_bad_or_missing_token_is_a_401_with_a_bearer_challenge(
    client, company, case, method, path
):
    authorization = bad_authorizations(company)[case]
    headers = {} if authorization is None else {"Authorization": authorization}
    body = account_body(company) if method == "POST" else None
    response = client.request(method, f"{API}{path}", json=body, headers=headers)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


def test_a_bad_token_is_a_401_even_with_an_idempotency_key(client, company):
    headers = {"Authorization": "Bearer garbage", "Idempotency-Key": "k-1"}
    response = client.post(f"{API}/accounts", json=account_body(company), headers=headers)
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


def test_the_expired_token_message_says_it_expired(client, company):
    now = datetime.now(UTC)
    token = mint_token(
        company.settings, company.ids["rep_a"], ttl=timedelta(hours=1), now=now - timedelta(hours=3)
    )
    body = assert_problem(client.get(f"{API}/me", headers=bearer(token)), 401, "unauthenticated")
    assert "expired" in body["detail"]


def _new_api_key(client: Any, company: Any) -> dict[str, Any]:
    response = client.post(
        f"{API}/api-keys",
        json={"name": "shop", "scopes": ["accounts:read"]},
        headers=company.as_("admin"),
    )
    assert response.status_code == 201, response.text
    return response.json()


def test_a_revoked_api_key_is_a_401(client, company):
    key = _new_api_key(client, company)
    assert client.get(f"{API}/accounts", headers=bearer(key["token"])).status_code == 200
    revoked = client.post(f"{API}/api-keys/{key['id']}/revoke", headers=company.as_("admin"))
    assert revoked.status_code == 204
    response = client.get(f"{API}/accounts", headers=bearer(key["token"]))
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"


def test_an_api_key_with_a_wrong_secret_is_a_401(client, company):
    key = _new_api_key(client, company)
    prefix, _, secret = key["token"].rpartition("_")
    wrong = f"{prefix}_{'A' if secret[0] != 'A' else 'B'}{secret[1:]}"
    assert_problem(client.get(f"{API}/accounts", headers=bearer(wrong)), 401, "unauthenticated")


def test_revoking_a_key_twice_is_a_404(client, company):
    key = _new_api_key(client, company)
    client.post(f"{API}/api-keys/{key['id']}/revoke", headers=company.as_("admin"))
    response = client.post(f"{API}/api-keys/{key['id']}/revoke", headers=company.as_("admin"))
    assert_problem(response, 404, "not_found")


# acting on behalf of someone


@pytest.mark.parametrize("who", ["rep_b", "manager", "auditor", "admin"])
def test_only_an_assistant_may_send_x_on_behalf_of(client, company, who):
    response = client.get(f"{API}/accounts", headers=company.as_(who, on_behalf_of="rep_a"))
    assert_problem(response, 403, "not_an_assistant")


def test_an_api_key_cannot_act_on_behalf_of_a_user(client, company):
    key = _new_api_key(client, company)
    headers = {**bearer(key["token"]), "X-On-Behalf-Of": company.ids["rep_a"]}
    assert_problem(client.get(f"{API}/accounts", headers=headers), 403, "not_an_assistant")


@pytest.mark.parametrize("target", ["rep_b", "manager", "assistant", "unknown", "not-a-uuid"])
def test_an_assistant_acts_only_for_the_reps_it_assists(client, company, target):
    rep_id = company.ids.get(target, target if target == "not-a-uuid" else str(uuid4()))
    headers = {**company.as_("assistant"), "X-On-Behalf-Of": rep_id}
    for response in (
        client.get(f"{API}/accounts", headers=headers),
        client.post(
            f"{API}/accounts", json=account_body(company, owner_id=rep_id), headers=headers
        ),
    ):
        assert_problem(response, 403, "not_assisting")


def test_an_assistant_cannot_act_for_a_deactivated_rep(client, company):
    deactivated = client.post(
        f"{API}/users/{company.ids['rep_a']}/deactivate", headers=company.as_("admin")
    )
    assert deactivated.status_code == 200, deactivated.text
    response = client.get(f"{API}/accounts", headers=company.as_("assistant", on_behalf_of="rep_a"))
    assert_problem(response, 403, "not_assisting")


def test_an_overlong_x_on_behalf_of_is_refused(client, company):
    headers = {**company.as_("assistant"), "X-On-Behalf-Of": "x" * 65}
    response = client.get(f"{API}/accounts", headers=headers)
    assert 400 <= response.status_code < 500
    assert_problem(response, response.status_code)


# idempotency keys


@pytest.mark.parametrize("key", ["", "k" * 256])
def test_an_idempotency_key_of_the_wrong_length_is_a_400(client, company, key):
    headers = {**company.as_("rep_a"), "Idempotency-Key": key}
    response = client.post(f"{API}/accounts", json=account_body(company), headers=headers)
    assert_problem(response, 400, "invalid_idempotency_key")


def test_an_idempotency_key_reused_with_another_body_is_a_422(client, company):
    headers = {**company.as_("rep_a"), "Idempotency-Key": "open-acme"}
    first = client.post(f"{API}/accounts", json=account_body(company), headers=headers)
    assert first.status_code == 201
    response = client.post(
        f"{API}/accounts", json=account_body(company, name="Other"), headers=headers
    )
    assert_problem(response, 422, "idempotency_key_reused")


def test_unknown_routes_and_methods_are_problems(client, company):
    assert_problem(
        client.get(f"{API}/nothing-here", headers=company.as_("admin")), 404, "not_found"
    )
    assert_problem(
        client.delete(f"{API}/accounts", headers=company.as_("admin")), 405, "method_not_allowed"
    )


# NUL characters: PostgreSQL text columns cannot hold them


def test_a_nul_character_in_a_text_field_is_refused(client, company):
    response = client.post(
        f"{API}/accounts",
        json=account_body(company, name="Ac\u0000me"),
        headers=company.as_("rep_a"),
    )
    assert error_fields(assert_problem(response, 422, "validation_failed")) == ["name"]
    company.open_account("rep_a", "Fine")
    listed = client.get(f"{API}/accounts", headers=company.as_("rep_a")).json()
    assert [a["name"] for a in listed["data"]] == ["Fine"]


@pytest.mark.parametrize("path", ["/accounts", "/contacts", "/users"])
def test_a_nul_character_in_a_search_is_a_4xx_problem(client, company, path):
    response = client.get(f"{API}{path}", params={"q": "a\u0000b"}, headers=company.as_("admin"))
    assert 400 <= response.status_code < 500, response.text
    assert_problem(response, response.status_code)


def test_a_nul_character_in_a_path_is_a_400(client, company):
    response = client.post(f"{API}/api-keys/%00/revoke", headers=company.as_("admin"))
    assert_problem(response, 400, "invalid_characters")
