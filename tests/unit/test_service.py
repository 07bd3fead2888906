"""Service requests as the domain decides them: every command in every state, the SLA clock
on the request, evaluation, notifications. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from crm_api.domain.context import EventMeta, recording
from crm_api.domain.errors import InvalidTransition, ValidationFailed
from crm_api.domain.service import ServiceRequest, State
from crm_api.domain.sla import SlaTerms

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
AGENT = str(uuid4())
TERMS = SlaTerms.of(60, 480, None)


def stamp(at: datetime) -> Any:
    meta = EventMeta(
        actor=AGENT,
        actor_type="user",
        on_behalf_of=None,
        occurred_at=at,
        command_id=f"cmd-{uuid4()}",
        correlation_id="corr",
    )
    return recording(meta, at)


def open_(at: datetime = NOW, terms: SlaTerms | None = TERMS) -> ServiceRequest:
    with stamp(at):
        return ServiceRequest.open(
            uuid4(),
            account_id=str(uuid4()),
            asset_id=None,
            product_id=None,
            contact_id=None,
            kind="fault",
            channel="phone",
            priority="normal",
            subject="It beeps",
            description=None,
            terms=terms,
        )


def act(request: ServiceRequest, action: Any, at: datetime = NOW) -> Any:
    with stamp(at):
        return action(request)


COMMANDS: dict[str, Any] = {
    "assign": lambda r: r.assign(AGENT, None),
    "start": lambda r: r.start(),
    "wait_on_customer": lambda r: r.wait_on_customer("needs a photo"),
    "resume": lambda r: r.resume(),
    "resolve": lambda r: r.resolve("replaced the fuse"),
    "evaluate_satisfied": lambda r: r.evaluate(True, 5, None),
    "evaluate_unsatisfied": lambda r: r.evaluate(False, 2, "still beeps"),
    "close": lambda r: r.close(administrative=False, reason=None),
    "close_administratively": lambda r: r.close(administrative=True, reason="duplicate"),
    "reopen": lambda r: r.reopen("called back"),
    "reply": lambda r: r.reply("we are on it"),
    "note": lambda r: r.add_note("customer sounds upset"),
}

PATHS = {
    State.NEW: [],
    State.ASSIGNED: ["assign"],
    State.IN_PROGRESS: ["assign", "start"],
    State.WAITING_ON_CUSTOMER: ["assign", "start", "wait_on_customer"],
    State.RESOLVED: ["assign", "start", "resolve"],
    State.CLOSED: ["assign", "start", "resolve", "evaluate_satisfied"],
    State.REOPENED: ["assign", "start", "resolve", "evaluate_unsatisfied"],
}

S = State
ALLOWED: dict[str, dict[State, State]] = {
    "assign": {s: s for s in (S.ASSIGNED, S.IN_PROGRESS, S.WAITING_ON_CUSTOMER)}
    | {S.NEW: S.ASSIGNED, S.REOPENED: S.ASSIGNED},
    "start": {S.ASSIGNED: S.IN_PROGRESS, S.REOPENED: S.IN_PROGRESS},
    "wait_on_customer": {S.IN_PROGRESS: S.WAITING_ON_CUSTOMER},
    "resume": {S.WAITING_ON_CUSTOMER: S.IN_PROGRESS},
    "resolve": {S.IN_PROGRESS: S.RESOLVED},
    "evaluate_satisfied": {S.RESOLVED: S.CLOSED},
    "evaluate_unsatisfied": {S.RESOLVED: S.REOPENED},
    "close": {S.RESOLVED: S.CLOSED},
    "close_administratively": {s: S.CLOSED for s in State if s is not S.CLOSED},
    "reopen": {S.RESOLVED: S.REOPENED, S.CLOSED: S.REOPENED},
    "reply": {s: s for s in State if s is not S.CLOSED},
    "note": {s: s for s in State},
}


def in_state(state: State) -> ServiceRequest:
    request = open_()
    for step in PATHS[state]:
        act(request, COMMANDS[step])
    assert request.state is state
    return request


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_in_every_state(state, name):
    request = in_state(state)
    allowed = ALLOWED[name]
    if name == "assign" and state is not S.NEW and state is not S.REOPENED:
        request.assignee_id = None  # a different assignee than now, so it is a reassignment
    if state in allowed:
        version = request.version
        act(request, COMMANDS[name])
        assert request.state is allowed[state]
        assert request.version > version
    else:
        version = request.version
        with pytest.raises(InvalidTransition) as error:
            act(request, COMMANDS[name])
        assert error.value.code == "invalid_state"
        assert error.value.extra["state"] == state.value
        assert request.version == version


def test_every_state_change_is_an_event_naming_both_states():
    request = in_state(S.REOPENED)
    changes = [
        (type(e).__name__, e.from_state, e.to_state)
        for e in request.collect_events()
        if hasattr(e, "to_state")
    ]
    assert changes == [
        ("Assigned", "new", "assigned"),
        ("Started", "assigned", "in_progress"),
        ("Resolved", "in_progress", "resolved"),
        ("Reopened", "resolved", "reopened"),
    ]


def test_assigning_records_from_and_to():
    request = in_state(S.ASSIGNED)
    other = str(uuid4())
    act(request, lambda r: r.assign(other, None))
    reassigned = request.collect_events()[-1]
    assert (reassigned.from_assignee_id, reassigned.to_assignee_id) == (AGENT, other)


def test_assigning_to_the_same_assignee_again_is_refused():
    request = in_state(S.ASSIGNED)
    with pytest.raises(InvalidTransition) as error:
        act(request, COMMANDS["assign"])
    assert error.value.code == "already_assigned"


def test_starting_needs_an_assignee():
    request = open_()
    act(request, lambda r: r.assign(None, str(uuid4())))
    assert request.state is S.NEW
    with pytest.raises(InvalidTransition):
        act(request, COMMANDS["start"])


def test_resolving_needs_a_resolution():
    request = in_state(S.IN_PROGRESS)
    with pytest.raises(ValidationFailed) as error:
        act(request, lambda r: r.resolve("  "))
    assert [e.field for e in error.value.errors] == ["resolution"]


@pytest.mark.parametrize("score", [0, 6])
def test_a_score_is_between_one_and_five(score):
    request = in_state(S.RESOLVED)
    with pytest.raises(ValidationFailed) as error:
        act(request, lambda r: r.evaluate(True, score, None))
    assert [e.field for e in error.value.errors] == ["score"]


def test_an_unsatisfied_evaluation_reopens_and_restarts_the_resolution_clock():
    request = open_()
    act(request, COMMANDS["assign"])
    act(request, COMMANDS["start"], NOW + timedelta(minutes=10))
    act(request, COMMANDS["resolve"], NOW + timedelta(hours=2))
    reopened_at = NOW + timedelta(days=2)
    act(request, COMMANDS["evaluate_unsatisfied"], reopened_at)
    assert request.state is S.REOPENED
    assert request.evaluation == {"satisfied": False, "score": 2, "comment": "still beeps"}
    assert request.reopen_count == 1
    assert request.resolution is None and request.resolved_at is None
    assert request.clock.resolve_due_at == reopened_at + timedelta(hours=8)
    assert request.sla(reopened_at + timedelta(hours=9))["resolution"] == "breached"
    act(request, COMMANDS["start"], reopened_at + timedelta(minutes=1))
    assert request.state is S.IN_PROGRESS


def test_a_satisfied_evaluation_closes():
    request = in_state(S.CLOSED)
    assert request.evaluation == {"satisfied": True, "score": 5, "comment": None}
    assert request.closed_at is not None


def test_the_first_response_is_the_first_reply_or_the_start():
    replied = open_()
    act(replied, COMMANDS["reply"], NOW + timedelta(minutes=20))
    act(replied, COMMANDS["assign"], NOW + timedelta(minutes=30))
    act(replied, COMMANDS["start"], NOW + timedelta(minutes=90))
    assert replied.first_responded_at == NOW + timedelta(minutes=20)
    assert replied.sla(NOW + timedelta(hours=3))["first_response"] == "met"
    started = open_()
    act(started, COMMANDS["assign"])
    act(started, COMMANDS["start"], NOW + timedelta(minutes=90))
    assert started.first_responded_at == NOW + timedelta(minutes=90)
    assert started.sla(NOW + timedelta(hours=3))["first_response"] == "breached"


def test_a_note_does_not_count_as_a_response():
    request = open_()
    act(request, COMMANDS["note"], NOW + timedelta(minutes=5))
    assert request.first_responded_at is None
    assert request.messages[-1]["kind"] == "note"


def test_waiting_on_the_customer_pauses_the_clock_and_resuming_moves_the_due_time():
    request = in_state(S.IN_PROGRESS)
    act(request, COMMANDS["wait_on_customer"], NOW + timedelta(hours=1))
    assert request.sla(NOW + timedelta(hours=20))["resolution"] == "paused"
    act(request, COMMANDS["resume"], NOW + timedelta(hours=4))
    resumed = request.collect_events()[-1]
    assert resumed.resolve_due_at == NOW + timedelta(hours=11)
    assert resumed.paused_seconds == 3 * 3600
    assert request.sla(NOW + timedelta(hours=10))["resolution"] == "pending"


def test_the_clock_state_is_rebuilt_from_the_events():
    request = in_state(S.IN_PROGRESS)
    act(request, COMMANDS["wait_on_customer"], NOW + timedelta(hours=1))
    replayed: Any = None
    for e in request.collect_events():
        replayed = e.mutate(replayed)
    assert replayed.clock == request.clock
    assert replayed.clock.paused_since == NOW + timedelta(hours=1)


def test_a_request_without_a_policy_has_no_targets():
    request = open_(terms=None)
    assert request.sla(NOW + timedelta(days=30))["resolution"] == "none"


def test_a_bad_kind_channel_and_priority_are_each_named():
    with stamp(NOW), pytest.raises(ValidationFailed) as error:
        ServiceRequest.open(
            uuid4(),
            account_id="a",
            asset_id=None,
            product_id=None,
            contact_id=None,
            kind="praise",
            channel="pigeon",
            priority="asap",
            subject="x",
            description=None,
            terms=None,
        )
    assert [e.field for e in error.value.errors] == ["kind", "channel", "priority"]


def test_the_customer_notification_is_rendered_from_the_template():
    request = in_state(S.RESOLVED)
    act(
        request,
        lambda r: r.notify_customer(
            to="ann@example.com",
            template="resolved",
            values={"contact_name": "Ann", "account_name": "Acme"},
            message=None,
        ),
    )
    notified = request.collect_events()[-1]
    assert notified.to == "ann@example.com"
    assert notified.subject == f"[SR-{str(request.id)[:8]}] Resolved: It beeps"
    assert "Dear Ann," in notified.body and "replaced the fuse" in notified.body
    assert "$" not in notified.body


def test_an_unknown_template_is_refused():
    request = open_()
    with pytest.raises(ValidationFailed) as error:
        act(request, lambda r: r.notify_customer(to="a@b.c", template="x", values={}, message=None))
    assert [e.field for e in error.value.errors] == ["template"]


def customer_writes(request: ServiceRequest, at: datetime = NOW) -> Any:
    return act(
        request,
        lambda r: r.receive_customer_message(
            sender="jane@example.com", subject="Re", body="Still beeps", email_message_id="m@x"
        ),
        at,
    )


@pytest.mark.parametrize(
    ("state", "after", "events"),
    [
        (State.WAITING_ON_CUSTOMER, State.IN_PROGRESS, ["CustomerMessageReceived", "Resumed"]),
        (State.RESOLVED, State.REOPENED, ["CustomerMessageReceived", "Reopened"]),
        (State.CLOSED, State.REOPENED, ["CustomerMessageReceived", "Reopened"]),
        (State.IN_PROGRESS, State.IN_PROGRESS, ["CustomerMessageReceived"]),
        (State.NEW, State.NEW, ["CustomerMessageReceived"]),
    ],
)
def test_a_customer_message_resumes_a_waiting_request_and_reopens_a_finished_one(
    state, after, events
):
    request = in_state(state)
    request.collect_events()
    customer_writes(request, NOW + timedelta(hours=1))
    assert request.state is after
    assert [type(e).__name__ for e in request.collect_events()] == events
    assert request.messages[-1] == {
        "id": request.messages[-1]["id"],
        "kind": "customer",
        "text": "Still beeps",
        "at": NOW + timedelta(hours=1),
    }


def attach(request: ServiceRequest, **overrides: Any) -> Any:
    fields = {
        "sha256": "a" * 64,
        "size": 10,
        "content_type": "image/png",
        "filename": "a.png",
        "kind": "attachment",
        "description": None,
        **overrides,
    }
    return act(request, lambda r: r.add_attachment(**fields))


def test_an_attachment_is_recorded_with_its_uploader_and_time():
    request = open_()
    attachment_id = attach(request, kind="recording", content_type="audio/wav")
    assert request.attachment(attachment_id) == {
        "id": attachment_id,
        "sha256": "a" * 64,
        "size": 10,
        "content_type": "audio/wav",
        "filename": "a.png",
        "kind": "recording",
        "description": None,
        "added_at": NOW,
        "added_by": AGENT,
    }
    assert request.attachment("other") is None


@pytest.mark.parametrize(
    ("overrides", "field"), [({"kind": "video"}, "kind"), ({"size": 0}, "file")]
)
def test_an_attachment_of_no_known_kind_or_empty_is_refused(overrides, field):
    with pytest.raises(ValidationFailed) as refused:
        attach(open_(), **overrides)
    assert [e.field for e in refused.value.errors] == [field]
