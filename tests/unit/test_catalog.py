"""Products and the price policy as the domain decides them: no database, no HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import uuid4

import pytest

from crm_api.domain.catalog import Prices, Product
from crm_api.domain.context import EventMeta, recording
from crm_api.domain.errors import InvalidTransition, ValidationFailed

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
D = Decimal


def meta(command_id: str = "cmd-1") -> EventMeta:
    return EventMeta(
        actor=str(uuid4()),
        actor_type="user",
        on_behalf_of=None,
        occurred_at=NOW,
        command_id=command_id,
        correlation_id="corr-1",
    )


def prices(**overrides: Any) -> Prices:
    fields: dict[str, Any] = {
        "list_price": D("100"),
        "unit_cost": D("40"),
        "floor_price": D("80"),
        "currency": "EUR",
    }
    fields.update(overrides)
    return Prices.of(**fields)


def list_product(**overrides: Any) -> Product:
    with recording(meta("cmd-list"), NOW):
        return Product.list_new(uuid4(), sku="WID-1", name="Widget", prices=prices(**overrides))


def refused_fields(**overrides: Any) -> list[str]:
    with pytest.raises(ValidationFailed) as refused:
        prices(**overrides)
    return [e.field for e in refused.value.errors]


# the price policy


def test_a_floor_above_list_price_is_refused_naming_the_floor():
    assert refused_fields(floor_price=D("100.01")) == ["floor_price"]


def test_a_floor_of_zero_is_refused():
    assert refused_fields(floor_price=D("0")) == ["floor_price"]


def test_a_negative_unit_cost_is_refused():
    assert refused_fields(unit_cost=D("-1")) == ["unit_cost"]


def test_a_free_unit_cost_and_a_floor_at_list_price_are_allowed():
    policy = prices(unit_cost=D("0"), floor_price=D("100"))
    assert (policy.unit_cost, policy.floor_price) == (D("0.00"), D("100.00"))


def test_fractions_of_a_cent_and_unknown_currencies_are_refused():
    assert refused_fields(list_price=D("100.001"), currency="eur") == ["list_price", "currency"]


def test_amounts_are_kept_to_the_cent():
    assert prices(list_price=D("100.5")).list_price.as_tuple().exponent == -2


# discounts and the floor


def test_the_discount_is_the_share_below_list_price_in_percent():
    product = list_product()
    assert product.discount_pct(D("85")) == D("15")
    assert product.discount_pct(D("100")) == 0
    assert product.discount_pct(D("110")) == D("-10")


def test_only_a_price_under_the_floor_is_below_it():
    product = list_product()
    assert product.below_floor(D("79.99")) is True
    assert product.below_floor(D("80.00")) is False
    assert product.below_floor(D("100")) is False


# events only on change


def test_unchanged_prices_and_name_record_nothing():
    product = list_product()
    with recording(meta("cmd-2"), NOW):
        product.change_prices(prices(list_price=D("100.00")), reason=None)
        product.change_details(name="Widget")
    assert [e.type_name for e in product.collect_events()] == ["ProductListed"]


def test_new_prices_are_recorded_as_history_with_the_reason():
    product = list_product()
    with recording(meta("cmd-2"), NOW):
        product.change_prices(prices(list_price=D("120"), floor_price=D("90")), reason="2027 list")
    _listed, changed = product.collect_events()
    assert changed.type_name == "ProductPricesChanged"
    assert (changed.list_price, changed.floor_price, changed.reason) == (
        D("120.00"),
        D("90.00"),
        "2027 list",
    )
    assert product.version == 2
    assert product.below_floor(D("85")) is True


# discontinue and reinstate


def test_a_discontinued_product_cannot_be_repriced_until_reinstated():
    product = list_product()
    with recording(meta("cmd-2"), NOW):
        product.discontinue()
        with pytest.raises(InvalidTransition) as refused:
            product.change_prices(prices(list_price=D("120")), reason=None)
        assert refused.value.code == "discontinued"
        product.reinstate()
        product.change_prices(prices(list_price=D("120")), reason=None)
    assert [e.type_name for e in product.collect_events()] == [
        "ProductListed",
        "ProductDiscontinued",
        "ProductReinstated",
        "ProductPricesChanged",
    ]


def test_discontinuing_twice_is_refused():
    product = list_product()
    with recording(meta("cmd-2"), NOW):
        product.discontinue()
        with pytest.raises(InvalidTransition):
            product.discontinue()
