"""Cross-cutting HTTP rules as ASGI middleware: body limits, Idempotency-Key, response headers."""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from uuid import uuid4

from anyio import to_thread
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from crm_api.api.rest.deps import authenticate_request
from crm_api.application.idempotency import Claimed, InFlight, Mismatch, Replay, command_id_for
from crm_api.domain.errors import DomainError
from crm_api.errors import PROBLEM_JSON, count_problem, problem_body

OUTCOME_NAMES = {
    Claimed: "claimed",
    Replay: "replayed",
    Mismatch: "mismatch",
    InFlight: "in_flight",
}
REPLAYED_HEADERS = ("etag", "location", "x-log-position", "content-type")


async def send_problem(
    scope: Scope, send: Send, status: int, code: str, title: str, detail: str
) -> None:
    if "app" in scope:
        count_problem(scope["app"], status, code)
    body = json.dumps(problem_body(status, code, title, detail)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_JSON.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class TooLarge(HTTPException):
    """An HTTP exception, so FastAPI's body parsing passes it on as a 413 instead of a 400."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"bodies are limited to {limit} bytes")


class MalformedContentLength:
    """400 for a Content-Length that is not a number, before anything reads it (the metrics
    middleware parses it as an int after the response, and raised). uvicorn refuses such
    requests itself; this covers every other way in (other servers, in-process clients)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            declared = [v for k, v in scope["headers"] if k.lower() == b"content-length"]
            if any(not v.strip().isdigit() for v in declared):
                await send_problem(
                    scope,
                    send,
                    400,
                    "bad_request",
                    "Bad request",
                    "the Content-Length header is not a number",
                )
                return
        await self.app(scope, receive, send)


class RequestLimits:
    """400 for NUL characters in the path or query (nothing legitimate sends them, and
    PostgreSQL cannot compare text with them); 413 for bodies over the limit, whether
    announced by Content-Length or streamed. `upload_limits` raise the limit for the POSTs
    to paths matching a pattern (file uploads, inbound email), which check their own files."""

    def __init__(
        self,
        app: ASGIApp,
        limit: int,
        batch_limit: int,
        upload_limits: dict[str, int] | None = None,
    ) -> None:
        self.app = app
        self.limit = limit
        self.batch_limit = batch_limit
        self.upload_limits = [
            (re.compile(pattern), size) for pattern, size in (upload_limits or {}).items()
        ]

    def _limit_for(self, scope: Scope) -> int:
        path = scope["path"]
        if scope["method"] == "POST":
            for pattern, size in self.upload_limits:
                if pattern.match(path):
                    return size
        return self.batch_limit if path.endswith(":batch") else self.limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = scope.get("query_string", b"").lower()
        if "\x00" in scope["path"] or b"%00" in query or b"\x00" in query:
            await send_problem(
                scope,
                send,
                400,
                "invalid_characters",
                "Invalid characters",
                "the path or query string contains a NUL character",
            )
            return
        limit = self._limit_for(scope)
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _too_large(scope, send, limit)
            return
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise TooLarge(limit)
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except TooLarge:
            if not started:
                await _too_large(scope, send, limit)


async def _too_large(scope: Scope, send: Send, limit: int) -> None:
    await send_problem(
        scope,
        send,
        413,
        "payload_too_large",
        "Payload too large",
        f"bodies are limited to {limit} bytes",
    )


class ResponseHeaders:
    """Every response names its workspace (`X-Workspace: <name>`, and `X-CRM-Workspace:
    <name>; kind=training|live` from the workspace marker) and its request id."""

    def __init__(self, app: ASGIApp, workspace: str) -> None:
        self.app = app
        self.workspace = workspace.encode()
        self.described: tuple[bytes, bytes] | None = None

    def _describe(self, scope: Scope) -> tuple[bytes, bytes]:
        if self.described is None:
            services = getattr(scope["app"].state, "services", None) if "app" in scope else None
            marked = getattr(services, "workspace", None)
            if marked is None:
                return self.workspace, self.workspace + b"; kind=live"
            self.described = (marked.name.encode(), marked.header.encode())
        return self.described

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        name, described = self._describe(scope)

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *message.get("headers", []),
                    (b"x-workspace", name),
                    (b"x-crm-workspace", described),
                    (b"x-request-id", request_id.encode()),
                ]
            await send(message)

        await self.app(scope, receive, with_headers)


