"""Fulfilment and shipments as the domain decides them: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import count
from typing import Any
from uuid import uuid4

import pytest

from crm_api.domain.context import EventMeta, recording
from crm_api.domain.errors import InvalidTransition, ValidationFailed
from crm_api.domain.fulfilment import (
    Fulfilment,
    Shipment,
    ShipmentLine,
    fulfilment_id_for,
    fulfilment_status,
)

D = Decimal
NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ORDER_LINES = [{"line": 1, "quantity": D("10.000")}, {"line": 2, "quantity": D("2.500")}]
_commands = count()


def act() -> Any:
    meta = EventMeta("rep-1", "user", None, NOW, f"cmd-{next(_commands)}", "corr")
    return recording(meta, NOW)


def allocate(fulfilment: Fulfilment, *lines: tuple[int, str], status: str = "open") -> Any:
    with act():
        return fulfilment.allocate(
            str(uuid4()), [ShipmentLine(n, D(q)) for n, q in lines], ORDER_LINES, status
        )


def started() -> Fulfilment:
    with act():
        return Fulfilment.start("order-1")


def shipment(shipped_at: datetime = NOW - timedelta(days=2)) -> Shipment:
    with act():
        return Shipment.ship(
            uuid4(),
            order_id="order-1",
            account_id="acc-1",
            carrier="DHL",
            tracking_number="T1",
            shipped_at=shipped_at,
            lines=[{"line": 1, "quantity": D("1.000")}],
            now=NOW,
        )


def test_the_fulfilment_id_derives_from_the_order():
    assert fulfilment_id_for("order-1") == fulfilment_id_for("order-1") == started().id
    assert fulfilment_id_for("order-1") != fulfilment_id_for("order-2")


def test_partial_allocations_add_up_to_the_ordered_quantity():
    fulfilment = started()
    assert allocate(fulfilment, (1, "4"), (2, "2.5")) == [
        {"line": 1, "quantity": D("4.000")},
        {"line": 2, "quantity": D("2.500")},
    ]
    allocate(fulfilment, (1, "6"))
    assert fulfilment.shipped_of(1) == D("10.000") and fulfilment.shipped_of(2) == D("2.500")
    assert len(fulfilment.shipment_ids) == 2
    with pytest.raises(ValidationFailed) as error:
        allocate(fulfilment, (1, "0.001"))
    assert error.value.errors[0].field == "lines[0].quantity"
    assert "only 0.000 of line 1 remain" in error.value.errors[0].message


def test_a_refused_allocation_records_nothing():
    fulfilment = started()
    allocate(fulfilment, (1, "8"))
    with pytest.raises(ValidationFailed) as error:
        allocate(fulfilment, (2, "1"), (1, "3"), (9, "1"), (2, "1"))
    assert [e.field for e in error.value.errors] == [
        "lines[1].quantity",
        "lines[2].line",
        "lines[3].line",
    ]
    assert fulfilment.shipped_of(1) == D("8") and fulfilment.shipped_of(2) == 0
    assert fulfilment.version == 2


def test_a_cancelled_order_is_not_shipped():
    with pytest.raises(InvalidTransition) as error:
        allocate(started(), (1, "1"), status="cancelled")
    assert (error.value.code, error.value.extra["state"]) == ("invalid_state", "cancelled")


def test_tracking_moves_forward_in_time_until_delivered_then_only_a_return():
    s = shipment()
    assert s.status == "shipped"
    with act():
        s.track("in_transit", NOW - timedelta(days=1), "hub", NOW)
    assert (s.status, s.status_at) == ("in_transit", NOW - timedelta(days=1))
    with pytest.raises(ValidationFailed) as early, act():
        s.track("exception", NOW - timedelta(days=1, hours=1), None, NOW)
    assert early.value.errors[0].field == "at"
    with pytest.raises(ValidationFailed) as future, act():
        s.track("exception", NOW + timedelta(minutes=1), None, NOW)
    assert future.value.errors[0].field == "at"
    with act():
        s.track("delivered", NOW, None, NOW)
    assert (s.status, s.delivered_at) == ("delivered", NOW)
    with pytest.raises(InvalidTransition) as after, act():
        s.track("in_transit", NOW, None, NOW)
    assert after.value.extra["state"] == "delivered"
    with pytest.raises(InvalidTransition), act():
        s.deliver(NOW, NOW)
    with act():
        s.track("returned", NOW, "refused", NOW)
    assert s.status == "returned" and [t["status"] for t in s.tracking] == [
        "in_transit",
        "delivered",
        "returned",
    ]
    with pytest.raises(InvalidTransition), act():
        s.track("exception", NOW, None, NOW)


def test_unknown_tracking_status_and_future_shipments_are_refused():
    with pytest.raises(ValidationFailed), act():
        shipment().track("lost", NOW, None, NOW)
    with pytest.raises(ValidationFailed) as error:
        shipment(shipped_at=NOW + timedelta(hours=1))
    assert error.value.errors[0].field == "shipped_at"


@pytest.mark.parametrize(
    ("shipped", "statuses", "expected"),
    [
        (("0", "0"), [], "unfulfilled"),
        (("1", "0"), ["delivered"], "partially_shipped"),
        (("10", "2.5"), ["in_transit", "delivered"], "shipped"),
        (("10", "2.5"), ["delivered", "delivered"], "delivered"),
        (("10", "2.5"), ["delivered", "returned"], "shipped"),
    ],
)
def test_the_fulfilment_status(shipped: tuple[str, str], statuses: list[str], expected: str):
    lines = [
        {"ordered": D("10"), "shipped": D(shipped[0])},
        {"ordered": D("2.5"), "shipped": D(shipped[1])},
    ]
    assert fulfilment_status(lines, statuses) == expected
