"""The configuration reference, generated from `Settings.model_fields`.

`python -m crm_api.settings_doc` prints the Markdown table; `--write` rewrites the table in
docs/operations.md (between the settings markers). A test fails when the two drift apart.
"""

from __future__ import annotations

import argparse
import sys
import types
from pathlib import Path
from typing import Any, Union, get_args, get_origin

from pydantic_core import PydanticUndefined

from crm_api.settings import Settings

START = "<!-- settings:start -->"
END = "<!-- settings:end -->"
DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "operations.md"
HIDDEN_DEFAULT = "(development value; set it)"
ENV_PREFIX = str(Settings.model_config.get("env_prefix", "CRM_"))


def _type_name(annotation: Any) -> str:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        return " \\| ".join(_type_name(arg) for arg in get_args(annotation))
    if annotation is type(None):
        return "None"
    return getattr(annotation, "__name__", str(annotation))


def _is_secret(name: str) -> bool:
    return "secret" in name or "password" in name


def _default(name: str, default: Any) -> str:
    if default is PydanticUndefined:
        return "(required)"
    if default is None:
        return "(unset)"
    if _is_secret(name):
        return HIDDEN_DEFAULT
    if isinstance(default, bool):
        return f"`{str(default).lower()}`"
    return f"`{default}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def settings_reference() -> str:
    """A Markdown table: every setting's environment variable, type, default and description."""
    lines = [
        "| Variable | Type | Default | Description |",
        "| --- | --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        lines.append(
            "| `{}` | {} | {} | {} |".format(
                f"{ENV_PREFIX}{name.upper()}",
                _type_name(field.annotation),
                _default(name, field.default),
                _cell(field.description or ""),
            )
        )
    return "\n".join(lines) + "\n"


def embed(text: str) -> str:
    """`text` with whatever lies between the settings markers replaced by the current table."""
    start = text.find(START)
    end = text.find(END)
    if start < 0 or end < 0 or end < start:
        raise ValueError(f"expected the markers {START} and {END}, in that order")
    head = text[: start + len(START)]
    return f"{head}\n{settings_reference()}{text[end:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m crm_api.settings_doc",
        description="Print the configuration reference, or rewrite it in docs/operations.md.",
    )
    parser.add_argument(
        "--write", action="store_true", help=f"rewrite the table in {DOC_PATH} in place"
    )
    args = parser.parse_args(argv)
    if not args.write:
        sys.stdout.write(settings_reference())
        return 0
    current = DOC_PATH.read_text(encoding="utf-8")
    updated = embed(current)
    if updated != current:
        DOC_PATH.write_text(updated, encoding="utf-8")
        print(f"updated {DOC_PATH}", file=sys.stderr)
    else:
        print(f"{DOC_PATH} is up to date", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
