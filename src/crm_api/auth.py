"""Authentication: bearer JWTs (HS256 or RS256) and hashed API keys; the principal they name.

The users read model is the authority for a user's role, team and assists; a token whose `sub`
has no user record is accepted only when it claims `"roles": ["admin"]` (bootstrap).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import jwt
from sqlalchemy import JSON, Column, Connection, String, Table, select, update

from crm_api.db import UTCDateTime, metadata
from crm_api.domain.errors import DomainError, FieldError, PermissionDenied, ValidationFailed
from crm_api.domain.people import (
    ALL_SCOPES,
    Principal,
    Role,
    check_on_behalf_of,
    visible_owners_for,
)
from crm_api.projections.directory import get_user, team_member_ids
from crm_api.settings import Settings

API_KEY_PREFIX = "crmk_"
API_KEY_ROLES = (Role.INTEGRATOR, Role.AUDITOR, Role.SERVICE_AGENT, Role.ADMIN)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    Column("role", String(32), nullable=False),
    Column("scopes", JSON, nullable=False),
    Column("created_by", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
    Column("last_used_at", UTCDateTime, nullable=True),
)


class Unauthenticated(DomainError):
    code = "unauthenticated"
    title = "Authentication required"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewApiKey:
    record: dict[str, Any]
    token: str


def create_api_key(
    conn: Connection, *, name: str, role: Role, scopes: list[str], created_by: str, now: datetime
) -> NewApiKey:
    errors = []
    if role not in API_KEY_ROLES:
        errors.append(FieldError("role", f"API keys may have role {', '.join(API_KEY_ROLES)}"))
    for i, scope in enumerate(scopes):
        if scope != "*" and scope not in ALL_SCOPES:
            errors.append(FieldError(f"scopes[{i}]", f"unknown scope '{scope}'"))
    if errors:
        raise ValidationFailed(errors)
    key_id = uuid4()
    secret = secrets.token_urlsafe(32)
    record = {
        "id": str(key_id),
        "name": name,
        "secret_hash": _hash(secret),
        "role": role.value,
        "scopes": sorted(set(scopes)),
        "created_by": created_by,
        "created_at": now,
        "revoked_at": None,
        "last_used_at": None,
    }
    conn.execute(api_keys.insert().values(**record))
    return NewApiKey(record, f"{API_KEY_PREFIX}{key_id.hex}_{secret}")


def revoke_api_key(conn: Connection, key_id: str, now: datetime) -> bool:
    return (
        conn.execute(
            update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        ).rowcount
        == 1
    )


def mint_token(
    settings: Settings,
    user_id: str,
    *,
    roles: list[str] | None = None,
    ttl: timedelta = timedelta(hours=12),
    now: datetime,
) -> str:
    claims: dict[str, Any] = {"sub": user_id, "iat": now, "exp": now + ttl}
    if roles:
        claims["roles"] = roles
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    return jwt.encode(claims, settings.jwt_secret, algorithm="HS256")


class Authenticator:
    def __init__(self, settings: Settings, *, training: bool | None = None) -> None:
        self.settings = settings
        self.training = settings.workspace_training if training is None else training
        """A training workspace: every principal keeps its identity but has full rights and
        sees every owner's records."""

    def authenticate(
        self,
        conn: Connection,
        authorization: str | None,
        on_behalf_of: str | None,
        now: datetime,
    ) -> Principal:
        if not authorization:
            raise Unauthenticated("send Authorization: Bearer <JWT or API key>")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
        if token.startswith(API_KEY_PREFIX):
            principal = self._api_key(conn, token, now)
        else:
            principal = self._jwt(conn, token, now)
        if on_behalf_of:
            principal = self._acting_for(conn, principal, on_behalf_of.strip())
        return principal

    def _api_key(self, conn: Connection, token: str, now: datetime) -> Principal:
        key_hex, _, secret = token[len(API_KEY_PREFIX) :].partition("_")
        try:
            key_id = str(UUID(hex=key_hex))
        except ValueError:
            raise Unauthenticated("the API key is malformed") from None
        row = conn.execute(select(api_keys).where(api_keys.c.id == key_id)).first()
        if row is None or not hmac.compare_digest(row.secret_hash, _hash(secret)):
            raise Unauthenticated("the API key is not valid")
        if row.revoked_at is not None:
            raise Unauthenticated("the API key has been revoked")
        role = Role(row.role)
        return Principal(
            id=row.id,
            kind="api_key",
            role=role,
            name=row.name,
            scopes=frozenset(row.scopes),
            visible_owners=None,
            training=self.training,
        )

    def _jwt(self, conn: Connection, token: str, now: datetime) -> Principal:
        if self.settings.jwt_public_key:
            key, algorithms = self.settings.jwt_public_key, ["RS256"]
        else:
            key, algorithms = self.settings.jwt_secret, ["HS256"]
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=algorithms,
                audience=self.settings.jwt_audience,
                options={"require": ["exp", "sub"], "verify_iat": False},
                leeway=30,
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the token has expired") from None
        except jwt.PyJWTError as error:
            raise Unauthenticated(f"the token is not valid: {error}") from None
        subject = str(claims["sub"])
        user = get_user(conn, subject)
        training = self.training
        if user is None:
            if claims.get("roles") == ["admin"] or "admin" in (claims.get("roles") or []):
                return Principal(
                    id=subject, kind="user", role=Role.ADMIN, visible_owners=None, training=training
                )
            raise Unauthenticated("the token's subject is not a user")
        if not user["active"]:
            raise Unauthenticated("the user is deactivated")
        role = Role(user["role"])
        managed: frozenset[str] = frozenset()
        members: frozenset[str] = frozenset()
        if role is Role.MANAGER:
            managed, members = team_member_ids(conn, subject)
        return Principal(
            id=subject,
            kind="user",
            role=role,
            name=user["name"],
            visible_owners=None
            if training
            else visible_owners_for(role, subject, members, user["assists"]),
            managed_team_ids=managed,
            training=training,
            extra={"assists": tuple(user["assists"])},
        )

    def _acting_for(self, conn: Connection, principal: Principal, rep_id: str) -> Principal:
        if principal.kind != "user":
            raise PermissionDenied(
                "API keys cannot act on behalf of users", code="not_an_assistant"
            )
        check_on_behalf_of(principal.role, principal.extra.get("assists", ()), rep_id)
        rep = get_user(conn, rep_id)
        if rep is None or not rep["active"]:
            raise PermissionDenied(f"user {rep_id} cannot be acted for", code="not_assisting")
        return Principal(
            id=principal.id,
            kind=principal.kind,
            role=principal.role,
            name=principal.name,
            visible_owners=None
            if principal.training
            else visible_owners_for(principal.role, principal.id, on_behalf_of=rep_id),
            on_behalf_of=rep_id,
            training=principal.training,
            extra=principal.extra,
        )
