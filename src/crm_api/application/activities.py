"""Commands and reads on activities. Whoever sees an activity's account sees the activity;
changing one is for whoever may write for its owner (the owner, its manager, the assistant
acting for it, an admin or an integrator key)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.application.custom_fields import (
    change_custom_fields,
    custom_fields_on_create,
    with_custom_fields,
)
from crm_api.application.opportunities import at_business_time
from crm_api.application.work import WorkRules
from crm_api.domain.accounts import Account
from crm_api.domain.activities import Activity
from crm_api.domain.custom_fields import Customisable
from crm_api.domain.errors import InvalidTransition
from crm_api.domain.people import OWNER_ROLES, Principal

RELATED = (("contact_id", "contact"), ("opportunity_id", "opportunity"))
SERVICE_REQUEST = ("service_request_id", "service_request")


def activity_view(activity: Activity) -> dict[str, Any]:
    return {
        "id": str(activity.id),
        "account_id": activity.account_id,
        "owner_id": activity.owner_id,
        "type": activity.type,
        "subject": activity.subject,
        "notes": activity.notes,
        "contact_id": activity.contact_id,
        "opportunity_id": activity.opportunity_id,
        "service_request_id": activity.service_request_id,
        "duration_minutes": activity.duration_minutes,
        "outcome": activity.outcome,
        "next_step": activity.next_step,
        "occurred_at": activity.occurred_at,
        "entered_by": activity.entered_by,
        "on_behalf_of": activity.on_behalf_of,
        "custom_fields": activity.custom_fields,
        "version": activity.version,
        "created_at": activity.created_on,
        "updated_at": activity.modified_on,
    }


def utc(at: datetime) -> datetime:
    """Naive times are UTC."""
    return (at if at.tzinfo else at.replace(tzinfo=UTC)).astimezone(UTC)


class ActivityService:
    def __init__(self, app: CrmApplication) -> None:
        self.app = app
        self.rules = WorkRules(app)

    @command
    def record_activity(
        self,
        ctx: CommandContext,
        *,
        account_id: str,
        type: str,
        occurred_at: datetime | None = None,
        owner_id: str | None = None,
        custom_fields: dict[str, Any] | None = None,
        **details: Any,
    ) -> Outcome[Activity]:
        principal = ctx.principal
        principal.require("activities:write")
        account = self.rules.account(principal, account_id)
        if account.archived:
            raise InvalidTransition(
                "activities cannot be recorded on an archived account", code="archived"
            )
        self._check_related(principal, str(account.id), details)
        if owner_id is not None:
            self.rules.owner(principal, owner_id, "owner_id")
        owner = owner_id or self._default_owner(principal, account)
        custom = custom_fields_on_create(self.app, ctx.principal, "activities", custom_fields)

        def build(activity_id: Any) -> list[Customisable]:
            activity = Activity.record(
                activity_id,
                account_id=str(account.id),
                owner_id=owner,
                type=type,
                **{k: details.get(k) for k in _DETAILS},
            )
            return [with_custom_fields(activity, custom)]

        return self.app.create(at_business_time(ctx, occurred_at), Activity, build)

    @command
    def change_activity(
        self,
        ctx: CommandContext,
        activity_id: str,
        changes: dict[str, Any],
        expected_version: int | None,
    ) -> Outcome[Activity]:
        principal = ctx.principal
        principal.require("activities:write")
        changes = dict(changes)
        custom = changes.pop("custom_fields", None)
        if changes.get("occurred_at") is not None:
            changes["occurred_at"] = utc(changes["occurred_at"])

        def authorize(activity: Activity) -> None:
            self._visible_to(principal)(activity)
            principal.require_sees_owner(activity.owner_id, "activity", activity.id)
            self._check_related(principal, activity.account_id, changes)

        def decide(activity: Activity) -> None:
            activity.change_details(**changes)
            change_custom_fields(self.app, ctx.principal, activity, custom)

        return self.app.change(
            ctx,
            activity_id,
            Activity,
            decide,
            expected_version=expected_version,
            authorize=authorize,
        )

    def get_activity(self, principal: Principal, activity_id: str) -> Activity:
        principal.require("activities:read")
        activity = self.app.load(activity_id, Activity)
        self._visible_to(principal)(activity)
        return activity

    # rules

    def _visible_to(self, principal: Principal) -> Any:
        def authorize(activity: Activity) -> None:
            account = self.app.load(activity.account_id, Account)
            principal.require_sees_owner(account.owner_id, "activity", activity.id)

        return authorize

    def _check_related(
        self, principal: Principal, account_id: str, details: dict[str, Any]
    ) -> None:
        for field, kind in (*RELATED, SERVICE_REQUEST):
            if details.get(field) is not None:
                self.rules.of_account(principal, account_id, kind, details[field], field)

    @staticmethod
    def _default_owner(principal: Principal, account: Account) -> str:
        """The rep who had the interaction: the caller (or the rep it acts for); for an
        admin or an integrator key, the account's owner."""
        if principal.kind == "user" and (principal.on_behalf_of or principal.role in OWNER_ROLES):
            return principal.acting_for
        return account.owner_id


_DETAILS = (
    "subject",
    "notes",
    "contact_id",
    "opportunity_id",
    "service_request_id",
    "duration_minutes",
    "outcome",
    "next_step",
)
