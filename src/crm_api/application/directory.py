"""Commands and queries on users and teams (admin-managed)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from uuid import UUID

from crm_api.application.app import CommandContext, CrmApplication, Outcome, command
from crm_api.domain.base import CrmAggregate
from crm_api.domain.errors import FieldError, NotFound, PermissionDenied, ValidationFailed
from crm_api.domain.people import Role, Team, User
from crm_api.domain.uniqueness import UniqueClaim


def user_view(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "name": user.name,
        "email": user.email,
        "role": user.role.value,
        "team_id": user.team_id,
        "approval_limit_pct": user.approval_limit_pct,
        "assists": list(user.assists),
        "active": user.active,
        "version": user.version,
        "created_at": user.created_on,
        "updated_at": user.modified_on,
    }


def team_view(team: Team) -> dict[str, Any]:
    return {
        "id": str(team.id),
        "name": team.name,
        "manager_id": team.manager_id,
        "version": team.version,
        "created_at": team.created_on,
        "updated_at": team.modified_on,
    }


class DirectoryService:
    def __init__(self, app: CrmApplication) -> None:
        self.app = app

    @command
    def register_user(
        self,
        ctx: CommandContext,
        *,
        name: str,
        email: str,
        role: Role,
        team_id: str | None = None,
        approval_limit_pct: Decimal | None = None,
        assists: Sequence[str] = (),
    ) -> Outcome[User]:
        ctx.principal.require("users:write")
        self._check_references(team_id=team_id, assists=assists)

        def build(user_id: UUID) -> list[CrmAggregate]:
            claim = self.app.claim_unique("email", email, str(user_id), "email_taken")
            user = User.register(
                id=user_id,
                name=name,
                email=email,
                role=role,
                team_id=team_id,
                approval_limit_pct=approval_limit_pct,
                assists=list(assists),
            )
            return [user, claim]

        return self.app.create(ctx, User, build)

    @command
    def change_user(
        self,
        ctx: CommandContext,
        user_id: str,
        changes: dict[str, Any],
        expected_version: int | None,
    ) -> Outcome[User]:
        ctx.principal.require("users:write")
        self._check_references(team_id=changes.get("team_id"), assists=changes.get("assists", ()))
        if "role" in changes:
            changes["role"] = Role(changes["role"])

        def decide(user: User) -> list[CrmAggregate]:
            claims: list[CrmAggregate] = []
            new_email = changes.get("email")
            if new_email is not None and new_email.lower() != user.email:
                claims.append(
                    self.app.claim_unique("email", new_email, str(user.id), "email_taken")
                )
                old = self.app.load(UniqueClaim.id_for("email", user.email), UniqueClaim)
                old.release()
                claims.append(old)
            user.change_details(**changes)
            return claims

        return self.app.change(ctx, user_id, User, decide, expected_version=expected_version)

    @command
    def set_active(
        self, ctx: CommandContext, user_id: str, active: bool, expected_version: int | None
    ) -> Outcome[User]:
        ctx.principal.require("users:write")
        if not active and user_id == ctx.principal.id:
            raise PermissionDenied("you cannot deactivate yourself", code="cannot_deactivate_self")
        return self.app.change(
            ctx,
            user_id,
            User,
            lambda user: user.reactivate() if active else user.deactivate(),
            expected_version=expected_version,
        )

    def get_user(self, user_id: str) -> User:
        return self.app.load(user_id, User)

    @command
    def form_team(self, ctx: CommandContext, *, name: str, manager_id: str | None) -> Outcome[Team]:
        ctx.principal.require("teams:write")
        self._check_manager(manager_id)
        return self.app.create(
            ctx, Team, lambda team_id: [Team.with_id(team_id, name=name, manager_id=manager_id)]
        )

    @command
    def change_team(
        self,
        ctx: CommandContext,
        team_id: str,
        changes: dict[str, Any],
        expected_version: int | None,
    ) -> Outcome[Team]:
        ctx.principal.require("teams:write")
        if "manager_id" in changes:
            self._check_manager(changes["manager_id"])
        return self.app.change(
            ctx,
            team_id,
            Team,
            lambda team: team.change_details(**changes),
            expected_version=expected_version,
        )

    def get_team(self, team_id: str) -> Team:
        return self.app.load(team_id, Team)

    def _user_or_none(self, user_id: str) -> User | None:
        try:
            return self.app.load(user_id, User)
        except NotFound:
            return None

    def _check_references(self, *, team_id: str | None, assists: Sequence[str]) -> None:
        errors = []
        if team_id is not None:
            try:
                self.app.load(team_id, Team)
            except NotFound:
                errors.append(FieldError("team_id", f"no team {team_id}"))
        for i, rep_id in enumerate(assists):
            rep = self._user_or_none(rep_id)
            if rep is None or rep.role is not Role.REP:
                errors.append(FieldError(f"assists[{i}]", f"{rep_id} is not a rep"))
        if errors:
            raise ValidationFailed(errors)

    def _check_manager(self, manager_id: str | None) -> None:
        if manager_id is None:
            return
        manager = self._user_or_none(manager_id)
        if manager is None or manager.role is not Role.MANAGER or not manager.active:
            raise ValidationFailed(
                [FieldError("manager_id", f"{manager_id} is not an active manager")]
            )
