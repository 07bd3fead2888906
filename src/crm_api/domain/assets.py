"""Assets: the installed base. An asset belongs to an account; it is one of our products
(`product_id`) or a foreign one (no product, but a `manufacturer` and a `model`). A serial
number is unique per product (per manufacturer for foreign assets)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from eventsourcing.domain import event

from crm_api.domain.custom_fields import Customisable
from crm_api.domain.errors import FieldError, ValidationFailed

SERIAL = "asset-serial"


def serial_key(product_id: str | None, manufacturer: str | None, serial_number: str) -> str:
    """What a serial number is unique within: the product, or the foreign manufacturer."""
    owner = f"product:{product_id}" if product_id else f"maker:{(manufacturer or '').strip()}"
    return f"{owner}:{serial_number.strip()}"


def _errors(fields: dict[str, Any]) -> list[FieldError]:
    errors = []
    if fields.get("product_id") is None:
        if not fields.get("manufacturer"):
            errors.append(FieldError("manufacturer", "a foreign asset (no product) needs one"))
        if not fields.get("model"):
            errors.append(FieldError("model", "a foreign asset (no product) needs one"))
    install, warranty = fields.get("install_date"), fields.get("warranty_end")
    if install is not None and warranty is not None and warranty < install:
        errors.append(FieldError("warranty_end", "must not be before install_date"))
    return errors


class Asset(Customisable):
    id: UUID
    kind = "asset"
    record_type = "assets"

    @event("Registered")
    def __init__(
        self,
        account_id: str,
        serial_number: str,
        asset_number: str | None,
        model: str | None,
        product_id: str | None,
        manufacturer: str | None,
        install_date: date | None,
        warranty_end: date | None,
    ) -> None:
        self.account_id = account_id
        self.serial_number = serial_number
        self.asset_number = asset_number
        self.model = model
        self.product_id = product_id
        self.manufacturer = manufacturer
        self.install_date = install_date
        self.warranty_end = warranty_end

    @classmethod
    def register(cls, asset_id: UUID, **fields: Any) -> Asset:
        errors = _errors(fields)
        if errors:
            raise ValidationFailed(errors)
        return cls.with_id(asset_id, **fields)

    @property
    def serial_key(self) -> str:
        return serial_key(self.product_id, self.manufacturer, self.serial_number)

    def details(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "serial_number": self.serial_number,
            "asset_number": self.asset_number,
            "model": self.model,
            "product_id": self.product_id,
            "manufacturer": self.manufacturer,
            "install_date": self.install_date,
            "warranty_end": self.warranty_end,
        }

    def change_details(self, **changes: Any) -> None:
        changes = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not changes:
            return
        errors = _errors({**self.details(), **changes})
        if errors:
            raise ValidationFailed(errors)
        self._details_changed(changes=changes)

    @event("DetailsChanged")
    def _details_changed(self, changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            setattr(self, key, value)
