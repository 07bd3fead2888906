"""Demo data: a year in the life of a small company, made through the application's own
commands. Deterministic for one size (a seeded RNG; record ids derive from command ids).

The loader walks a clock through the past year up to now: each account is a story (opened,
contacts, activities entered a little after they happened, orders from the ERP, an opportunity
moved through its stages, a quote taken to one of its ends, tasks) and each rep writes weekly
work plans its manager reviews; the stories are interleaved in time order, so every event is
recorded at its moment in the story (recorded_at) and back-entered facts carry their earlier
occurred_at. Quotes whose validity ran out are expired at the end by the system, as the
maintenance loop would have done.
"""

from __future__ import annotations

import heapq
import itertools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, uuid5

from crm_api.application.app import CommandContext
from crm_api.application.orders import LineInput, OrderInput
from crm_api.application.services import Services
from crm_api.domain.people import Principal, Role
from crm_api.domain.quotes import LineRequest
from crm_api.domain.sla import SlaTerms

DEMO_ADMIN_ID = "00000000-0000-4000-8000-0000000000ad"
INDUSTRIES = ["Manufacturing", "Retail", "Healthcare", "Logistics", "Energy", "Software", "Food"]
CITIES = [("Lyon", "FR"), ("Hamburg", "DE"), ("Leeds", "GB"), ("Porto", "PT"), ("Turin", "IT")]
FIRST = ["Ana", "Ben", "Chloé", "Dan", "Eva", "Farid", "Greta", "Hugo", "Ines", "Jon", "Kim", "Lea"]
LAST = ["Martin", "Schmidt", "Rossi", "Silva", "Dubois", "Weber", "Costa", "Novak", "Berg"]
COMPANY_WORDS = ["Nord", "Alpha", "Blue", "Delta", "Green", "Iron", "Nova", "Prime", "Summit"]
COMPANY_KINDS = ["Industries", "Logistics", "Foods", "Systems", "Partners", "Works", "Labs"]
PRODUCTS = [
    ("PMP-100", "Centrifugal pump 100", "1200.00"),
    ("PMP-250", "Centrifugal pump 250", "2900.00"),
    ("VLV-010", "Ball valve DN10", "45.00"),
    ("VLV-050", "Ball valve DN50", "160.00"),
    ("MTR-075", "Motor 7.5 kW", "980.00"),
    ("MTR-150", "Motor 15 kW", "1750.00"),
    ("SNS-PRS", "Pressure sensor", "210.00"),
    ("SNS-FLW", "Flow sensor", "340.00"),
    ("CTL-BAS", "Controller basic", "650.00"),
    ("CTL-PRO", "Controller pro", "1490.00"),
    ("SRV-KIT", "Service kit", "120.00"),
    ("SRV-CON", "Maintenance contract (year)", "2400.00"),
]
ACTIVITY_SUBJECTS = {
    "call": ["Follow-up call", "Price question", "Delivery date check"],
    "visit": ["Site visit", "Plant tour", "Installation check"],
    "email": ["Sent brochure", "Sent price list", "Answered technical question"],
    "meeting": ["Quarterly review", "Project kick-off", "Negotiation meeting"],
    "note": ["Budget freeze until Q3", "New purchasing manager", "Competitor on site"],
}
QUOTE_ENDS = [
    "draft",
    "pending_approval",
    "approved",
    "voided",
    "sent",
    "accepted",
    "declined",
    "refused",
    "expired",
    "withdrawn",
]
"""Where a quote's story ends: every state, plus an approval voided by a revision, a quote the
customer declined and one the manager refused."""
OPEN_QUOTE_ENDS = {"draft", "pending_approval", "approved", "voided", "sent"}
OPPORTUNITY_ENDS = ["prospecting", "qualification", "proposal", "negotiation", "won", "lost"]
OPEN_STAGES = ["prospecting", "qualification", "proposal", "negotiation"]

SLA_MINUTES = {"low": (480, 7200), "normal": (240, 2880), "high": (60, 720), "urgent": (30, 240)}
"""Per priority: first response and resolution within (minutes, around the clock)."""
SERVICE_SUBJECTS = {
    "inquiry": "Question about spare parts",
    "complaint": "Delivery arrived damaged",
    "fault": "Pump stops after a few minutes",
    "repair": "Motor needs a new bearing",
}

