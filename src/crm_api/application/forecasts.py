"""Forecasts: one per (owner, period), put whole; each revision is history. A rep forecasts for
itself, a manager for its team's reps, an assistant for the rep it acts for."""

from __future__ import annotations

from typing import Any

from eventsourcing.persistence import IntegrityError
from eventsourcing.utils import get_topic

from crm_api.application.app import (
    SAVE_ATTEMPTS,
    CommandContext,
    CrmApplication,
    Outcome,
    command,
)
from crm_api.domain.catalog import Product
from crm_api.domain.errors import (
    FieldError,
    NotFound,
    PermissionDenied,
    ValidationFailed,
    VersionConflict,
)
from crm_api.domain.forecasts import Forecast, Period
from crm_api.domain.people import OWNER_ROLES, Principal, User

SUBMITTED = get_topic(Forecast.Submitted)  # type: ignore[attr-defined]


def submitted(outcome: Outcome[Forecast]) -> bool:
    """Whether a put created the forecast (also when it is a replay of the creating put)."""
    if outcome.topics is None:
        return outcome.record.version == 1
    return SUBMITTED in outcome.topics


def forecast_view(forecast: Forecast) -> dict[str, Any]:
    return {
        "id": str(forecast.id),
        "owner_id": forecast.owner_id,
        "period": forecast.period,
        "currency": forecast.currency,
        "lines": [dict(line) for line in forecast.lines],
        "total": forecast.total,
        "version": forecast.version,
        "created_at": forecast.created_on,
        "updated_at": forecast.modified_on,
    }


class ForecastService:
    def __init__(self, app: CrmApplication) -> None:
        self.app = app

    @command
    def put_forecast(
        self,
        ctx: CommandContext,
        owner_id: str,
        period: str,
        *,
        currency: str,
        lines: list[dict[str, Any]],
        expected_version: int | None,
    ) -> Outcome[Forecast]:
        """Submit the owner's forecast for the period, or revise it (`submitted` tells which).
        Unchanged → the same version, nothing recorded. Two first submissions racing: the
        loser revises what the winner submitted."""
        principal = ctx.principal
        principal.require("forecasts:write")
        Period.parse(period)
        self._check_forecaster(principal, owner_id)
        for i, line in enumerate(lines):
            if line.get("product_id") is not None:
                self._check_product(line["product_id"], f"lines[{i}].product_id")
        forecast_id = Forecast.id_for(owner_id, period)
        for _attempt in range(SAVE_ATTEMPTS):
            if self.app.exists(forecast_id):
                return self.app.change(
                    ctx,
                    forecast_id,
                    Forecast,
                    lambda forecast: forecast.revise(currency, lines),
                    expected_version=expected_version,
                )
            if expected_version is not None:
                raise VersionConflict(expected_version, 0)
            with self.app.stamping(ctx):
                forecast = Forecast.submit(
                    owner_id=owner_id, period=period, currency=currency, lines=lines
                )
            try:
                recordings = self.app.save(forecast)
            except IntegrityError:
                continue
            topics = frozenset(r.notification.topic for r in recordings)
            return Outcome(forecast, recordings[-1].notification.id, topics=topics)
        raise AssertionError("unreachable")

    def get_forecast(self, principal: Principal, forecast_id: str) -> Forecast:
        principal.require("forecasts:read")
        forecast = self.app.load(forecast_id, Forecast)
        principal.require_sees_owner(forecast.owner_id, "forecast", forecast_id)
        return forecast

    # rules

    def _check_forecaster(self, principal: Principal, owner_id: str) -> None:
        try:
            owner = self.app.load(owner_id, User, "user")
        except NotFound:
            raise ValidationFailed([FieldError("owner_id", f"no user {owner_id}")]) from None
        if not owner.active or owner.role not in OWNER_ROLES:
            raise ValidationFailed(
                [FieldError("owner_id", "forecasts belong to an active rep or manager")]
            )
        if not principal.sees_owner(owner_id):
            raise PermissionDenied(
                "you may only forecast for yourself or for the reps you manage or act for",
                code="owner_not_allowed",
            )

    def _check_product(self, product_id: str, field: str) -> None:
        try:
            self.app.load(product_id, Product)
        except NotFound:
            raise ValidationFailed([FieldError(field, f"no product {product_id}")]) from None
