"""Subscriptions: the event log, live.

Which events a caller may see is decided per record type for reads; for an arbitrary event
stream that rule is not written yet, so the feed is open only to the roles that read everything
(admin, auditor, integrator)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from typing import Any

import strawberry
from anyio import to_thread
from eventsourcing.utils import get_topic

from crm_api.api.graphql.context import Info
from crm_api.api.graphql.insights import Alert as AlertNode
from crm_api.api.graphql.insights import alert_node
from crm_api.api.graphql.types import Event
from crm_api.api.rest.conventions import history_entry
from crm_api.application.services import Services
from crm_api.domain.accounts import Account, Contact
from crm_api.domain.alerts import Alert
from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import DomainError, FieldError, PermissionDenied, ValidationFailed
from crm_api.domain.people import Principal, Role, Team, User

FEED_ROLES = frozenset({Role.ADMIN, Role.AUDITOR, Role.INTEGRATOR})
FEED_RECORDS: tuple[type[CrmAggregate], ...] = (Account, Contact, User, Team)
BATCH = 100


def _topics_by_type() -> dict[str, str]:
    """Event type names (`AccountOpened`) and their stored topics, for the records in the feed."""
    return {
        f"{record.__name__}{name}": get_topic(cls)
        for record in FEED_RECORDS
        for name, cls in vars(record).items()
        if isinstance(cls, type) and issubclass(cls, CrmAggregate.Event) and name != "Event"
    }


TOPICS_BY_TYPE = _topics_by_type()


def topics_for(types: Sequence[str] | None) -> list[str]:
    if types is None:
        return sorted(TOPICS_BY_TYPE.values())
    unknown = [
        FieldError(f"types[{i}]", f"no event type '{name}'")
        for i, name in enumerate(types)
        if name not in TOPICS_BY_TYPE
    ]
    if unknown:
        raise ValidationFailed(unknown)
    return sorted({TOPICS_BY_TYPE[name] for name in types})


def read_events(services: Services, after: int, topics: list[str]) -> tuple[list[Event], int]:
    """The next events after `after`, and the position read up to."""
    notifications = services.app.recorder.select_notifications(
        start=after + 1, limit=BATCH, topics=topics
    )
    events = []
    for notification in notifications:
        events.append(_event(notification.id, services.app.mapper.to_domain_event(notification)))
    return events, notifications[-1].id if notifications else after


ALERT_TOPICS = sorted(get_topic(cls) for cls in (Alert.Raised, Alert.Acknowledged, Alert.Cleared))


def read_alerts(
    services: Services, principal: Principal, after: int
) -> tuple[list[AlertNode], int]:
    """The alerts raised, acknowledged or cleared after `after` that the caller sees, as they
    now stand, and the position read up to."""
    notifications = services.app.recorder.select_notifications(
        start=after + 1, limit=BATCH, topics=ALERT_TOPICS
    )
    if not notifications:
        return [], after
    services.wait_for(notifications[-1].id)
    found = []
    for notification in notifications:
        try:
            alert = services.alerts.get_alert(principal, str(notification.originator_id))
        except DomainError:
            continue
        found.append(alert_node(services, alert.id))
    return found, notifications[-1].id


def _event(position: int, domain_event: Any) -> Event:
    entry = history_entry(domain_event)
    return Event(
        position=position,
        type=entry["type"],
        record_id=strawberry.ID(str(domain_event.originator_id)),
        version=entry["version"],
        recorded_at=entry["recorded_at"],
        actor=entry["actor"],
        on_behalf_of=entry["on_behalf_of"],
        data=entry["data"],
    )


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="Events as they are appended, after log position `after` (default: now). "
        "Admins, auditors and integrators only."
    )
    async def events(
        self, info: Info, types: list[str] | None = None, after: int | None = None
    ) -> AsyncGenerator[Event, None]:
        context = info.context
        principal = await context.principal()
        if principal.role not in FEED_ROLES and not principal.training:
            raise PermissionDenied("the live event feed is for admins, auditors and integrators")
        topics = topics_for(types)
        services = context.services
        notifier = services.notifier
        position = after if after is not None else await to_thread.run_sync(services.app.head)
        while True:
            generation = notifier.generation
            events, position = await to_thread.run_sync(read_events, services, position, topics)
            for event in events:
                yield event
            if not events and notifier.generation == generation:
                await notifier.wait_for_append_async(services.settings.projection_poll_seconds)

    @strawberry.subscription(
        description="Alerts the caller sees, each time one is raised, acknowledged or cleared, "
        "after log position `after` (default: now)."
    )
    async def alerts(self, info: Info, after: int | None = None) -> AsyncGenerator[AlertNode, None]:
        context = info.context
        principal = await context.principal()
        principal.require("alerts:read")
        services = context.services
        notifier = services.notifier
        position = after if after is not None else await to_thread.run_sync(services.app.head)
        while True:
            generation = notifier.generation
            alerts, position = await to_thread.run_sync(read_alerts, services, principal, position)
            for alert in alerts:
                yield alert
            if not alerts and notifier.generation == generation:
                await notifier.wait_for_append_async(services.settings.projection_poll_seconds)
