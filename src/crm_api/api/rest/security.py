"""Transport security headers on every response, and the CORS allow-list for browsers."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HSTS = b"max-age=63072000; includeSubDomains"
SECURE_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"frame-ancestors 'none'"),
]
CORS_REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "If-Match",
    "Idempotency-Key",
    "X-On-Behalf-Of",
    "X-Correlation-Id",
]
CORS_EXPOSED_HEADERS = [
    "ETag",
    "Location",
    "X-Log-Position",
    "X-Request-Id",
    "X-Workspace",
    "X-CRM-Workspace",
    "X-Export-Id",
    "Idempotent-Replayed",
    "Retry-After",
    "Content-Disposition",
]


class SecurityHeaders:
    """nosniff, no referrer, never framed; HSTS when the request came over https (uvicorn with
    --ssl-*, or a proxy whose X-Forwarded-Proto uvicorn trusts) or when `always_hsts` says
    TLS ends in front of us. Plain-http requests get no HSTS: browsers ignore it there."""

    def __init__(self, app: ASGIApp, always_hsts: bool = False) -> None:
        self.app = app
        self.always_hsts = always_hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        extra = list(SECURE_HEADERS)
        if self.always_hsts or scope.get("scheme") == "https":
            extra.append((b"strict-transport-security", HSTS))

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message["headers"] = [
                    *message.get("headers", []),
                    *[(name, value) for name, value in extra if name not in present],
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


def cors_origins(setting: str) -> list[str]:
    return [origin.strip().rstrip("/") for origin in setting.split(",") if origin.strip()]


def allow_cross_origin(app: FastAPI, setting: str) -> None:
    """Browsers on these origins may call the API (bearer tokens, no cookies); without any,
    no CORS headers are sent and browsers refuse cross-origin calls."""
    origins = cors_origins(setting)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=CORS_REQUEST_HEADERS,
            expose_headers=CORS_EXPOSED_HEADERS,
            allow_credentials=False,
            max_age=600,
        )
