"""Commands and reads on webhook subscriptions. Admins and integrators manage them; auditors
read them. The signing secret is kept in `webhook_secrets`, never in an event, and shown only
in the answer to the command that made it (create, rotate-secret)."""

from __future__ import annotations

from contextlib import suppress
from datetime import timedelta
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from sqlalchemy import Engine

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.domain.errors import DomainError, FieldError, NotFound, ValidationFailed
from crm_api.domain.people import Principal, Role
from crm_api.domain.webhooks import ALL_TYPES, MAX_TYPES, DisabledBecause, Webhook
from crm_api.integrations.event_feed import topics_for
from crm_api.integrations.ssrf import UrlGuard, UrlRefused
from crm_api.integrations.webhooks import keep_secret, new_secret, secret_by_id, secret_problem
from crm_api.projections import webhooks as store

SYSTEM = Principal(
    id="system", kind="system", role=Role.ADMIN, name="webhook delivery", visible_owners=None
)


def webhook_view(webhook: Webhook) -> dict[str, Any]:
    return {
        "id": str(webhook.id),
        "url": webhook.url,
        "types": list(webhook.types),
        "description": webhook.description,
        "status": webhook.status.value,
        "enabled": webhook.status.value == "active",
        "disabled_reason": webhook.disabled_reason,
        "previous_secret_valid_until": webhook.previous_secret_valid_until,
        "version": webhook.version,
        "created_at": webhook.created_on,
        "updated_at": webhook.modified_on,
    }


def _secret_id(webhook_id: UUID | str, command_id: str) -> str:
    return str(uuid5(NAMESPACE_URL, f"crm-webhook-secret:{webhook_id}:{command_id}"))


class WebhookService:
    def __init__(
        self, app: CrmApplication, writer: Engine, guard: UrlGuard, grace: timedelta
    ) -> None:
        self.app = app
        self.writer = writer
        self.guard = guard
        self.grace = grace

    def _check(self, url: str | None, types: list[str] | None) -> list[str] | None:
        errors = []
        if url is not None:
            try:
                self.guard.check(url)
            except UrlRefused as refused:
                errors.append(FieldError("url", str(refused)))
        if types is not None:
            types = list(dict.fromkeys(t.strip().removeprefix("crm.") for t in types))
            if not types:
                errors.append(FieldError("types", 'name at least one event type, or "*"'))
            elif len(types) > MAX_TYPES:
                errors.append(FieldError("types", f"at most {MAX_TYPES} event types"))
            elif ALL_TYPES not in types:
                try:
                    topics_for(types)
                except ValidationFailed as failed:
                    errors.extend(failed.errors)
            elif len(types) > 1:
                errors.append(FieldError("types", '"*" already means every type'))
        if errors:
            raise ValidationFailed(errors)
        return types

    @command
    def create(
        self,
        ctx: CommandContext,
        *,
        url: str,
        types: list[str],
        description: str | None,
        secret: str | None,
    ) -> Outcome[Webhook]:
        ctx.principal.require("webhooks:write")
        checked = self._check(url, types) or []
        if secret is not None and (problem := secret_problem(secret)):
            raise ValidationFailed([FieldError("secret", problem)])
        chosen = secret or new_secret()

        def build(webhook_id: UUID) -> list[Webhook]:
            with self.writer.begin() as conn:
                keep_secret(
                    conn,
                    webhook_id=str(webhook_id),
                    secret_id=_secret_id(webhook_id, ctx.command_id),
                    secret=chosen,
                    now=self.app.clock.now(),
                )
            return [Webhook.with_id(webhook_id, url=url, types=checked, description=description)]

        return self.app.create(ctx, Webhook, build)

    def secret_of(self, outcome: Outcome[Webhook], ctx: CommandContext) -> str:
        """The secret the command `ctx` made (create or rotate), for its answer only."""
        with self.writer.connect() as conn:
            found = secret_by_id(conn, _secret_id(outcome.record.id, ctx.command_id))
        if found is None:
            raise NotFound("the secret of this command is no longer available")
        return found

    @command
    def change(
        self,
        ctx: CommandContext,
        webhook_id: str,
        changes: dict[str, Any],
        enabled: bool | None,
        expected_version: int | None,
    ) -> Outcome[Webhook]:
        ctx.principal.require("webhooks:write")
        if "types" in changes:
            changes["types"] = self._check(None, changes["types"])
        if "url" in changes:
            self._check(changes["url"], None)

        def decide(webhook: Webhook) -> None:
            webhook.change_details(**changes)
            if enabled is True:
                webhook.enable()
            elif enabled is False:
                webhook.disable(DisabledBecause.REQUESTED)

        return self.app.change(ctx, webhook_id, Webhook, decide, expected_version=expected_version)

    @command
    def rotate_secret(
        self, ctx: CommandContext, webhook_id: str, expected_version: int | None
    ) -> Outcome[Webhook]:
        """A new secret signs from now on; the previous ones keep signing alongside it for the
        grace period, so receivers can switch without losing a delivery."""
        ctx.principal.require("webhooks:write")
        fresh = new_secret()

        def decide(webhook: Webhook) -> None:
            now = self.app.clock.now()
            until = now + self.grace
            webhook.rotate_secret(until)
            with self.writer.begin() as conn:
                keep_secret(
                    conn,
                    webhook_id=str(webhook.id),
                    secret_id=_secret_id(webhook.id, ctx.command_id),
                    secret=fresh,
                    now=now,
                    others_expire_at=until,
                )

        return self.app.change(ctx, webhook_id, Webhook, decide, expected_version=expected_version)

    @command
    def delete(
        self, ctx: CommandContext, webhook_id: str, expected_version: int | None
    ) -> Outcome[Webhook]:
        """Disable for good; the subscription and its delivery log stay readable."""
        ctx.principal.require("webhooks:write")
        return self.app.change(
            ctx,
            webhook_id,
            Webhook,
            lambda webhook: webhook.disable(DisabledBecause.DELETED),
            expected_version=expected_version,
        )

    def disable_gone(self, webhook_id: str, delivery_id: str) -> None:
        """The receiver answered 410: the system disables the subscription (once per
        delivery, whatever the retries)."""
        ctx = CommandContext(
            principal=SYSTEM,
            command_id=f"webhook-gone:{delivery_id}",
            correlation_id=f"webhook-delivery:{delivery_id}",
        )
        with suppress(DomainError):
            self.app.change(
                ctx, webhook_id, Webhook, lambda webhook: webhook.disable(DisabledBecause.GONE)
            )

    # reads

    def get(self, principal: Principal, webhook_id: str) -> Webhook:
        principal.require("webhooks:read")
        return self.app.load(webhook_id, Webhook)

    def redeliver(self, principal: Principal, webhook_id: str, delivery_id: str) -> dict[str, Any]:
        principal.require("webhooks:write")
        webhook = self.get(principal, webhook_id)
        with self.writer.begin() as conn:
            if not store.redeliver(conn, str(webhook.id), delivery_id, self.app.clock.now()):
                raise NotFound(f"delivery {delivery_id} not found")
            found = store.get_delivery(conn, str(webhook.id), delivery_id)
        assert found is not None
        return found
