"""Metrics (Prometheus) and structured logs (structlog) — what operators see.

Per-route request counts and latencies come from prometheus-fastapi-instrumentator; the
domain-level series (commands, events, projections, idempotency, problems) are defined here and
fed through the small observer interface the application and runners call. Each app has its own
registry, so several apps in one process (tests) never collide.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Iterable
from typing import Any

import structlog
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REDACTED = "[redacted]"
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "token",
        "access_token",
        "password",
        "secret",
        "api_key",
        "jwt",
        "cookie",
        "email",
        "phone",
        "name",
        "birth_year",
        "address",
        "body",
    }
)


class Metrics:
    """The domain-level series, in one registry per app."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.commands = Counter(
            "crm_commands_total",
            "Commands run, by command and outcome (ok, replayed, or the problem code)",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.events_appended = Counter(
            "crm_events_appended_total", "Events recorded by this process", registry=self.registry
        )
        self.batch_size = Histogram(
            "crm_projection_batch_events",
            "Events applied per projection batch",
            ["projection"],
            buckets=(1, 5, 10, 50, 100, 250, 500, 1000, 5000),
            registry=self.registry,
        )
        self.projection_failures = Counter(
            "crm_projection_failures_total",
            "Failed projection batches (rolled back)",
            ["projection"],
            registry=self.registry,
        )
        self.projection_lag = Histogram(
            "crm_projection_apply_lag_seconds",
            "Seconds from an event's recording to the commit of the batch that applied it, "
            "per projection and event",
            ["projection"],
            buckets=(
                0.001,
                0.0025,
                0.005,
                0.01,
                0.02,
                0.03,
                0.05,
                0.075,
                0.1,
                0.25,
                0.5,
                1,
                2.5,
                5,
                10,
                30,
            ),
            registry=self.registry,
        )
        self.idempotency = Counter(
            "crm_idempotency_requests_total",
            "POSTs with an Idempotency-Key, by outcome (claimed, replayed, mismatch, in_flight)",
            ["outcome"],
            registry=self.registry,
        )
        self.problems = Counter(
            "crm_problems_total",
            "Problem answers (4xx/5xx) by status and code",
            ["status", "code"],
            registry=self.registry,
        )
        self.webhook_deliveries = Counter(
            "crm_webhook_deliveries_total",
            "Webhook delivery attempts by outcome (delivered, retry, blocked, gone, failed)",
            ["outcome"],
            registry=self.registry,
        )

    # the observer interface used by the application, runners and transports

    def command(self, name: str, outcome: str) -> None:
        self.commands.labels(name, outcome).inc()

    def appended(self, count: int) -> None:
        self.events_appended.inc(count)

    def batch(self, projection: str, events: int) -> None:
        self.batch_size.labels(projection).observe(events)

    def projection_failed(self, projection: str) -> None:
        self.projection_failures.labels(projection).inc()

    def lag(self, projection: str, seconds: float) -> None:
        self.projection_lag.labels(projection).observe(max(seconds, 0.0))

    def idempotency_outcome(self, outcome: str) -> None:
        self.idempotency.labels(outcome).inc()

    def problem(self, status: int, code: str) -> None:
        self.problems.labels(str(status), code).inc()

    def webhook_delivery(self, outcome: str) -> None:
        self.webhook_deliveries.labels(outcome).inc()

    def watch_projections(self, status: Any) -> None:
        """`status()` returns ProjectionStatus rows; read at scrape time."""
        self.registry.register(ProjectionCollector(status))


class ProjectionCollector(Collector):
    def __init__(self, status: Any) -> None:
        self.status = status

    def collect(self) -> Iterable[GaugeMetricFamily]:
        position = GaugeMetricFamily(
            "crm_projection_position", "Last log position applied", labels=["projection"]
        )
        lag = GaugeMetricFamily(
            "crm_projection_lag_events", "Events in the log not yet applied", labels=["projection"]
        )
        lag_seconds = GaugeMetricFamily(
            "crm_projection_lag_seconds",
            "Age of the oldest event not yet applied (0 when caught up)",
            labels=["projection"],
        )
        paused = GaugeMetricFamily(
            "crm_projection_paused", "1 when paused after repeated failures", labels=["projection"]
        )
        head = GaugeMetricFamily("crm_log_head", "The newest log position")
        rows = self.status()
        for row in rows:
            position.add_metric([row.name], row.position)
            lag.add_metric([row.name], row.lag)
            lag_seconds.add_metric([row.name], row.lag_seconds)
            paused.add_metric([row.name], 1.0 if row.paused else 0.0)
        head.add_metric([], rows[0].head if rows else 0)
        yield from (position, lag, lag_seconds, paused, head)

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return []


def _redact(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    for key in list(event):
        if key.lower() in SENSITIVE_KEYS:
            event[key] = REDACTED
    return event


SHARED_PROCESSORS: list[Any] = [
    structlog.contextvars.merge_contextvars,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    structlog.processors.TimeStamper(fmt="iso", utc=True),
    _redact,
]


def route_structlog_to_stdlib() -> None:
    """structlog events go through the standard library's logging, wherever that points."""
    structlog.configure(
        processors=[*SHARED_PROCESSORS, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on stdout; the standard library's records go through the same pipeline."""
    route_structlog_to_stdlib()
    shared = SHARED_PROCESSORS
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                structlog.processors.JSONRenderer(),
            ],
        )
    )
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for noisy in ("uvicorn.access",):
        logging.getLogger(noisy).disabled = True


access_log = structlog.get_logger("crm_api.access")


class AccessLog:
    """One structured line per request: ids, actor, route template, status, duration.
    Headers, query strings and bodies are never logged (they carry tokens and personal data)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            state = scope.get("state", {})
            principal = state.get("principal")
            route = scope.get("route")
            access_log.info(
                "request",
                request_id=state.get("request_id"),
                correlation_id=_header(scope, b"x-correlation-id") or state.get("request_id"),
                actor=getattr(principal, "id", None),
                on_behalf_of=getattr(principal, "on_behalf_of", None),
                method=scope["method"],
                route=getattr(route, "path", None) or "unmatched",
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            text = value.decode("latin-1")
            return text if len(text) <= 128 and text.isprintable() else None
    return None
