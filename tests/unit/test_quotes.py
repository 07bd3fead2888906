"""Quotes as the domain decides them: no database, no HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import count
from typing import Any
from uuid import uuid4

import pytest

from crm_api.domain.context import EventMeta, recording
from crm_api.domain.errors import (
    InvalidTransition,
    PermissionDenied,
    ValidationFailed,
)
from crm_api.domain.quotes import (
    POLICY,
    Approver,
    CatalogPrice,
    LineRequest,
    Quote,
    QuoteState,
    audit_trail,
    price_lines,
    totals,
)

D = Decimal
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
LATER = date(2026, 3, 1)  # after valid_until
REP, MANAGER, BOSS = "rep-1", "manager-1", "boss-1"
WIDGET = CatalogPrice("p-w", "WID", "Widget", D("100.00"), D("90.00"), D("40.00"), "EUR", True)
GADGET = CatalogPrice("p-g", "GAD", "Gadget", D("50.00"), D("45.00"), D("20.00"), "EUR", True)
CATALOG: dict[str, CatalogPrice | None] = {"p-w": WIDGET, "p-g": GADGET}
_commands = count()


def act(actor: str, on_behalf_of: str | None = None) -> Any:
    meta = EventMeta(
        actor=actor,
        actor_type="user",
        on_behalf_of=on_behalf_of,
        occurred_at=NOW,
        command_id=f"cmd-{next(_commands)}",
        correlation_id="corr",
    )
    return recording(meta, NOW)


def lines(*prices: str) -> list[dict[str, Any]]:
    return price_lines([LineRequest("p-w", D("1"), D(p)) for p in prices], CATALOG, "EUR")


def draft(*prices: str, who: str = REP) -> Quote:
    with act(who):
        return Quote.draft(
            uuid4(),
            account_id="acc",
            owner_id=REP,
            opportunity_id=None,
            title="T",
            currency="EUR",
            valid_until=date(2026, 2, 1),
            terms=None,
            lines=lines(*(prices or ("95.00",))),
            today=TODAY,
        )


def run(quote: Quote, step: Callable[[Quote], Any], who: str = REP) -> None:
    with act(who):
        step(quote)


MANAGER_20 = Approver(MANAGER, D("20"))


# pricing


def test_lines_copy_the_catalogue_and_refuse_what_cannot_be_sold():
    priced = price_lines([LineRequest("p-g", D("2"), D("44.999"))], CATALOG, "EUR")
    assert priced[0]["unit_price"] == D("45.00") and priced[0]["floor_price"] == D("45.00")
    catalog = {
        **CATALOG,
        "p-x": None,
        "p-off": CatalogPrice("p-off", "OFF", "Off", D("1"), D("1"), D("1"), "EUR", False),
    }
    with pytest.raises(ValidationFailed) as refused:
        price_lines(
            [
                LineRequest("p-x", D("1"), D("1")),
                LineRequest("p-off", D("1"), D("1")),
                LineRequest("p-w", D("0"), D("1")),
                LineRequest("p-w", D("1"), D("-1")),
            ],
            catalog,
            "EUR",
        )
    assert [e.field for e in refused.value.errors] == [
        "lines[0].product_id",
        "lines[1].product_id",
        "lines[2].quantity",
        "lines[3].unit_price",
    ]
    with pytest.raises(ValidationFailed):
        price_lines([LineRequest("p-w", D("1"), D("1"))], CATALOG, "USD")


def test_totals_are_to_the_cent():
    priced = price_lines(
        [LineRequest("p-w", D("3"), D("33.33")), LineRequest("p-g", D("0.5"), D("45.01"))],
        CATALOG,
        "EUR",
    )
    assert totals(priced) == {
        "amount": D("122.50"),  # 99.99 + 22.505 → 22.51: half a cent rounds up
        "list_amount": D("325.00"),
        "discount_amount": D("202.50"),
        "cost": D("130.00"),
        "margin": D("-7.50"),
    }


# the state machine: every command in every state

ACTIONS: dict[str, Callable[[Quote, date], Any]] = {
    "revise": lambda q, today: q.revise(
        lines=lines("91.00"),
        title=None,
        valid_until=None,
        terms=None,
        terms_given=False,
        reason=None,
        today=today,
    ),
    "submit": lambda q, today: q.submit(today),
    "approve": lambda q, today: q.approve(Approver(BOSS, D("50")), q.revision, None),
    "reject": lambda q, today: q.reject(Approver(BOSS, D("50")), q.revision, "no"),
    "send": lambda q, today: q.send(today),
    "accept": lambda q, today: q.accept(today, None),
    "expire": lambda q, today: q.expire(LATER),
    "withdraw": lambda q, today: q.withdraw(None),
}


def in_state(state: str) -> Quote:
    """A quote brought to `state` through the commands, never by setting fields."""
    below = state in ("pending_approval", "approval_rejected")
    quote = draft("85.00" if below else "95.00")
    path: dict[str, list[str]] = {
        "draft": [],
        "pending_approval": ["submit"],
        "approval_rejected": ["submit", "reject"],
        "approved": ["submit"],
        "sent": ["submit", "send"],
        "accepted": ["submit", "send", "accept"],
        "customer_rejected": ["submit", "send", "reject"],
        "expired": ["expire"],
        "withdrawn": ["withdraw"],
    }
    for action in path[state]:
        run(quote, lambda q, a=action: ACTIONS[a](q, TODAY), BOSS if action == "reject" else REP)
    return quote


ALLOWED = {
    "draft": {"revise", "submit", "expire", "withdraw"},
    "pending_approval": {"revise", "approve", "reject", "expire", "withdraw"},
    "approved": {"revise", "send", "expire", "withdraw"},
    "sent": {"revise", "accept", "reject", "expire", "withdraw"},
    "approval_rejected": {"revise", "withdraw"},
    "customer_rejected": {"revise", "withdraw"},
    "accepted": set(),
    "expired": set(),
    "withdrawn": set(),
}


@pytest.mark.parametrize("state", sorted(ALLOWED))
@pytest.mark.parametrize("action", sorted(ACTIONS))
def test_every_command_in_every_state(state: str, action: str):
    quote = in_state(state)
    before = quote.state
    who = BOSS if action in ("approve", "reject") else REP
    if action in ALLOWED[state]:
        run(quote, lambda q: ACTIONS[action](q, TODAY), who)
        assert quote.version > 1
    else:
        with pytest.raises(InvalidTransition) as refused:
            run(quote, lambda q: ACTIONS[action](q, TODAY), who)
        assert refused.value.code == "invalid_state"
        assert refused.value.extra["state"] == before.value
        assert quote.state is before


# approval


def test_within_policy_submit_approves_by_policy():
    quote = draft("90.00")
    run(quote, lambda q: q.submit(TODAY))
    assert quote.state is QuoteState.APPROVED
    assert quote.approval == {
        "revision": 1,
        "by": POLICY,
        "deepest_discount_pct": D("10.00"),
        "approval_limit_pct": None,
    }


def test_below_floor_needs_a_limit_covering_the_deepest_discount():
    quote = draft("95.00", "79.99")  # 20.01% off
    run(quote, lambda q: q.submit(TODAY))
    with pytest.raises(PermissionDenied) as refused:
        run(quote, lambda q: q.approve(MANAGER_20, 1, None), MANAGER)
    assert refused.value.code == "approval_limit_exceeded"
    assert refused.value.extra == {"deepest_discount_pct": "20.01", "approval_limit_pct": "20"}
    with pytest.raises(PermissionDenied):
        run(quote, lambda q: q.approve(Approver(MANAGER, None), 1, None), MANAGER)
    run(quote, lambda q: q.approve(Approver(MANAGER, D("20.01")), 1, "ok"), MANAGER)
    assert quote.state is QuoteState.APPROVED and quote.approval["by"] == MANAGER


def test_anyone_who_wrote_or_submitted_a_revision_cannot_approve():
    quote = draft("85.00", who=MANAGER)
    run(quote, lambda q: q.submit(TODAY))
    with pytest.raises(PermissionDenied) as refused:
        run(quote, lambda q: q.approve(MANAGER_20, 1, None), MANAGER)
    assert refused.value.code == "self_approval"
    submitted_for = draft("85.00")
    with act(BOSS, on_behalf_of=REP):
        submitted_for.submit(TODAY)
    for author in (REP, BOSS):
        with pytest.raises(PermissionDenied):
            run(submitted_for, lambda q, a=author: q.approve(Approver(a, D("50")), 1, None), author)


def test_an_approval_names_the_current_revision():
    quote = draft("85.00")
    run(quote, lambda q: q.submit(TODAY))
    with pytest.raises(InvalidTransition) as refused:
        run(quote, lambda q: q.approve(MANAGER_20, 2, None), MANAGER)
    assert refused.value.code == "stale_revision"


def test_revising_voids_an_approval_and_returns_to_draft():
    quote = draft("85.00")
    run(quote, lambda q: q.submit(TODAY))
    run(quote, lambda q: q.approve(MANAGER_20, 1, None), MANAGER)
    run(quote, lambda q: ACTIONS["revise"](q, TODAY))
    assert (quote.state, quote.revision, quote.approval) == (QuoteState.DRAFT, 2, None)
    names = [e.type_name for e in quote.collect_events()]
    assert names[-2:] == ["QuoteApprovalVoided", "QuoteRevised"]


def test_a_revision_that_changes_nothing_records_nothing():
    quote = draft("95.00")
    with act(REP):
        changed = quote.revise(
            lines=lines("95.00"),
            title="T",
            valid_until=None,
            terms=None,
            terms_given=False,
            reason=None,
            today=TODAY,
        )
    assert changed is False and quote.version == 1


def test_expiry_and_validity():
    quote = draft()
    with pytest.raises(InvalidTransition) as early:
        run(quote, lambda q: q.expire(TODAY))
    assert early.value.code == "not_yet_expired"
    with pytest.raises(InvalidTransition) as late:
        run(quote, lambda q: q.submit(LATER))
    assert late.value.code == "quote_expired"
    with pytest.raises(ValidationFailed), act(REP):
        Quote.draft(
            uuid4(),
            account_id="a",
            owner_id=REP,
            opportunity_id=None,
            title="T",
            currency="EUR",
            valid_until=date(2026, 1, 4),
            terms=None,
            lines=[],
            today=TODAY,
        )


# the auditor's fold


def test_the_audit_trail_is_a_fold_of_the_events():
    quote = draft("85.00")
    run(quote, lambda q: q.submit(TODAY))
    run(quote, lambda q: q.approve(MANAGER_20, 1, "fine"), MANAGER)
    run(quote, lambda q: ACTIONS["revise"](q, TODAY))
    run(quote, lambda q: q.submit(TODAY))
    events = quote.collect_events()
    first, second = audit_trail(events)
    assert first["approval"]["approved_by"] == MANAGER
    assert first["approval"]["approval_limit_pct"] == D("20")
    assert first["approval"]["comment"] == "fine"
    assert first["voided"]["reason"] == "revised"
    assert first["lines"][0]["below_floor"] is True
    assert first["lines"][0]["discount_pct"] == D("15.00")
    assert second["approval"]["by_policy"] is True
    assert second["submitted"]["needs_approval"] is False
    # A prefix of the events is the trail as of then.
    assert audit_trail(events[:3])[0]["voided"] is None
