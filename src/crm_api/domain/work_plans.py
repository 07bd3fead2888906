"""Work plans: a rep's plan for a day (`2026-01-05`) or an ISO week (`2026-W02`), reviewed by
the manager of its team, and the summary of how the period went.

States: draft → submitted → accepted, or submitted → returned → (resubmitted) submitted → …
The owner edits the items while the plan is a draft or returned; the reviewer may edit them
and comment while it is submitted or returned, each edit and comment an event. Nobody reviews
their own plan. A summary (text and, for every item, done or not) may be submitted once the plan
has been submitted, and again to correct it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import event

from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import (
    FieldError,
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)

DRAFT = "draft"
SUBMITTED = "submitted"
RETURNED = "returned"
ACCEPTED = "accepted"
STATES = (DRAFT, SUBMITTED, RETURNED, ACCEPTED)
MAX_ITEMS = 100
WEEK = re.compile(r"^(?P<year>\d{4})-W(?P<week>\d{2})$")
ITEM_LINKS = ("account_id", "opportunity_id", "task_id")


@dataclass(frozen=True)
class PlanPeriod:
    """A day (`2026-01-05`) or an ISO week (`2026-W02`); `start`/`end` bound it (end exclusive)."""

    text: str
    kind: str
    start: date
    end: date

    @classmethod
    def parse(cls, text: str, field: str = "period") -> PlanPeriod:
        week = WEEK.match(text)
        try:
            if week is not None:
                start = date.fromisocalendar(int(week["year"]), int(week["week"]), 1)
                return cls(text, "week", start, start + timedelta(days=7))
            day = date.fromisoformat(text)
            if len(text) != 10:
                raise ValueError(text)
            return cls(text, "day", day, day + timedelta(days=1))
        except ValueError:
            raise ValidationFailed(
                [FieldError(field, "must be a date such as 2026-01-05 or an ISO week 2026-W02")]
            ) from None


def check_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items as recorded: each with an id (given or numbered), text, planned minutes, links."""
    if len(items) > MAX_ITEMS:
        raise ValidationFailed([FieldError("items", f"at most {MAX_ITEMS} items")])
    checked: list[dict[str, Any]] = []
    seen: set[str] = set()
    errors: list[FieldError] = []
    for index, item in enumerate(items):
        item_id = str(item.get("id") or index + 1)
        if item_id in seen:
            errors.append(FieldError(f"items[{index}].id", "is given twice"))
        seen.add(item_id)
        checked.append(
            {
                "id": item_id,
                "text": item["text"],
                "planned_minutes": item.get("planned_minutes"),
                **{link: item.get(link) for link in ITEM_LINKS},
            }
        )
    if errors:
        raise ValidationFailed(errors)
    return checked