Story = Iterator[datetime]
"""A generator that yields the time of its next step, and takes that step when resumed."""
Step = Callable[["Rep"], Story]
"""A part of an account's story, taken by the account's current owner; it yields the times
of its later steps (a quote sent days after it was approved)."""


DAYS = 365
"""How far back the company's story starts."""


def is_empty(services: Services) -> bool:
    return services.app.head() == 0


class DemoClock:
    """The loader's time: it only moves forward, to each step of the stories in turn, and
    says so to `moved` once per day."""

    def __init__(self, start: datetime, moved: Callable[[datetime], None]) -> None:
        self._now = start
        self._moved = moved
        self._day = start.date()

    def now(self) -> datetime:
        return self._now

    def move_to(self, at: datetime) -> None:
        self._now = max(self._now, at)
        if self._now.date() != self._day:
            self._day = self._now.date()
            self._moved(self._now)


@dataclass
class Rep:
    user_id: str
    team: int
    principal: Principal


@dataclass
class Counts:
    values: dict[str, int] = field(default_factory=dict)

    def add(self, name: str, amount: int = 1) -> None:
        self.values[name] = self.values.get(name, 0) + amount


class DemoCompany:
    def __init__(self, services: Services, clock: DemoClock, seed: int) -> None:
        self.services = services
        self.clock = clock
        self.seed = seed
        self.end = services.clock.now()
        self.counts = Counts()
        self.admin = Principal(id=DEMO_ADMIN_ID, kind="user", role=Role.ADMIN, visible_owners=None)
        self.reps: list[Rep] = []
        self.managers: list[Principal] = []
        self.products: list[tuple[str, Decimal, Decimal, Decimal]] = []
        self.quote_stories = 0
        self.spawned: list[Story] = []
        """Stories started by other stories (an account's parts), for the loop to take up."""
        self.opportunity_stories = 0
        self.agent = self.admin

    def ctx(
        self, key: str, principal: Principal | None = None, occurred_at: datetime | None = None
    ) -> CommandContext:
        command_id = str(uuid5(NAMESPACE_URL, f"crm-demo:{key}"))
        return CommandContext(
            principal or self.admin, command_id, command_id, occurred_at=occurred_at
        )

    # the company

    def people(self) -> None:
        directory = self.services.directory
        manager_ids, team_ids = [], []
        for i, (team_name, manager_name) in enumerate(
            [("North", "Maria Manager"), ("South", "Mark Boss")]
        ):
            manager = directory.register_user(
                self.ctx(f"manager{i}"),
                name=manager_name,
                email=f"manager{i + 1}@demo.example",
                role=Role.MANAGER,
                approval_limit_pct=Decimal(10 + 10 * i),
            ).record
            team = directory.form_team(
                self.ctx(f"team{i}"), name=team_name, manager_id=str(manager.id)
            ).record
            manager_ids.append(str(manager.id))
            team_ids.append(str(team.id))
        for i in range(6):
            rep = directory.register_user(
                self.ctx(f"rep{i}"),
                name=f"{FIRST[i]} {LAST[i]}",
                email=f"rep{i + 1}@demo.example",
                role=Role.REP,
                team_id=team_ids[i % 2],
            ).record
            rep_id = str(rep.id)
            principal = Principal(
                id=rep_id, kind="user", role=Role.REP, visible_owners=frozenset({rep_id})
            )
            self.reps.append(Rep(rep_id, i % 2, principal))
        for i, manager_id in enumerate(manager_ids):
            directory.change_user(
                self.ctx(f"manager-team{i}"), manager_id, {"team_id": team_ids[i]}, None
            )
            members = frozenset(r.user_id for r in self.reps if r.team == i) | {manager_id}
            self.managers.append(
                Principal(
                    id=manager_id,
                    kind="user",
                    role=Role.MANAGER,
                    visible_owners=members,
                    managed_team_ids=frozenset({team_ids[i]}),
                )
            )
        directory.register_user(
            self.ctx("assistant"),
            name="Alex Assistant",
            email="assistant@demo.example",
            role=Role.ASSISTANT,
            assists=[self.reps[0].user_id, self.reps[1].user_id],
        )
        directory.register_user(
            self.ctx("auditor"),
            name="Audrey Auditor",
            email="auditor@demo.example",
            role=Role.AUDITOR,
        )
        agent = directory.register_user(
            self.ctx("agent"),
            name="Sam Service",
            email="agent@demo.example",
            role=Role.SERVICE_AGENT,
        ).record
        self.agent = Principal(
            id=str(agent.id), kind="user", role=Role.SERVICE_AGENT, visible_owners=frozenset()
        )
        self.counts.add("users", 11)
        self.counts.add("teams", 2)

    def catalog(self) -> None:
        """List prices, costs, and the price policy: a floor 5% below list."""
        for sku, name, price in PRODUCTS:
            list_price = Decimal(price)
            cost = (list_price * Decimal("0.62")).quantize(Decimal("0.01"))
            floor = (list_price * Decimal("0.95")).quantize(Decimal("0.01"))
            product = self.services.catalog.list_product(
                self.ctx(f"product-{sku}"),
                sku=sku,
                name=name,
                prices={
                    "list_price": list_price,
                    "unit_cost": cost,
                    "floor_price": floor,
                    "currency": "EUR",
                },
            ).record
            self.products.append((str(product.id), list_price, cost, floor))
        self.counts.add("products", len(PRODUCTS))

    def sla_policies(self) -> None:
        for priority, (first_response, resolve) in SLA_MINUTES.items():
            self.services.service.define_policy(
                self.ctx(f"sla-{priority}"),
                priority=priority,
                terms=SlaTerms.of(first_response, resolve, None),
            )
        self.counts.add("SLA policies", len(SLA_MINUTES))

    # stories

    def account_story(self, n: int, start: datetime) -> Story:
        rnd = random.Random(f"{self.seed}:account:{n}")
        rep = self.reps[n % len(self.reps)]
        opened = start + timedelta(days=rnd.uniform(1, 270), minutes=rnd.randint(0, 600))
        yield opened
        city, country = rnd.choice(CITIES)
        account = self.services.accounts.open_account(
            self.ctx(f"account{n}", rep.principal),
            name=f"{rnd.choice(COMPANY_WORDS)} {rnd.choice(COMPANY_KINDS)} {n + 1}",
            owner_id=rep.user_id,
            industry=rnd.choice(INDUSTRIES),
            phone=f"+33 4 {rnd.randint(10, 99)} {rnd.randint(10, 99)} {rnd.randint(10, 99)}",
            address={
                "line1": f"{rnd.randint(1, 200)} Main Street",
                "city": city,
                "country": country,
            },
            manual_grade=rnd.choice(["A", "B", "B", "C", "C", "C", "D", None]),
        ).record
        account_id = str(account.id)
        self.counts.add("accounts")
        for c in range(rnd.randint(1, 3)):
            first, last = rnd.choice(FIRST), rnd.choice(LAST)
            self.services.accounts.add_contact(
                self.ctx(f"contact{n}-{c}", rep.principal),
                account_id,
                name=f"{first} {last}",
                phone=None if rnd.random() < 0.3 else f"+49 40 {rnd.randint(1000000, 9999999)}",
                email=None if rnd.random() < 0.2 else f"{first}.{last}{n}@example.com".lower(),
                occupation=rnd.choice([None, "Buyer", "CFO", "Plant manager", "Engineer"]),
                birth_year=None if rnd.random() < 0.5 else rnd.randint(1960, 2000),
            )
            self.counts.add("contacts")
        if n % 17 == 0:
            yield opened + timedelta(hours=1)
            rep = self._transfer(n, account_id, rep)
        archive_at = self._after(rnd, opened, 60, 200) if n % 23 == 0 else None
        until = archive_at - timedelta(days=1) if archive_at else self.end
        steps: list[tuple[datetime, Step]] = []
        for k in range(rnd.randint(1, 4)):
            steps.append((self._after(rnd, opened, 2, 340), self._activity(rnd, n, k, account_id)))
        if rnd.random() < 0.7:
            at = opened + timedelta(days=rnd.uniform(5, 40))
            k = 0
            while at < until:
                steps.append((at, self._order(rnd, n, k, account_id, at)))
                at += timedelta(days=rnd.uniform(20, 75))
                k += 1
        steps = [(at, step) for at, step in steps if at < until]
        if archive_at is None:
            steps += self._sales_and_service(rnd, n, opened, account_id)
        for at, step in steps:
            self.spawned.append(self._starting(at, step, rep))
        if archive_at is not None:
            yield archive_at
            self.services.accounts.archive_account(
                self.ctx(f"archive{n}", rep.principal), account_id, True, None
            )
            self.counts.add("archived accounts")

    def _sales_and_service(
        self, rnd: random.Random, n: int, opened: datetime, account_id: str
    ) -> list[tuple[datetime, Step]]:
        """Tasks, an opportunity, a quote, a service request: each its own story, in parallel
        with the others; opportunities and quotes go round every stage and state in turn."""
        steps = [
            (self._after(rnd, opened, 1, 330), self._task(rnd, n, k, account_id))
            for k in range(rnd.randint(0, 2))
        ]
        if rnd.random() < 0.45:
            stage = OPPORTUNITY_ENDS[self.opportunity_stories % len(OPPORTUNITY_ENDS)]
            self.opportunity_stories += 1
            at = max(
                min(self._after(rnd, opened, 3, 200), self.end - timedelta(days=80)),
                opened + timedelta(hours=2),
            )
            steps.append((at, self._opportunity(rnd, n, account_id, stage)))
        if n % 5 in (0, 2):
            end_state = QUOTE_ENDS[self.quote_stories % len(QUOTE_ENDS)]
            self.quote_stories += 1
            steps.append(
                (
                    self._quote_time(rnd, end_state, opened),
                    self._quote(rnd, n, account_id, end_state),
                )
            )
        if rnd.random() < 0.3:
            steps.append(
                (self._after(rnd, opened, 5, 330), self._service_request(rnd, n, account_id))
            )
        return steps

    @staticmethod
    def _starting(at: datetime, step: Step, rep: Rep) -> Story:
        yield at
        yield from step(rep)

    def _after(self, rnd: random.Random, at: datetime, low: float, high: float) -> datetime:
        later = at + timedelta(days=rnd.uniform(low, high))
        return min(later, self.end - timedelta(minutes=rnd.randint(5, 600)))

    def _transfer(self, n: int, account_id: str, rep: Rep) -> Rep:
        """The team's manager gives the account to another rep of the team."""
        same_team = [r for r in self.reps if r.team == rep.team and r.user_id != rep.user_id]
        successor = same_team[n % len(same_team)]
        self.services.accounts.transfer_ownership(
            self.ctx(f"transfer{n}", self.managers[rep.team]),
            account_id,
            successor.user_id,
            "territory rebalancing",
            None,
        )
        self.counts.add("ownership transfers")
        return successor

    def _activity(self, rnd: random.Random, n: int, k: int, account_id: str) -> Step:
        kind = rnd.choice(list(ACTIVITY_SUBJECTS))
        subject = rnd.choice(ACTIVITY_SUBJECTS[kind])
        late = timedelta(hours=rnd.uniform(0.5, 36))

        def activity(rep: Rep) -> Story:
            self.services.activities.record_activity(
                self.ctx(f"activity{n}-{k}", rep.principal),
                account_id=account_id,
                type=kind,
                occurred_at=self.clock.now() - late,
                subject=subject,
                notes=f"{subject} with the customer." if kind != "note" else None,
                duration_minutes=rnd.choice([None, 15, 30, 45, 60, 90]),
            )
            self.counts.add("activities")
            yield from ()

        return activity

    def _order(self, rnd: random.Random, n: int, k: int, account_id: str, at: datetime) -> Step:
        chosen = rnd.sample(self.products, rnd.randint(1, 3))
        lines = [
            LineInput(
                quantity=Decimal(rnd.randint(1, 20)),
                unit_price=(list_price * Decimal(rnd.choice(["1", "0.98", "0.96"]))).quantize(
                    Decimal("0.01")
                ),
                product_id=product_id,
                unit_cost=cost,
            )
            for product_id, list_price, cost, _ in chosen
        ]

        def order(rep: Rep) -> Story:
            outcome = self.services.orders.upsert(
                self.ctx(f"order{n}-{k}"),
                [
                    OrderInput(
                        source="erp",
                        external_id=f"SO-{n + 1:04d}-{k + 1:02d}",
                        ordered_at=at,
                        currency="EUR",
                        lines=lines,
                        account_id=account_id,
                    )
                ],
            )
            for result in outcome.results:
                if result.error is not None:
                    raise result.error
            self.counts.add("orders")
            yield from ()

        return order

    def _task(self, rnd: random.Random, n: int, k: int, account_id: str) -> Step:
        done = rnd.random() < 0.6

        def task(rep: Rep) -> Story:
            created = self.services.tasks.create_task(
                self.ctx(f"task{n}-{k}", rep.principal),
                title=rnd.choice(
                    ["Call back", "Send documentation", "Prepare visit", "Chase payment"]
                ),
                due_date=self.clock.now().date() + timedelta(days=rnd.randint(1, 14)),
                priority=rnd.choice(["low", "normal", "normal", "high", "urgent"]),
                linked_type="account",
                linked_id=account_id,
            ).record
            self.counts.add("tasks")
            later = self._later(rnd.uniform(0.2, 3))
            if done and later is not None:
                yield later
                self.services.tasks.complete(
                    self.ctx(f"task{n}-{k}-done", rep.principal), str(created.id), "done", None
                )
                self.counts.add("tasks completed")

        return task

    def _opportunity(self, rnd: random.Random, n: int, account_id: str, end_stage: str) -> Step:
        """An opportunity moved stage by stage to `end_stage` (one of OPPORTUNITY_ENDS)."""
        product_id, list_price, _, _ = rnd.choice(self.products)
        amount = (list_price * rnd.randint(2, 30)).quantize(Decimal("0.01"))

        def opportunity(rep: Rep) -> Story:
            ctx = self.ctx(f"opportunity{n}", rep.principal)
            services = self.services.opportunities
            record = services.open_opportunity(
                ctx,
                account_id=account_id,
                name=f"{rnd.choice(['Pumps', 'Retrofit', 'Sensors', 'Controls'])} {n + 1}",
                amount=amount,
                currency="EUR",
                expected_close_date=self.clock.now().date() + timedelta(days=rnd.randint(20, 120)),
                product_id=product_id,
                owner_id=None,
                stage="prospecting",
                occurred_at=None,
            ).record
            opportunity_id = str(record.id)
            self.counts.add("opportunities")
            target = OPEN_STAGES.index(end_stage) if end_stage in OPEN_STAGES else 3
            for i, stage in enumerate(OPEN_STAGES[1 : target + 1], start=1):
                later = self._later(rnd.uniform(3, 15))
                if later is None:
                    return
                yield later
                services.move_stage(
                    self.ctx(f"opportunity{n}-stage{i}", rep.principal),
                    opportunity_id,
                    stage,
                    None,
                    None,
                )
            later = self._later(rnd.uniform(3, 20))
            if end_stage in ("won", "lost") and later is not None:
                yield later
                closing = self.ctx(f"opportunity{n}-{end_stage}", rep.principal)
                if end_stage == "won":
                    services.win(closing, opportunity_id, None, None)
                else:
                    services.lose(closing, opportunity_id, "price", None, None)

        return opportunity

    def _service_request(self, rnd: random.Random, n: int, account_id: str) -> Step:
        """Opened by the rep on the customer's call; the agent answers and resolves it, late
        for about one request in three (its SLA breached); the customer's verdict closes it."""
        kind = rnd.choice(list(SERVICE_SUBJECTS))
        priority = rnd.choice(["low", "normal", "normal", "high", "urgent"])
        first_response, resolve = SLA_MINUTES[priority]
        late = rnd.random() < 0.35

        def minutes(limit: int) -> float:
            share = rnd.uniform(1.1, 2.5) if late else rnd.uniform(0.1, 0.8)
            return limit * share / (24 * 60)

        def service_request(rep: Rep) -> Story:
            desk = self.services.service
            key = f"service{n}"
            request = desk.open_request(
                self.ctx(f"{key}-open", rep.principal),
                account_id=account_id,
                kind=kind,
                channel=rnd.choice(["phone", "email", "web"]),
                priority=priority,
                subject=SERVICE_SUBJECTS[kind],
            ).record
            request_id = str(request.id)
            self.counts.add("service requests")
            desk.assign(self.ctx(f"{key}-assign"), request_id, self.agent.id, None, None)
            answered = self._later(minutes(first_response))
            if answered is None:
                return
            yield answered
            desk.start(self.ctx(f"{key}-start", self.agent), request_id, None)
            resolved = self._later(minutes(resolve))
            if resolved is None:
                return
            yield resolved
            desk.resolve(
                self.ctx(f"{key}-resolve", self.agent), request_id, "fixed on site", False, None
            )
            verdict = self._later(rnd.uniform(0.5, 4))
            if verdict is None:
                return
            yield verdict
            desk.evaluate(
                self.ctx(f"{key}-evaluate", rep.principal),
                request_id,
                True,
                rnd.choice([3, 4, 5]),
                None,
                None,
            )

        return service_request

    def _later(self, days: float) -> datetime | None:
        """`days` after now, or None when that is past the end of the story (today)."""
        at = self.clock.now() + timedelta(days=days)
        return at if at < self.end else None

    def _quote_time(self, rnd: random.Random, end_state: str, opened: datetime) -> datetime:
        """Quotes that stay open start within the last weeks (older ones expire: their
        validity is 30 days); the others after the account opened and at least 45 days ago
        (so that those left sent have expired)."""
        if end_state in OPEN_QUOTE_ENDS:
            recent = self.end - timedelta(days=rnd.uniform(6, 25))
            return max(recent, opened + timedelta(hours=2))
        return max(
            min(self._after(rnd, opened, 3, 260), self.end - timedelta(days=45)),
            opened + timedelta(hours=2),
        )

    def _quote(self, rnd: random.Random, n: int, account_id: str, end_state: str) -> Step:
        """A quote taken to `end_state` (one of QUOTE_ENDS)."""
        needs_approval = (
            end_state in ("pending_approval", "voided", "refused") or rnd.random() < 0.3
        )
        chosen = rnd.sample(self.products, rnd.randint(1, 3))

        def lines(discount: str) -> list[LineRequest]:
            return [
                LineRequest(
                    product_id=product_id,
                    quantity=Decimal(rnd.randint(1, 10)),
                    unit_price=(list_price * Decimal(discount)).quantize(Decimal("0.01")),
                )
                for product_id, list_price, _, _ in chosen
            ]

        def quote(rep: Rep) -> Story:
            quotes = self.services.quotes
            manager = self.managers[rep.team]
            step = iter(range(1, 20))

            def ctx(principal: Principal = rep.principal) -> CommandContext:
                return self.ctx(f"quote{n}-{next(step)}", principal)

            record = quotes.create_quote(
                ctx(),
                account_id=account_id,
                opportunity_id=None,
                title=None,
                currency="EUR",
                valid_until=self.clock.now().date() + timedelta(days=30),
                terms="Net 30 days",
                lines=lines("0.92" if needs_approval else "0.97"),
            ).record
            quote_id = str(record.id)
            self.counts.add("quotes")
            later = self._later(rnd.uniform(0.5, 3))
            if end_state == "draft" or later is None:
                return
            yield later
            record = quotes.submit(ctx(), quote_id, None).record
            later = self._later(rnd.uniform(0.2, 2))
            if end_state == "pending_approval" or later is None:
                return
            yield later
            if needs_approval:
                if end_state == "refused":
                    quotes.reject(
                        ctx(manager),
                        quote_id,
                        revision=record.revision,
                        reason="discount too deep for this volume",
                        expected_version=record.version,
                    )
                    return
                record = quotes.approve(
                    ctx(manager),
                    quote_id,
                    revision=record.revision,
                    comment="ok for this customer",
                    expected_version=record.version,
                ).record
            later = self._later(rnd.uniform(0.5, 3))
            if end_state == "approved" or later is None:
                return
            yield later
            if end_state == "voided":
                quotes.revise(
                    ctx(),
                    quote_id,
                    lines=lines("0.90"),
                    title=None,
                    valid_until=None,
                    terms=None,
                    terms_given=False,
                    reason="customer asked for a better price",
                    expected_version=None,
                )
                self.counts.add("voided approvals")
                return
            if end_state == "withdrawn":
                quotes.withdraw(ctx(), quote_id, "customer postponed the project", None)
                return
            quotes.send(ctx(), quote_id, None)
            later = self._later(rnd.uniform(1, 10))
            if end_state in ("sent", "expired") or later is None:
                return
            yield later
            if end_state == "declined":
                record = quotes.get_quote(rep.principal, quote_id)
                quotes.reject(
                    ctx(),
                    quote_id,
                    revision=record.revision,
                    reason="went with a competitor",
                    expected_version=record.version,
                )
                return
            quotes.accept(ctx(), quote_id, "signed by the customer", None)
            self.counts.add("orders")

        return quote

    def work_plan_story(self, rep: Rep, weeks: int) -> Story:
        """The rep's plan for each of the last weeks, submitted Monday, reviewed Tuesday,
        summarised Friday (the current week stays open)."""
        rnd = random.Random(f"{self.seed}:plans:{rep.user_id}")
        manager = self.managers[rep.team]
        monday = self.end.date() - timedelta(days=self.end.weekday() + 7 * weeks)
        for _ in range(weeks + 1):
            start = datetime.combine(monday, datetime.min.time(), self.end.tzinfo)
            if start + timedelta(hours=8) >= self.end:
                return
            yield start + timedelta(hours=8)
            period = f"{monday.isocalendar().year}-W{monday.isocalendar().week:02d}"
            key = f"plan-{rep.user_id}-{period}"
            items = [
                {"text": text, "planned_minutes": minutes}
                for text, minutes in rnd.sample(
                    [
                        ("Visit two key accounts", 480),
                        ("Call dormant customers", 240),
                        ("Prepare quotes", 180),
                        ("Trade fair follow-ups", 300),
                        ("Update contact data", 120),
                    ],
                    3,
                )
            ]
            plan = self.services.work_plans.draft_plan(
                self.ctx(f"{key}-draft", rep.principal), period=period, items=items
            ).record
            plan_id = str(plan.id)
            self.services.work_plans.submit(self.ctx(f"{key}-submit", rep.principal), plan_id, None)
            self.counts.add("work plans")
            if start + timedelta(days=1, hours=9) >= self.end:
                return
            yield start + timedelta(days=1, hours=9)
            if rnd.random() < 0.2:
                self.services.work_plans.return_plan(
                    self.ctx(f"{key}-return", manager),
                    plan_id,
                    "more customer visits, please",
                    None,
                )
                self.services.work_plans.submit(
                    self.ctx(f"{key}-resubmit", rep.principal), plan_id, None
                )
            self.services.work_plans.accept(self.ctx(f"{key}-accept", manager), plan_id, None, None)
            if start + timedelta(days=4, hours=17) >= self.end:
                return
            yield start + timedelta(days=4, hours=17)
            self.services.work_plans.submit_summary(
                self.ctx(f"{key}-summary", rep.principal),
                plan_id,
                "A good week." if rnd.random() < 0.7 else "Two visits moved to next week.",
                [{"item_id": item["id"], "done": rnd.random() < 0.8} for item in plan.items],
                None,
            )
            monday += timedelta(days=7)


