"""Webhook delivery: the event log is the outbox.

A projection (projections/webhooks.py) writes one `webhook_deliveries` row per subscription
and matching event, exactly once, in the same transaction as its tracking row. The Deliverer
below sends the rows that are due, signed per Standard Webhooks, and records each attempt:

- a row is claimed with a lease (`claimed_until`) before it is sent, under `FOR UPDATE SKIP
  LOCKED` on PostgreSQL (SQLite has one writer), so deliverers in several processes never send
  one row at the same time; a deliverer that dies mid-way leaves claims that expire;
- per (subscription, record), a row is not sent while an earlier one is not delivered;
- 2xx delivers; 410 disables the subscription (an event); anything else is retried with
  exponential backoff and full jitter until `CRM_WEBHOOK_MAX_ATTEMPTS`, then `failed`
  (POST …/redeliver sends it again).

Every time decision uses the injected clock; only `webhook-timestamp` is the wall clock,
since receivers compare it with theirs to refuse replays.
"""

from __future__ import annotations

import base64
import binascii
import logging
import random
import secrets as token_source
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol
from uuid import uuid4

import httpx
from sqlalchemy import Connection, Engine, Select, and_, exists, or_, select, update
from standardwebhooks import Webhook as Signer

from crm_api import __version__
from crm_api.domain.context import Clock, SystemClock
from crm_api.integrations.event_feed import EventFeed
from crm_api.integrations.ssrf import UrlGuard, UrlRefused
from crm_api.projections.webhooks import (
    DELIVERED,
    FAILED,
    PENDING,
    webhook_deliveries,
    webhook_secrets,
    webhook_subscriptions,
)

log = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
RETRY_BASE_SECONDS = 5.0
RETRY_CAP_SECONDS = 3600.0
RETRY_FLOOR_SECONDS = 1.0
CLAIM_BATCH = 20
MAX_ROUNDS = 500


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(token_source.token_bytes(SECRET_BYTES)).decode()


