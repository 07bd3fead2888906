"""Per-client rate limits (REST and GraphQL) with the `limits` library: a moving window per
authenticated principal (user id or API key id), or per client IP when a request carries no
valid credentials. Past the limit: 429 `rate_limited` with `Retry-After`; every counted response
carries `RateLimit-Limit`, `RateLimit-Remaining` and `RateLimit-Reset` (seconds).

The window lives in `CRM_RATE_LIMIT_STORAGE`: `memory://` counts per process; several API
processes share one count through `redis://host:port` (needs the `redis` extra)."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from anyio import to_thread
from limits import RateLimitItem, parse_many
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_api.api.rest.deps import authenticate_request
from crm_api.domain.errors import DomainError
from crm_api.errors import PROBLEM_JSON, count_problem, problem_body

EXEMPT_PATHS = frozenset({"/health", "/ready", "/metrics"})


def parse_rate_limit(text: str) -> list[RateLimitItem]:
    """`600/minute`, `10 per second`, or several separated by `;` (all apply). Empty or
    `off`: no limit."""
    text = text.strip()
    if not text or text.lower() == "off":
        return []
    return list(parse_many(text))


def async_storage_uri(uri: str) -> str:
    """The asyncio variant of a storage URI: `memory://` → `async+memory://`."""
    uri = uri.strip()
    return uri if uri.startswith("async+") else f"async+{uri}"


@dataclass(frozen=True)
class Window:
    item: RateLimitItem
    limit: int
    remaining: int
    reset_seconds: int


class RateLimit:
    """ASGI middleware. `namespace` keeps the counts of workspaces sharing one storage apart.
    Exempt: /health, /ready, /metrics and anything that is not plain HTTP (WebSockets)."""

    def __init__(
        self,
        app: ASGIApp,
        limits: Sequence[RateLimitItem],
        storage_uri: str = "memory://",
        namespace: str = "crm",
    ) -> None:
        self.app = app
        self.limits = list(limits)
        self.namespace = namespace
        self.limiter = (
            MovingWindowRateLimiter(storage_from_string(async_storage_uri(storage_uri)))
            if self.limits
            else None
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.limiter is None or scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        client = await self._client_key(scope)
        refused: Window | None = None
        tightest: Window | None = None
        for item in self.limits:
            allowed = await self.limiter.hit(item, self.namespace, client)
            window = await self._window(item, client)
            if not allowed:
                refused = window
                break
            if tightest is None or window.remaining < tightest.remaining:
                tightest = window
        if refused is not None:
            await _send_rate_limited(scope, send, refused)
            return
        assert tightest is not None
        headers = _headers(tightest)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *headers]
            await send(message)

        await self.app(scope, receive, with_headers)

    async def _window(self, item: RateLimitItem, client: str) -> Window:
        assert self.limiter is not None
        stats = await self.limiter.get_window_stats(item, self.namespace, client)
        return Window(
            item=item,
            limit=item.amount,
            remaining=max(stats.remaining, 0),
            reset_seconds=max(math.ceil(stats.reset_time - time.time()), 0),
        )

    async def _client_key(self, scope: Scope) -> str:
        """The authenticated principal; the client address when the request has no valid
        credentials (so invalid tokens cannot spread their requests over fresh buckets). The
        principal is cached on the request for the route, which authenticates anyway."""
        services = getattr(scope["app"].state, "services", None) if "app" in scope else None
        has_credentials = any(name == b"authorization" for name, _ in scope["headers"])
        if services is not None and has_credentials:
            try:
                principal = await to_thread.run_sync(authenticate_request, Request(scope), services)
            except DomainError:
                pass
            else:
                return f"{principal.kind}:{principal.id}"
        host = (scope.get("client") or ("unknown", 0))[0]
        return f"ip:{host}"


def _headers(window: Window) -> list[tuple[bytes, bytes]]:
    return [
        (b"ratelimit-limit", str(window.limit).encode()),
        (b"ratelimit-remaining", str(window.remaining).encode()),
        (b"ratelimit-reset", str(window.reset_seconds).encode()),
    ]


async def _send_rate_limited(scope: Scope, send: Send, window: Window) -> None:
    retry_after = max(window.reset_seconds, 1)
    if "app" in scope:
        count_problem(scope["app"], 429, "rate_limited")
    body = json.dumps(
        problem_body(
            429,
            "rate_limited",
            "Too many requests",
            f"this client may send at most {window.item}; retry in {retry_after} s",
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
                *_headers(Window(window.item, window.limit, 0, retry_after)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
