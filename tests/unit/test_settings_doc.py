"""The configuration reference in docs/operations.md is generated from the Settings class."""

from __future__ import annotations

import pytest

from crm_api.settings import DEV_JWT_SECRET, Settings
from crm_api.settings_doc import DOC_PATH, END, HIDDEN_DEFAULT, START, embed, settings_reference

FIX = "run `python -m crm_api.settings_doc --write` and commit docs/operations.md"


def _rows() -> dict[str, str]:
    rows = {}
    for line in settings_reference().splitlines()[2:]:
        variable = line.split("|")[1].strip().strip("`")
        rows[variable] = line
    return rows


def test_every_setting_has_a_row_with_its_description() -> None:
    rows = _rows()
    assert set(rows) == {f"CRM_{name.upper()}" for name in Settings.model_fields}
    for name, field in Settings.model_fields.items():
        assert field.description, f"Settings.{name} needs a description"
        assert " ".join(field.description.split()) in rows[f"CRM_{name.upper()}"]


def test_the_development_jwt_secret_is_never_printed() -> None:
    table = settings_reference()
    assert DEV_JWT_SECRET not in table
    assert HIDDEN_DEFAULT in _rows()["CRM_JWT_SECRET"]


def test_embed_replaces_only_what_lies_between_the_markers() -> None:
    text = f"before\n{START}\nstale table\n{END}\nafter\n"
    embedded = embed(text)
    assert embedded == f"before\n{START}\n{settings_reference()}{END}\nafter\n"
    assert embed(embedded) == embedded
    with pytest.raises(ValueError):
        embed("no markers here")


def test_docs_operations_carries_the_current_table() -> None:
    doc = DOC_PATH.read_text(encoding="utf-8")
    assert START in doc and END in doc, f"docs/operations.md lost its settings markers; {FIX}"
    between = doc.split(START, 1)[1].split(END, 1)[0]
    assert between.strip() == settings_reference().strip(), (
        f"the configuration table in docs/operations.md is out of date; {FIX}"
    )
    assert embed(doc) == doc, f"docs/operations.md is not as generated; {FIX}"
