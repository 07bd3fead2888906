"""Opportunities and their stages as the domain decides them: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from crm_api.domain.context import EventMeta, recording
from crm_api.domain.errors import InvalidTransition, ValidationFailed
from crm_api.domain.opportunities import Opportunity

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
D = Decimal


def meta(command_id: str = "cmd-1", occurred_at: datetime = NOW) -> EventMeta:
    return EventMeta(
        actor=str(uuid4()),
        actor_type="user",
        on_behalf_of=None,
        occurred_at=occurred_at,
        command_id=command_id,
        correlation_id="corr-1",
    )


def open_(occurred_at: datetime = NOW, **overrides: Any) -> Opportunity:
    fields: dict[str, Any] = {
        "account_id": str(uuid4()),
        "name": "Big deal",
        "amount": D("1000"),
        "currency": "EUR",
        "expected_close_date": date(2026, 3, 31),
        "product_id": None,
        "owner_id": str(uuid4()),
    }
    fields.update(overrides)
    with recording(meta("cmd-open", occurred_at), NOW):
        return Opportunity.open(uuid4(), **fields)


def act(opportunity: Opportunity, action: Any, occurred_at: datetime = NOW) -> None:
    with recording(meta(f"cmd-{uuid4()}", occurred_at), NOW):
        action(opportunity)


def refused_state(opportunity: Opportunity, action: Any) -> str:
    with pytest.raises(InvalidTransition) as refused:
        act(opportunity, action)
    assert refused.value.code == "invalid_state"
    state: str = refused.value.extra["state"]
    return state


def types(opportunity: Opportunity) -> list[str]:
    return [e.type_name for e in opportunity.collect_events()]


# creation


def test_a_new_opportunity_is_prospecting_with_the_amount_to_the_cent():
    opportunity = open_(amount=D("99.5"))
    assert (opportunity.stage, opportunity.amount, opportunity.opened_at) == (
        "prospecting",
        D("99.50"),
        NOW,
    )
    assert types(opportunity) == ["OpportunityCreated"]


def test_it_may_start_in_a_later_open_stage_but_not_closed():
    assert open_(stage="proposal").stage == "proposal"
    with pytest.raises(ValidationFailed) as refused:
        open_(stage="won")
    assert [e.field for e in refused.value.errors] == ["stage"]


@pytest.mark.parametrize(
    ("amount", "currency", "bad"),
    [
        (D("-1"), "EUR", ["amount"]),
        (D("1.001"), "EUR", ["amount"]),
        (D("1"), "eur", ["currency"]),
        (D("-0.001"), "EURO", ["amount", "currency"]),
    ],
)
def test_bad_money_is_refused_naming_the_field(amount, currency, bad):
    with pytest.raises(ValidationFailed) as refused:
        open_(amount=amount, currency=currency)
    assert [e.field for e in refused.value.errors] == bad


def test_a_creation_in_the_future_is_refused():
    with pytest.raises(ValidationFailed) as refused:
        open_(occurred_at=NOW + timedelta(seconds=1))
    assert [e.field for e in refused.value.errors] == ["occurred_at"]


# stages


def test_open_stages_move_either_way_each_change_recorded_with_from_and_to():
    opportunity = open_()
    act(opportunity, lambda o: o.move_to("negotiation"))
    act(opportunity, lambda o: o.move_to("qualification"))
    _created, forward, back = opportunity.collect_events()
    assert (forward.type_name, forward.from_stage, forward.to_stage) == (
        "OpportunityStageChanged",
        "prospecting",
        "negotiation",
    )
    assert (back.from_stage, back.to_stage) == ("negotiation", "qualification")
    assert opportunity.stage == "qualification"


def test_moving_to_the_stage_it_is_in_is_refused_with_the_state():
    opportunity = open_()
    assert refused_state(opportunity, lambda o: o.move_to("prospecting")) == "prospecting"


def test_moving_to_a_closed_stage_is_not_a_move():
    opportunity = open_()
    with pytest.raises(ValidationFailed):
        act(opportunity, lambda o: o.move_to("won"))


@pytest.mark.parametrize("stage", ["prospecting", "qualification", "proposal", "negotiation"])
def test_won_from_any_open_stage_keeps_its_business_time(stage):
    opportunity = open_(stage=stage, occurred_at=NOW - timedelta(days=10))
    act(opportunity, lambda o: o.win(), occurred_at=NOW - timedelta(days=2))
    won = opportunity.collect_events()[-1]
    assert (won.type_name, won.from_stage, won.to_stage) == ("OpportunityWon", stage, "won")
    assert opportunity.won_at == NOW - timedelta(days=2)


def test_won_is_final():
    opportunity = open_()
    act(opportunity, lambda o: o.win())
    assert refused_state(opportunity, lambda o: o.move_to("proposal")) == "won"
    assert refused_state(opportunity, lambda o: o.win()) == "won"
    assert refused_state(opportunity, lambda o: o.lose("late")) == "won"
    assert refused_state(opportunity, lambda o: o.reopen("proposal")) == "won"
    assert refused_state(opportunity, lambda o: o.change_details(name="Other")) == "won"
    assert types(opportunity) == ["OpportunityCreated", "OpportunityWon"]


def test_lost_needs_a_reason_and_is_reopened_into_an_open_stage():
    opportunity = open_(stage="proposal")
    assert refused_state(opportunity, lambda o: o.lose(None)) == "proposal"
    assert refused_state(opportunity, lambda o: o.lose("   ")) == "proposal"
    act(opportunity, lambda o: o.lose("price"))
    assert (opportunity.stage, opportunity.lost_reason, opportunity.lost_at) == (
        "lost",
        "price",
        NOW,
    )
    assert refused_state(opportunity, lambda o: o.move_to("proposal")) == "lost"
    assert refused_state(opportunity, lambda o: o.lose("again")) == "lost"
    act(opportunity, lambda o: o.reopen("qualification"))
    assert (opportunity.stage, opportunity.lost_reason, opportunity.lost_at) == (
        "qualification",
        None,
        None,
    )
    *_, lost, reopened = opportunity.collect_events()
    assert (lost.from_stage, lost.to_stage, lost.reason) == ("proposal", "lost", "price")
    assert (reopened.type_name, reopened.from_stage, reopened.to_stage) == (
        "OpportunityReopened",
        "lost",
        "qualification",
    )


def test_a_reason_over_500_characters_is_invalid_input():
    opportunity = open_()
    with pytest.raises(ValidationFailed) as refused:
        act(opportunity, lambda o: o.lose("x" * 501))
    assert [e.field for e in refused.value.errors] == ["reason"]


def test_only_a_lost_opportunity_is_reopened():
    opportunity = open_()
    assert refused_state(opportunity, lambda o: o.reopen("proposal")) == "prospecting"


def test_a_stage_change_before_creation_or_in_the_future_is_refused():
    opportunity = open_(occurred_at=NOW - timedelta(days=3))
    for occurred_at in (NOW - timedelta(days=4), NOW + timedelta(minutes=1)):
        with pytest.raises(ValidationFailed) as refused:
            act(opportunity, lambda o: o.move_to("proposal"), occurred_at)
        assert [e.field for e in refused.value.errors] == ["occurred_at"]
    assert types(opportunity) == ["OpportunityCreated"]


# details


def test_only_changed_details_are_recorded():
    opportunity = open_()
    act(
        opportunity,
        lambda o: o.change_details(
            name="Big deal", amount=D("1200"), expected_close_date="2026-03-31"
        ),
    )
    _created, changed = opportunity.collect_events()
    assert changed.changes == {"amount": D("1200.00")}
    act(opportunity, lambda o: o.change_details(name="Big deal"))
    assert types(opportunity) == []


def test_changed_money_is_checked():
    opportunity = open_()
    with pytest.raises(ValidationFailed) as refused:
        act(opportunity, lambda o: o.change_details(amount=D("-5")))
    assert [e.field for e in refused.value.errors] == ["amount"]