def _run(stories: list[Story], spawned: list[Story], clock: DemoClock) -> None:
    """Interleave the stories in time order (ties: the order they began), taking up the ones
    a step spawns."""
    waiting: list[tuple[datetime, int, Story]] = []
    order = itertools.count()

    def begin(story: Story) -> None:
        first = next(story, None)
        if first is not None:
            heapq.heappush(waiting, (first, next(order), story))

    for story in stories:
        begin(story)
    while waiting:
        at, _, story = heapq.heappop(waiting)
        clock.move_to(at)
        following = next(story, None)
        while spawned:
            begin(spawned.pop(0))
        if following is not None:
            heapq.heappush(waiting, (following, next(order), story))


def load_demo(
    services: Services,
    accounts: int = 200,
    progress: Callable[[int], None] = lambda _: None,
    *,
    plan_weeks: int = 6,
) -> dict[str, int]:
    """Loads the company through the commands; returns counts. Deterministic for one size.
    `progress` hears the days of the year done (0 to DAYS)."""
    end = services.clock.now()
    start = end - timedelta(days=DAYS)
    clock = DemoClock(start, lambda at: progress((at - start).days))
    real = services.app.clock
    services.app.clock = clock
    try:
        company = DemoCompany(services, clock, seed=42)
        company.end = end
        company.people()
        company.catalog()
        company.sla_policies()
        stories = [company.account_story(n, start) for n in range(accounts)]
        stories += [company.work_plan_story(rep, plan_weeks) for rep in company.reps]
        _run(stories, company.spawned, clock)
        clock.move_to(end)
        progress(DAYS)
        services.catch_up()
        company.counts.add("expired quotes", services.expire_due_quotes())
    finally:
        services.app.clock = real
    services.catch_up()
    return company.counts.values


def summary(counts: dict[str, Any]) -> str:
    return ", ".join(f"{value} {name}" for name, value in counts.items())
