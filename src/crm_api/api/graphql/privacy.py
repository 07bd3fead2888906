"""GraphQL for data protection: erasing a contact's personal data (as POST …/erase)."""

from __future__ import annotations

import strawberry
from anyio import to_thread

from crm_api.api.graphql.context import Info
from crm_api.api.graphql.inputs import validated
from crm_api.api.graphql.mutations import IdempotencyKey, _run
from crm_api.api.graphql.types import Contact
from crm_api.api.rest.contacts import ContactErasure
from crm_api.application.accounts import contact_view


@strawberry.type
class PrivacyMutation:
    @strawberry.mutation(
        description="Admins only: erase the contact's personal data everywhere by destroying "
        "its key; records ContactErased (who, when, why). reason: subject_request, "
        "retention_expired, legal_obligation or other."
    )
    async def erase_contact(
        self,
        info: Info,
        id: strawberry.ID,
        reason: str,
        reference: str | None = None,
        idempotency_key: IdempotencyKey = None,
    ) -> Contact:
        body = validated(ContactErasure, {"reason": reason, "reference": reference})
        erasure = info.context.services.erasure
        row = await _run(
            info,
            idempotency_key,
            lambda ctx: erasure.erase_contact(ctx, id, body.reason, body.reference),
            contact_view,
        )
        await to_thread.run_sync(erasure.scrub, row["id"])
        return Contact.from_row(row)