def secret_problem(secret: str) -> str | None:
    """Why a caller's secret is not usable (None when it is): `whsec_` and base64 of 24–64
    bytes, as Standard Webhooks asks."""
    if not secret.startswith(SECRET_PREFIX):
        return f"must start with {SECRET_PREFIX}"
    try:
        key = base64.b64decode(secret[len(SECRET_PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return f"must be {SECRET_PREFIX} followed by base64"
    if not 24 <= len(key) <= 64:
        return "must encode between 24 and 64 random bytes"
    return None


def keep_secret(
    conn: Connection,
    *,
    webhook_id: str,
    secret_id: str,
    secret: str,
    now: datetime,
    others_expire_at: datetime | None = None,
) -> None:
    """Store a signing secret (once per secret id); with `others_expire_at`, the webhook's
    other secrets stop signing then (rotation's grace period)."""
    present = conn.execute(
        select(webhook_secrets.c.id).where(webhook_secrets.c.id == secret_id)
    ).first()
    if present is None:
        conn.execute(
            webhook_secrets.insert().values(
                id=secret_id, webhook_id=webhook_id, secret=secret, created_at=now
            )
        )
    if others_expire_at is not None:
        conn.execute(
            update(webhook_secrets)
            .where(
                webhook_secrets.c.webhook_id == webhook_id,
                webhook_secrets.c.id != secret_id,
                or_(
                    webhook_secrets.c.expires_at.is_(None),
                    webhook_secrets.c.expires_at > others_expire_at,
                ),
            )
            .values(expires_at=others_expire_at)
        )


def secret_by_id(conn: Connection, secret_id: str) -> str | None:
    return conn.execute(
        select(webhook_secrets.c.secret).where(webhook_secrets.c.id == secret_id)
    ).scalar()


def signing_secrets(conn: Connection, webhook_id: str, now: datetime) -> list[str]:
    """The secrets that sign now, newest first."""
    return list(
        conn.execute(
            select(webhook_secrets.c.secret)
            .where(
                webhook_secrets.c.webhook_id == webhook_id,
                or_(webhook_secrets.c.expires_at.is_(None), webhook_secrets.c.expires_at > now),
            )
            .order_by(webhook_secrets.c.created_at.desc(), webhook_secrets.c.id)
        ).scalars()
    )


def sign(secrets: list[str], message_id: str, timestamp: datetime, body: str) -> str:
    """`webhook-signature`: one `v1,<base64>` per secret, space-separated."""
    return " ".join(Signer(s).sign(message_id, timestamp, body) for s in secrets)


def retry_delay(attempts: int, rng: random.Random) -> timedelta:
    """Full jitter: uniform in [0, min(cap, base·2^(attempts−1))], at least a second."""
    ceiling = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** (attempts - 1))
    return timedelta(seconds=max(RETRY_FLOOR_SECONDS, rng.uniform(0, ceiling)))


class Observer(Protocol):
    def webhook_delivery(self, outcome: str) -> None: ...


class _NoObserver:
    def webhook_delivery(self, outcome: str) -> None:
        pass


@dataclass(frozen=True)
class Claim:
    id: str
    webhook_id: str
    position: int
    attempts: int
    url: str


@dataclass(frozen=True)
class Attempt:
    outcome: str
    """delivered, retry, failed (gave up), gone (410), blocked (SSRF guard; retried)."""
    status_code: int | None = None
    error: str | None = None


def _due(now: datetime, limit: int) -> Select[Any]:
    """Deliveries to send now: pending, due, not leased, of an active subscription, and the
    earliest undelivered one of their (subscription, record)."""
    d = webhook_deliveries
    earlier = d.alias("earlier")
    subs = webhook_subscriptions
    blocked = exists().where(
        earlier.c.webhook_id == d.c.webhook_id,
        earlier.c.record_id == d.c.record_id,
        earlier.c.position < d.c.position,
        earlier.c.status != DELIVERED,
    )
    return (
        select(d.c.id, d.c.webhook_id, d.c.position, d.c.attempts, subs.c.url)
        .join(subs, subs.c.id == d.c.webhook_id)
        .where(
            d.c.status == PENDING,
            d.c.next_attempt_at <= now,
            or_(d.c.claimed_until.is_(None), d.c.claimed_until <= now),
            subs.c.status == "active",
            ~blocked,
        )
        .order_by(d.c.position)
        .limit(limit)
    )


class Deliverer:
    def __init__(
        self,
        *,
        feed: EventFeed,
        writer: Engine,
        reader: Engine | None = None,
        clock: Clock,
        guard: UrlGuard,
        disable_gone: Callable[[str, str], None],
        max_attempts: int,
        timeout: float,
        wall_clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.feed = feed
        self.writer = writer
        self.reader = reader or writer
        self.clock = clock
        self.wall_clock = wall_clock or SystemClock()
        self.guard = guard
        self.disable_gone = disable_gone
        self.max_attempts = max_attempts
        self.timeout = timeout
        self.rng = rng or random.Random()
        self.lease = timedelta(seconds=CLAIM_BATCH * (timeout + 1) + 60)
        self.name = f"deliverer-{uuid4().hex[:12]}"
        self.is_postgres = writer.dialect.name == "postgresql"
        self.observer: Observer = _NoObserver()
        self.http = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            trust_env=False,
            headers={"user-agent": f"crm_api-webhooks/{__version__}"},
        )

    def deliver_due(self, now: datetime | None = None) -> int:
        """Send every delivery due at `now` (the clock's now by default), round after round
        (a delivered event lets the record's next one go); returns the attempts made."""
        made = 0
        for _ in range(MAX_ROUNDS):
            current = now or self.clock.now()
            if not self._any_due(current):
                break
            claims = self.claim(current)
            if not claims:
                break
            for claim in claims:
                self.attempt(claim, current)
                made += 1
        return made

    def _any_due(self, now: datetime) -> bool:
        """The same question as `claim`, asked without a write lock (SQLite's writer
        transactions are exclusive): most rounds find nothing to do."""
        with self.reader.connect() as conn:
            return conn.execute(_due(now, 1)).first() is not None

    def claim(self, now: datetime, limit: int = CLAIM_BATCH) -> list[Claim]:
        """Lease the next due deliveries to this deliverer."""
        d = webhook_deliveries
        query = _due(now, limit)
        if self.is_postgres:
            query = query.with_for_update(of=d, skip_locked=True)
        with self.writer.begin() as conn:
            rows = conn.execute(query).all()
            if not rows:
                return []
            conn.execute(
                update(d)
                .where(d.c.id.in_([r.id for r in rows]))
                .values(claimed_until=now + self.lease, claimed_by=self.name)
            )
        return [Claim(r.id, r.webhook_id, r.position, r.attempts, r.url) for r in rows]

    def attempt(self, claim: Claim, now: datetime) -> Attempt:
        result = self._send(claim, now)
        self._record(claim, result, now)
        self.observer.webhook_delivery(result.outcome)
        if result.outcome == "gone":
            try:
                self.disable_gone(claim.webhook_id, claim.id)
            except Exception:
                log.exception("could not disable webhook %s after 410", claim.webhook_id)
        return result

    def _send(self, claim: Claim, now: datetime) -> Attempt:
        body = self.feed.at(claim.position)
        if body is None:
            return self._failed(claim, None, f"no event at position {claim.position}")
        try:
            self.guard.check(claim.url)
        except UrlRefused as refused:
            return self._failed(claim, None, f"blocked: {refused}", outcome="blocked")
        with self.writer.connect() as conn:
            keys = signing_secrets(conn, claim.webhook_id, now)
        if not keys:
            return self._failed(claim, None, "the webhook has no signing secret")
        timestamp = self.wall_clock.now()
        text = body.decode()
        headers = {
            "content-type": "application/cloudevents+json; charset=utf-8",
            "webhook-id": claim.id,
            "webhook-timestamp": str(int(timestamp.timestamp())),
            "webhook-signature": sign(keys, claim.id, timestamp, text),
        }
        try:
            response = self.http.post(claim.url, content=body, headers=headers)
        except httpx.TimeoutException:
            return self._failed(claim, None, f"timed out after {self.timeout:g} s")
        except httpx.HTTPError as error:
            return self._failed(claim, None, f"{type(error).__name__}: {error}"[:500])
        status = response.status_code
        if 200 <= status < 300:
            return Attempt("delivered", status)
        if status == 410:
            return Attempt("gone", status, "the receiver answered 410 Gone; webhook disabled")
        return self._failed(claim, status, f"HTTP {status}")

    def _failed(
        self, claim: Claim, status: int | None, error: str, outcome: str = "retry"
    ) -> Attempt:
        if claim.attempts + 1 >= self.max_attempts:
            return Attempt("failed", status, f"{error} (gave up after {claim.attempts + 1})")
        return Attempt(outcome, status, error)

    def _record(self, claim: Claim, result: Attempt, now: datetime) -> None:
        attempts = claim.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_attempt_at": now,
            "last_status_code": result.status_code,
            "last_error": result.error,
            "claimed_until": None,
            "claimed_by": None,
        }
        if result.outcome == "delivered":
            values.update(status=DELIVERED, delivered_at=now)
        elif result.outcome in ("failed", "gone"):
            values.update(status=FAILED)
        else:
            values.update(next_attempt_at=now + retry_delay(attempts, self.rng))
        d = webhook_deliveries
        with self.writer.begin() as conn:
            conn.execute(
                update(d)
                .where(and_(d.c.id == claim.id, d.c.claimed_by == self.name))
                .values(**values)
            )

    def run_forever(self, stop: threading.Event, wait: Callable[[float], None]) -> None:
        """The deliverer thread: deliver what is due, then wait for the log to move or a
        second to pass."""
        failures = 0
        while not stop.is_set():
            try:
                made = self.deliver_due()
                failures = 0
            except Exception:
                failures += 1
                log.exception("webhook delivery round failed; will retry")
                stop.wait(min(30.0, 0.5 * 2 ** min(failures, 6)))
                continue
            if made == 0:
                wait(1.0)

    def close(self) -> None:
        self.http.close()
