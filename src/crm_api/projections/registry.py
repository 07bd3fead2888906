"""Every projection the service runs, by name."""

from __future__ import annotations

from crm_api.privacy.exports import ExportsProjection
from crm_api.projections.accounts import AccountsProjection
from crm_api.projections.alerts import AlertsProjection
from crm_api.projections.base import Projection
from crm_api.projections.catalog import CatalogProjection
from crm_api.projections.custom_fields import CustomFieldsProjection
from crm_api.projections.directory import DirectoryProjection
from crm_api.projections.forecasts import ForecastsProjection, ForecastVsActualProjection
from crm_api.projections.fulfilment import FulfilmentProjection
from crm_api.projections.inbound import InboundProjection
from crm_api.projections.insights import InsightsProjection
from crm_api.projections.kpis import KpisProjection
from crm_api.projections.opportunities import FunnelProjection, OpportunitiesProjection
from crm_api.projections.orders import OrdersProjection
from crm_api.projections.quotes import QuotesProjection
from crm_api.projections.receivables import ReceivablesProjection
from crm_api.projections.service import ServiceAnalyticsProjection, ServiceProjection
from crm_api.projections.timeline import TimelineProjection
from crm_api.projections.webhooks import WebhookDeliveriesProjection, WebhooksProjection
from crm_api.projections.work import WorkProjection

PROJECTIONS: dict[str, type[Projection]] = {
    p.name: p
    for p in (
        DirectoryProjection,
        AccountsProjection,
        CatalogProjection,
        QuotesProjection,
        OrdersProjection,
        OpportunitiesProjection,
        FunnelProjection,
        ForecastsProjection,
        ForecastVsActualProjection,
        FulfilmentProjection,
        ReceivablesProjection,
        WebhooksProjection,
        WebhookDeliveriesProjection,
        ServiceProjection,
        ServiceAnalyticsProjection,
        InboundProjection,
        WorkProjection,
        TimelineProjection,
        ExportsProjection,
        AlertsProjection,
        InsightsProjection,
        KpisProjection,
        CustomFieldsProjection,
    )
}