class Idempotency:
    """Same key + same request → the first answer again; different request → 422; still
    running → 409. The key also fixes the command id, so a retry never records twice."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        key = headers.get("idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        if not key or len(key) > 255:
            await send_problem(
                scope,
                send,
                400,
                "invalid_idempotency_key",
                "Invalid Idempotency-Key",
                "Idempotency-Key must be 1 to 255 characters",
            )
            return
        body = await _read_body(receive)
        services = scope["app"].state.services
        principal = await self._principal(scope, services, headers)
        if principal is None:
            await self.app(scope, _replay_body(body, receive), send)
            return
        request_hash = hashlib.sha256(
            b"\n".join(
                [
                    scope["path"].encode(),
                    scope.get("query_string", b""),
                    headers.get("x-on-behalf-of", "").encode(),
                    body,
                ]
            )
        ).hexdigest()
        outcome = await to_thread.run_sync(
            services.idempotency.claim, principal.id, key, request_hash, services.clock.now()
        )
        metrics = getattr(scope["app"].state, "metrics", None)
        if metrics is not None:
            metrics.idempotency_outcome(OUTCOME_NAMES[type(outcome)])
        if isinstance(outcome, Mismatch):
            await send_problem(
                scope,
                send,
                422,
                "idempotency_key_reused",
                "Idempotency-Key reused",
                "this Idempotency-Key was used with a different request; use a new key",
            )
            return
        if isinstance(outcome, InFlight):
            await send_problem(
                scope,
                send,
                409,
                "idempotency_key_in_flight",
                "Request in progress",
                "a request with this Idempotency-Key is still running; retry later",
            )
            return
        if isinstance(outcome, Replay):
            await _send_replay(send, outcome)
            return
        assert isinstance(outcome, Claimed)
        scope["state"]["command_id"] = command_id_for(principal.id, key)
        await self._run_and_keep(
            scope, _replay_body(body, receive), send, services, principal.id, key
        )

    async def _principal(self, scope: Scope, services: Any, headers: dict[str, str]) -> Any:
        try:
            return await to_thread.run_sync(authenticate_request, Request(scope), services)
        except DomainError:
            return None

    async def _run_and_keep(
        self, scope: Scope, receive: Receive, send: Send, services: Any, principal_id: str, key: str
    ) -> None:
        status = 500
        kept_headers: dict[str, str] = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                for name, value in message.get("headers", []):
                    if name.decode("latin-1").lower() in REPLAYED_HEADERS:
                        kept_headers[name.decode("latin-1").lower()] = value.decode("latin-1")
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, receive, capture)
        except BaseException:
            await to_thread.run_sync(services.idempotency.release, principal_id, key)
            raise
        if status >= 500:
            await to_thread.run_sync(services.idempotency.release, principal_id, key)
        else:
            await to_thread.run_sync(
                services.idempotency.complete,
                principal_id,
                key,
                status,
                kept_headers,
                b"".join(chunks),
            )


async def _read_body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay_body(body: bytes, receive: Receive) -> Receive:
    """Hand the already-read body to the app once; after that, wait on the real connection."""
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _send_replay(send: Send, replay: Replay) -> None:
    headers = [(k.encode(), v.encode()) for k, v in replay.headers.items()]
    headers.append((b"content-length", str(len(replay.body)).encode()))
    headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": replay.status, "headers": headers})
    await send({"type": "http.response.body", "body": replay.body})
