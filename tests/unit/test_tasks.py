"""Tasks as the domain decides them: open → done | cancelled, reopen, reassign, overdue."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import uuid4

import pytest

from crm_api.domain.errors import InvalidTransition, ValidationFailed
from crm_api.domain.tasks import Task
from tests.work_support import event_types, stamped


def assign(**overrides: Any) -> Task:
    details: dict[str, Any] = {
        "title": "Call Acme",
        "notes": None,
        "due_date": date(2026, 1, 9),
        "priority": "normal",
        "assignee_id": "rep-a",
        "linked_type": None,
        "linked_id": None,
    }
    details.update(overrides)
    return stamped(lambda: Task.assign(uuid4(), **details), actor="manager-1")


def refused_code(action) -> str:
    with pytest.raises(InvalidTransition) as refused:
        stamped(action)
    return refused.value.code


def test_a_task_is_done_reopened_and_cancelled_each_as_an_event():
    task = assign()
    assert (task.status, task.created_by) == ("open", "manager-1")
    stamped(lambda: task.complete("called"))
    assert refused_code(lambda: task.complete(None)) == "invalid_state"
    assert refused_code(lambda: task.cancel(None)) == "invalid_state"
    stamped(task.reopen)
    assert refused_code(task.reopen) == "invalid_state"
    stamped(lambda: task.cancel("moot"))
    assert task.status == "cancelled"
    assert event_types(task) == [
        "TaskCreated",
        "TaskCompleted",
        "TaskReopened",
        "TaskCancelled",
    ]


def test_reassigning_moves_an_open_task_to_someone_else():
    task = assign()
    assert refused_code(lambda: task.reassign("rep-a")) == "same_assignee"
    stamped(lambda: task.reassign("rep-b"))
    assert task.assignee_id == "rep-b"
    stamped(lambda: task.complete(None))
    assert refused_code(lambda: task.reassign("rep-a")) == "invalid_state"


def test_overdue_means_open_and_due_before_today():
    task = assign(due_date=date(2026, 1, 5))
    assert not task.is_overdue(date(2026, 1, 5))
    assert task.is_overdue(date(2026, 1, 6))
    stamped(lambda: task.complete(None))
    assert not task.is_overdue(date(2026, 1, 6))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"priority": "asap"}, "priority"),
        ({"linked_type": "account"}, "linked_id"),
        ({"linked_type": "planet", "linked_id": "x"}, "linked_type"),
    ],
)
def test_bad_details_name_the_field(overrides, field):
    with pytest.raises(ValidationFailed) as refused:
        assign(**overrides)
    assert [e.field for e in refused.value.errors] == [field]
