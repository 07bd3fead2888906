"""Regenerate the committed contracts: openapi/openapi.json and openapi/schema.graphql."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from crm_api.app import create_app
from crm_api.settings import Settings

OUT = Path(__file__).resolve().parents[3] / "openapi"


def openapi_json() -> str:
    app = create_app(Settings(database_url="sqlite:///./var/unused.db"))
    return json.dumps(app.openapi(), indent=2, sort_keys=True) + "\n"


def graphql_sdl() -> str:
    from crm_api.api.graphql.schema import print_schema

    return print_schema() + "\n"


def main() -> None:
    OUT.mkdir(exist_ok=True)
    (OUT / "openapi.json").write_text(openapi_json())
    (OUT / "schema.graphql").write_text(graphql_sdl())
    sys.stdout.write(f"wrote {OUT / 'openapi.json'} and {OUT / 'schema.graphql'}\n")


if __name__ == "__main__":
    main()