class WorkPlan(CrmAggregate):
    id: UUID
    kind = "work_plan"

    class Created(CrmAggregate.Created):
        owner_id: str
        period: str
        period_kind: str
        items: list[dict[str, Any]]

    @event(Created)
    def __init__(
        self, owner_id: str, period: str, period_kind: str, items: list[dict[str, Any]]
    ) -> None:
        self.owner_id = owner_id
        self.period = period
        self.period_kind = period_kind
        self.items = items
        self.state = DRAFT
        self.comments: list[dict[str, Any]] = []
        self.summary: dict[str, Any] | None = None
        self.submissions = 0
        self.reviewed_by: str | None = None

    @staticmethod
    def id_for(owner_id: str, period: str) -> UUID:
        """One plan per owner and period: its id is found without a lookup."""
        return uuid5(NAMESPACE_URL, f"crm-work-plan:{owner_id}:{period}")

    @classmethod
    def draft(cls, *, owner_id: str, period: str, items: list[dict[str, Any]]) -> WorkPlan:
        parsed = PlanPeriod.parse(period)
        return cls.with_id(
            cls.id_for(owner_id, parsed.text),
            owner_id=owner_id,
            period=parsed.text,
            period_kind=parsed.kind,
            items=check_items(items),
        )

    # the owner

    def change_items(self, items: list[dict[str, Any]]) -> None:
        self._require((DRAFT, RETURNED), "changed by its owner")
        checked = check_items(items)
        if checked != self.items:
            self._items_changed(items=checked)

    @event("ItemsChanged")
    def _items_changed(self, items: list[dict[str, Any]]) -> None:
        self.items = items

    def submit(self) -> None:
        self._require((DRAFT, RETURNED), "submitted")
        if not self.items:
            raise InvalidTransition(
                "a plan without items cannot be submitted", code="empty_plan", state=self.state
            )
        if self.state == RETURNED:
            self._resubmitted(submission=self.submissions + 1)
        else:
            self._submitted(submission=1)

    @event("Submitted")
    def _submitted(self, submission: int) -> None:
        self.state = SUBMITTED
        self.submissions = submission

    @event("Resubmitted")
    def _resubmitted(self, submission: int) -> None:
        self.state = SUBMITTED
        self.submissions = submission

    def submit_summary(self, text: str, outcomes: list[dict[str, Any]]) -> None:
        """How the period went: for every item, done or not (and a note)."""
        self._require((SUBMITTED, RETURNED, ACCEPTED), "summarised before it is submitted")
        item_ids = [item["id"] for item in self.items]
        errors: list[FieldError] = []
        given: dict[str, dict[str, Any]] = {}
        for index, outcome in enumerate(outcomes):
            item_id = str(outcome["item_id"])
            if item_id not in item_ids:
                errors.append(FieldError(f"outcomes[{index}].item_id", f"no item {item_id}"))
            elif item_id in given:
                errors.append(FieldError(f"outcomes[{index}].item_id", "is given twice"))
            given[item_id] = {
                "item_id": item_id,
                "done": bool(outcome["done"]),
                "note": outcome.get("note"),
            }
        missing = [i for i in item_ids if i not in given]
        if missing:
            errors.append(FieldError("outcomes", f"say for every item; missing {missing}"))
        if errors:
            raise ValidationFailed(errors)
        self._summary_submitted(text=text, outcomes=[given[i] for i in item_ids])

    @event("SummarySubmitted")
    def _summary_submitted(self, text: str, outcomes: list[dict[str, Any]]) -> None:
        self.summary = {"text": text, "outcomes": outcomes}

    # the reviewer (the manager of the owner's team, or an admin)

    def edit_as_reviewer(
        self, reviewer_id: str, items: list[dict[str, Any]], comment: str | None
    ) -> None:
        self._require_reviewer(reviewer_id, "edit")
        self._require((SUBMITTED, RETURNED), "edited by a reviewer")
        checked = check_items(items)
        if checked == self.items:
            raise InvalidTransition(
                "the items are unchanged; add a comment instead", code="nothing_changed"
            )
        self._edited_by_reviewer(reviewer_id=reviewer_id, items=checked, comment=comment)

    @event("EditedByReviewer")
    def _edited_by_reviewer(
        self, reviewer_id: str, items: list[dict[str, Any]], comment: str | None
    ) -> None:
        self.items = items
        if comment:
            self.comments = [*self.comments, {"by": reviewer_id, "text": comment}]

    def comment(self, author_id: str, text: str) -> None:
        """Owner or reviewer remarks on the plan; the application decides who may."""
        self._require((SUBMITTED, RETURNED, ACCEPTED), "commented before it is submitted")
        self._commented(author_id=author_id, text=text)

    @event("Commented")
    def _commented(self, author_id: str, text: str) -> None:
        self.comments = [*self.comments, {"by": author_id, "text": text}]

    def return_to_owner(self, reviewer_id: str, comment: str) -> None:
        self._require_reviewer(reviewer_id, "return")
        self._require((SUBMITTED,), "returned")
        if not comment.strip():
            raise ValidationFailed([FieldError("comment", "say why the plan is returned")])
        self._returned(reviewer_id=reviewer_id, comment=comment)

    @event("Returned")
    def _returned(self, reviewer_id: str, comment: str) -> None:
        self.state = RETURNED
        self.reviewed_by = reviewer_id
        self.comments = [*self.comments, {"by": reviewer_id, "text": comment}]

    def accept(self, reviewer_id: str, comment: str | None) -> None:
        self._require_reviewer(reviewer_id, "accept")
        self._require((SUBMITTED,), "accepted")
        self._accepted(reviewer_id=reviewer_id, comment=comment)

    @event("Accepted")
    def _accepted(self, reviewer_id: str, comment: str | None) -> None:
        self.state = ACCEPTED
        self.reviewed_by = reviewer_id
        if comment:
            self.comments = [*self.comments, {"by": reviewer_id, "text": comment}]

    def _require_reviewer(self, reviewer_id: str, verb: str) -> None:
        if reviewer_id == self.owner_id:
            raise PermissionDenied(
                f"nobody may {verb} their own work plan; its reviewer is the team's manager",
                code="own_work_plan",
            )

    def _require(self, states: tuple[str, ...], verb: str) -> None:
        if self.state not in states:
            raise InvalidTransition(
                f"a {self.state} work plan cannot be {verb}", code="invalid_state", state=self.state
            )
