"""Routing: ordered rules that send a newly opened service request to a user or a queue, and
queues whose members take requests in turn (round robin, recorded on the queue as each pick).

A rule matches when every condition it sets holds (an empty condition matches anything); rules
are tried by `position`, lowest first, and the first match wins.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, InvalidTransition, ValidationFailed

CONDITIONS = ("kinds", "priorities", "product_ids", "account_grades", "account_owner_ids")


@dataclass(frozen=True)
class RequestFacts:
    """What routing looks at: the request, its asset's product, its account."""

    kind: str
    priority: str
    product_id: str | None
    account_grade: str | None
    account_owner_id: str


@dataclass(frozen=True)
class Route:
    """A rule as routing reads it."""

    rule_id: str
    position: int
    conditions: dict[str, list[str]]
    assignee_id: str | None
    queue_id: str | None

    def matches(self, facts: RequestFacts) -> bool:
        values = {
            "kinds": facts.kind,
            "priorities": facts.priority,
            "product_ids": facts.product_id,
            "account_grades": facts.account_grade,
            "account_owner_ids": facts.account_owner_id,
        }
        return all(
            not self.conditions.get(name) or values[name] in self.conditions[name]
            for name in CONDITIONS
        )


def choose_route(routes: Sequence[Route], facts: RequestFacts) -> Route | None:
    """The first rule by position (then id, for ties) whose conditions all hold."""
    for route in sorted(routes, key=lambda r: (r.position, r.rule_id)):
        if route.matches(facts):
            return route
    return None


def next_member(members: Sequence[str], last_picked: str | None) -> str | None:
    """Round robin: the member after the last one picked, in the queue's member order; the
    first member when the last pick is no longer a member (or there was none)."""
    if not members:
        return None
    if last_picked is not None and last_picked in members:
        return members[(list(members).index(last_picked) + 1) % len(members)]
    return members[0]


def _target_errors(assignee_id: str | None, queue_id: str | None) -> list[FieldError]:
    if (assignee_id is None) == (queue_id is None):
        return [FieldError("assignee_id", "give exactly one of assignee_id and queue_id")]
    return []


def _clean_conditions(conditions: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: sorted(set(conditions.get(name) or [])) for name in CONDITIONS}


class RoutingRule(CrmAggregate):
    id: UUID
    kind = "routing_rule"

    @event("Defined")
    def __init__(
        self,
        name: str,
        position: int,
        conditions: dict[str, list[str]],
        assignee_id: str | None,
        queue_id: str | None,
    ) -> None:
        self.name = name
        self.position = position
        self.conditions = conditions
        self.assignee_id = assignee_id
        self.queue_id = queue_id
        self.active = True

    @classmethod
    def define(
        cls,
        rule_id: UUID,
        *,
        name: str,
        position: int,
        conditions: dict[str, list[str]],
        assignee_id: str | None,
        queue_id: str | None,
    ) -> RoutingRule:
        errors = _target_errors(assignee_id, queue_id)
        if errors:
            raise ValidationFailed(errors)
        return cls.with_id(
            rule_id,
            name=name,
            position=position,
            conditions=_clean_conditions(conditions),
            assignee_id=assignee_id,
            queue_id=queue_id,
        )

    def change(self, **changes: Any) -> None:
        if not self.active:
            raise InvalidTransition(
                "a retired routing rule cannot be changed", code="invalid_state", state="retired"
            )
        if "conditions" in changes:
            changes["conditions"] = _clean_conditions(changes["conditions"])
        target = {
            "assignee_id": changes.get("assignee_id", self.assignee_id),
            "queue_id": changes.get("queue_id", self.queue_id),
        }
        if "assignee_id" in changes and changes["assignee_id"] is not None:
            target["queue_id"] = changes["queue_id"] = changes.get("queue_id")
        elif "queue_id" in changes and changes["queue_id"] is not None:
            target["assignee_id"] = changes["assignee_id"] = changes.get("assignee_id")
        errors = _target_errors(target["assignee_id"], target["queue_id"])
        if errors:
            raise ValidationFailed(errors)
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changes:
            self._changed(changes=changes)

    @event("Changed")
    def _changed(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def retire(self) -> None:
        if not self.active:
            raise InvalidTransition(
                "the routing rule is already retired", code="invalid_state", state="retired"
            )
        self._retired()

    @event("Retired")
    def _retired(self) -> None:
        self.active = False

    def route(self) -> Route:
        return Route(str(self.id), self.position, self.conditions, self.assignee_id, self.queue_id)


class Queue(CrmAggregate):
    """A named group of service agents that take requests in turn."""

    id: UUID
    kind = "queue"

    @event("Formed")
    def __init__(self, name: str, member_ids: list[str]) -> None:
        self.name = name
        self.member_ids = member_ids
        self.last_picked: str | None = None
        self.picks = 0

    @classmethod
    def form(cls, queue_id: UUID, *, name: str, member_ids: list[str]) -> Queue:
        return cls.with_id(queue_id, name=name, member_ids=_unique(member_ids))

    def change(self, **changes: Any) -> None:
        if "member_ids" in changes:
            changes["member_ids"] = _unique(changes["member_ids"])
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if changes:
            self._changed(changes=changes)

    @event("Changed")
    def _changed(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)

    def pick(self, request_id: str) -> str | None:
        """The next member in turn takes `request_id`; None for a queue without members."""
        member = next_member(self.member_ids, self.last_picked)
        if member is not None:
            self._member_picked(request_id=request_id, member_id=member)
        return member

    @event("MemberPicked")
    def _member_picked(self, request_id: str, member_id: str) -> None:
        self.last_picked = member_id
        self.picks += 1


def _unique(ids: list[str]) -> list[str]:
    """Member order matters (it is the turn order); duplicates do not."""
    return list(dict.fromkeys(ids))
