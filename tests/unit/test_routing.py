"""Routing as the domain decides it: the first matching rule wins, queues take turns. No I/O."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import pytest

from crm_api.domain.context import EventMeta, recording
from crm_api.domain.errors import ValidationFailed
from crm_api.domain.routing import (
    Queue,
    RequestFacts,
    Route,
    RoutingRule,
    choose_route,
    next_member,
)

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
FACTS = RequestFacts(
    kind="complaint", priority="high", product_id="p1", account_grade="A", account_owner_id="rep"
)


def route(rule_id: str, position: int, **conditions: list[str]) -> Route:
    return Route(rule_id, position, conditions, assignee_id=f"user-{rule_id}", queue_id=None)


def stamp():
    meta = EventMeta(
        actor="admin",
        actor_type="user",
        on_behalf_of=None,
        occurred_at=NOW,
        command_id=f"cmd-{uuid4()}",
        correlation_id="c",
    )
    return recording(meta, NOW)


def test_the_first_matching_rule_by_position_wins():
    routes = [
        route("late", 20, kinds=["complaint"]),
        route("early", 10, priorities=["high"]),
        route("earliest-but-no-match", 1, kinds=["inquiry"]),
    ]
    assert choose_route(routes, FACTS).rule_id == "early"


def test_a_rule_without_conditions_matches_everything():
    assert choose_route([route("catch-all", 99)], FACTS).rule_id == "catch-all"


@pytest.mark.parametrize(
    ("conditions", "matches"),
    [
        ({"kinds": ["complaint", "fault"]}, True),
        ({"kinds": ["complaint"], "priorities": ["low"]}, False),
        ({"product_ids": ["p1"]}, True),
        ({"product_ids": ["p2"]}, False),
        ({"account_grades": ["A", "B"]}, True),
        ({"account_grades": ["C"]}, False),
        ({"account_owner_ids": ["rep"]}, True),
        ({"account_owner_ids": ["other"]}, False),
    ],
)
def test_every_condition_given_must_hold(conditions, matches):
    assert (choose_route([route("r", 1, **conditions)], FACTS) is not None) is matches


def test_a_request_without_an_asset_matches_no_product_rule():
    facts = RequestFacts("fault", "low", None, None, "rep")
    assert choose_route([route("r", 1, product_ids=["p1"])], facts) is None


def test_no_match_routes_nowhere():
    assert choose_route([route("r", 1, kinds=["repair"])], FACTS) is None
    assert choose_route([], FACTS) is None


def test_ties_on_position_are_broken_by_id_deterministically():
    routes = [route("b", 5), route("a", 5)]
    assert choose_route(routes, FACTS).rule_id == "a"
    assert choose_route(list(reversed(routes)), FACTS).rule_id == "a"


def test_round_robin_takes_members_in_turn_and_wraps():
    members = ["ann", "bob", "cy"]
    picks, last = [], None
    for _ in range(5):
        last = next_member(members, last)
        picks.append(last)
    assert picks == ["ann", "bob", "cy", "ann", "bob"]


def test_round_robin_starts_over_when_the_last_pick_left_the_queue():
    assert next_member(["ann", "bob"], "zed") == "ann"
    assert next_member([], "ann") is None


def test_a_queue_records_each_pick_so_the_turn_survives_a_replay():
    with stamp():
        queue = Queue.form(uuid4(), name="Hotline", member_ids=["ann", "bob", "ann"])
        assert queue.member_ids == ["ann", "bob"]
        assert [queue.pick(f"req-{i}") for i in range(3)] == ["ann", "bob", "ann"]
    replayed = None
    for e in queue.collect_events():
        replayed = e.mutate(replayed)
    assert replayed.last_picked == "ann" and replayed.picks == 3
    with stamp():
        assert replayed.pick("req-4") == "bob"


def test_a_queue_without_members_picks_nobody_and_records_nothing():
    with stamp():
        queue = Queue.form(uuid4(), name="Empty", member_ids=[])
        assert queue.pick("req") is None
    assert len(queue.collect_events()) == 1


def test_a_rule_targets_exactly_one_of_a_user_and_a_queue():
    with stamp(), pytest.raises(ValidationFailed) as error:
        RoutingRule.define(
            uuid4(), name="r", position=1, conditions={}, assignee_id="u", queue_id="q"
        )
    assert [e.field for e in error.value.errors] == ["assignee_id"]
    with stamp():
        rule = RoutingRule.define(
            uuid4(), name="r", position=1, conditions={}, assignee_id="u", queue_id=None
        )
        rule.change(queue_id="q")
    assert (rule.assignee_id, rule.queue_id) == (None, "q")
