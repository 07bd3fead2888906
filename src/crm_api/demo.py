"""Demo data: a small company made through the application's own commands, back-dated."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from uuid import NAMESPACE_URL, uuid5

from crm_api.application.app import CommandContext
from crm_api.application.services import Services
from crm_api.domain.people import Principal, Role

DEMO_ADMIN_ID = "00000000-0000-4000-8000-0000000000ad"
INDUSTRIES = ["Manufacturing", "Retail", "Healthcare", "Logistics", "Energy", "Software", "Food"]
CITIES = [("Lyon", "FR"), ("Hamburg", "DE"), ("Leeds", "GB"), ("Porto", "PT"), ("Turin", "IT")]
FIRST = ["Ana", "Ben", "Chloé", "Dan", "Eva", "Farid", "Greta", "Hugo", "Ines", "Jon", "Kim", "Lea"]
LAST = ["Martin", "Schmidt", "Rossi", "Silva", "Dubois", "Weber", "Costa", "Novak", "Berg"]
COMPANY_WORDS = ["Nord", "Alpha", "Blue", "Delta", "Green", "Iron", "Nova", "Prime", "Summit"]
COMPANY_KINDS = ["Industries", "Logistics", "Foods", "Systems", "Partners", "Works", "Labs"]


def is_empty(services: Services) -> bool:
    return services.app.head() == 0


def load_demo(
    services: Services, accounts: int = 200, progress: Callable[[int], None] = lambda _: None
) -> dict[str, int]:
    """Loads users, teams, accounts and contacts; returns counts. Deterministic for one size."""
    rnd = random.Random(42)
    now = services.clock.now()
    admin = Principal(id=DEMO_ADMIN_ID, kind="user", role=Role.ADMIN, visible_owners=None)

    def ctx(key: str, days_ago: float = 0, principal: Principal = admin) -> CommandContext:
        command_id = str(uuid5(NAMESPACE_URL, f"crm-demo:{key}"))
        return CommandContext(
            principal, command_id, command_id, occurred_at=now - timedelta(days=days_ago)
        )

    directory = services.directory
    managers = []
    teams = []
    for i, (team_name, manager_name) in enumerate(
        [("North", "Maria Manager"), ("South", "Mark Boss")]
    ):
        manager = directory.register_user(
            ctx(f"manager{i}", 400),
            name=manager_name,
            email=f"manager{i + 1}@demo.example",
            role=Role.MANAGER,
            approval_limit_pct=Decimal(10 + 10 * i),
        ).record
        team = directory.form_team(
            ctx(f"team{i}", 400), name=team_name, manager_id=str(manager.id)
        ).record
        managers.append(manager)
        teams.append(team)
    reps = []
    for i in range(6):
        team = teams[i % 2]
        reps.append(
            directory.register_user(
                ctx(f"rep{i}", 390),
                name=f"{FIRST[i]} {LAST[i]}",
                email=f"rep{i + 1}@demo.example",
                role=Role.REP,
                team_id=str(team.id),
            ).record
        )
    for i, manager in enumerate(managers):
        directory.change_user(
            ctx(f"manager-team{i}", 389), str(manager.id), {"team_id": str(teams[i].id)}, None
        )
    directory.register_user(
        ctx("assistant", 380),
        name="Alex Assistant",
        email="assistant@demo.example",
        role=Role.ASSISTANT,
        assists=[str(reps[0].id), str(reps[1].id)],
    )
    directory.register_user(
        ctx("auditor", 380), name="Audrey Auditor", email="auditor@demo.example", role=Role.AUDITOR
    )
    directory.register_user(
        ctx("agent", 380), name="Sam Service", email="agent@demo.example", role=Role.SERVICE_AGENT
    )
    counts = {"users": 11, "teams": 2, "accounts": 0, "contacts": 0}
    progress(0)
    for n in range(accounts):
        owner = reps[n % len(reps)]
        city, country = rnd.choice(CITIES)
        days_ago = rnd.uniform(5, 365)
        name = f"{rnd.choice(COMPANY_WORDS)} {rnd.choice(COMPANY_KINDS)} {n + 1}"
        account = services.accounts.open_account(
            ctx(f"account{n}", days_ago),
            name=name,
            owner_id=str(owner.id),
            industry=rnd.choice(INDUSTRIES),
            phone=f"+33 4 {rnd.randint(10, 99)} {rnd.randint(10, 99)} {rnd.randint(10, 99)} {rnd.randint(10, 99)}",
            address={
                "line1": f"{rnd.randint(1, 200)} Main Street",
                "city": city,
                "country": country,
            },
            manual_grade=rnd.choice(["A", "B", "B", "C", "C", "C", "D", None]),
        ).record
        counts["accounts"] += 1
        for c in range(rnd.randint(0, 3)):
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            services.accounts.add_contact(
                ctx(f"contact{n}-{c}", days_ago - 1),
                str(account.id),
                name=f"{first} {last}",
                phone=None if rnd.random() < 0.3 else f"+49 40 {rnd.randint(1000000, 9999999)}",
                email=None if rnd.random() < 0.2 else f"{first}.{last}{n}@example.com".lower(),
                occupation=rnd.choice([None, "Buyer", "CFO", "Plant manager", "Engineer"]),
                birth_year=None if rnd.random() < 0.5 else rnd.randint(1960, 2000),
            )
            counts["contacts"] += 1
        if n % 17 == 0:
            manager = managers[0] if owner.team_id == str(teams[0].id) else managers[1]
            as_manager = Principal(
                id=str(manager.id), kind="user", role=Role.MANAGER, visible_owners=None
            )
            same_team = [r for r in reps if r.team_id == owner.team_id and r.id != owner.id]
            services.accounts.transfer_ownership(
                ctx(f"transfer{n}", days_ago / 2, as_manager),
                str(account.id),
                str(same_team[0].id),
                "territory rebalancing",
                None,
            )
        if n % 23 == 0:
            services.accounts.archive_account(
                ctx(f"archive{n}", days_ago / 3), str(account.id), True, None
            )
        progress(n + 1)
    services.catch_up()
    return counts
