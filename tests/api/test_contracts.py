"""The committed contracts (openapi/) are what the code serves: regenerate with `make openapi`."""

from __future__ import annotations

from pathlib import Path

from crm_api.api.export import graphql_sdl, openapi_json

OPENAPI = Path(__file__).resolve().parents[2] / "openapi"


def test_the_committed_openapi_document_matches_the_code():
    assert (OPENAPI / "openapi.json").read_text() == openapi_json(), "run `make openapi`"


def test_the_committed_graphql_schema_matches_the_code():
    assert (OPENAPI / "schema.graphql").read_text() == graphql_sdl(), "run `make openapi`"


def test_every_api_operation_requires_a_bearer_token_and_documents_problems():
    import json

    document = json.loads(openapi_json())
    assert document["openapi"].startswith("3.1")
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/api/v1"):
                assert operation["security"], f"{method} {path} has no security requirement"
                problem = operation["responses"]["422"]["content"]["application/problem+json"]
                assert problem["schema"]["$ref"].endswith("/Problem"), f"{method} {path}"
