"""`crm-api`: serve, worker, migrate, demo, projections, token."""

from __future__ import annotations

import signal
import sys
import threading
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from crm_api.db import migration_status
from crm_api.observability import configure_logging
from crm_api.settings import get_settings

cli = typer.Typer(help="crm_api: a headless, event-sourced CRM service.", no_args_is_help=True)
projections_cli = typer.Typer(help="Read models: rebuild, resume.", no_args_is_help=True)
cli.add_typer(projections_cli, name="projections")
console = Console(stderr=True)


def _fail(message: str, hint: str) -> None:
    console.print(f"[red]error:[/red] {message}\n[dim]next:[/dim] {hint}")
    raise typer.Exit(2)


def _services():  # type: ignore[no-untyped-def]
    from crm_api.application.services import Services
    from crm_api.db import Store

    settings = get_settings()
    try:
        current, head = migration_status(Store(settings.database_url))
    except Exception as error:
        _fail(
            f"cannot reach the database {settings.database_url}: {error}",
            "check CRM_DATABASE_URL (and that PostgreSQL is running)",
        )
    if current != head:
        _fail(f"the read-side schema is at {current}, not {head}", "run `crm-api migrate` first")
    return Services(settings)


@cli.command()
def migrate() -> None:
    """Create or upgrade every read-side table (Alembic); the event store creates its own."""
    from crm_api.db import Store
    from crm_api.db import migrate as run_migrations

    settings = get_settings()
    store = Store(settings.database_url)
    try:
        run_migrations(store)
    except Exception as error:
        _fail(f"migration failed: {error}", "check CRM_DATABASE_URL and database permissions")
    console.print(f"[green]migrated[/green] {store.read_url.split('@')[-1]} to head")


@cli.command()
def serve(
    host: str = "127.0.0.1",
    port: int = 8000,
    no_workers: Annotated[
        bool, typer.Option(help="API only; run `crm-api worker` elsewhere.")
    ] = False,
) -> None:
    """Serve REST and GraphQL (with projection runners in this process unless --no-workers)."""
    import uvicorn

    from crm_api.app import create_app

    settings = get_settings()
    configure_logging(settings.log_level)
    app = create_app(settings, services=_services(), run_workers=not no_workers)
    console.print(
        f"serving workspace [bold]{settings.workspace_name}[/bold] on http://{host}:{port} (docs: /docs)"
    )
    uvicorn.run(app, host=host, port=port, log_config=None, ws="auto")


@cli.command()
def worker() -> None:
    """Run every projection here (one process per projection at a time on PostgreSQL)."""
    configure_logging(get_settings().log_level)
    services = _services()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    services.start_workers()
    console.print(f"worker running {', '.join(services.runners)}; Ctrl-C to stop")
    stop.wait()
    services.close()
    console.print("worker stopped")


@cli.command()
def demo(
    accounts: Annotated[int, typer.Option(min=1, max=100_000)] = 200,
    if_empty: Annotated[bool, typer.Option(help="Do nothing when the store has events.")] = False,
) -> None:
    """Load a demo company (users, teams, accounts, contacts) through the commands."""
    from crm_api.demo import is_empty, load_demo

    services = _services()
    try:
        if not is_empty(services):
            if if_empty:
                console.print("demo data skipped: the store already has events")
                return
            _fail("the store already has events", "use an empty database, or pass --if-empty")
        with Progress(
            TextColumn("loading demo"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task("accounts", total=accounts)
            counts = load_demo(services, accounts, lambda n: bar.update(task, completed=n))
        console.print(
            f"loaded {counts['users']} users, {counts['teams']} teams, {counts['accounts']} accounts, "
            f"{counts['contacts']} contacts up to log position {services.app.head()}; "
            "mint a token with `crm-api token --email rep1@demo.example`"
        )
    finally:
        services.close()


@cli.command()
def status() -> None:
    """Projections: position, lag (events, seconds), failures, pause, who holds each lock."""
    services = _services()
    try:
        rows = services.status()
        current, head = migration_status(services.store)
    finally:
        services.close()
    table = Table(
        "projection", "position", "lag", "lag s", "failures", "paused", "last error", "lock holder"
    )
    for row in rows:
        table.add_row(
            row.name,
            str(row.position),
            str(row.lag),
            f"{row.lag_seconds:.1f}",
            str(row.failures),
            "yes" if row.paused else "no",
            (f"@{row.error_position}: " + (row.last_error or ""))[:60] if row.last_error else "",
            row.holder or "-",
        )
    out = Console()
    out.print(table)
    out.print(
        f"log head {rows[0].head if rows else 0}; migrations {current} (head {head}); "
        f"workspace {get_settings().workspace_name}"
    )


@projections_cli.command("pause")
def projections_pause(name: Annotated[str, typer.Argument(help="The projection to hold.")]) -> None:
    """Hold a projection where it is (maintenance); resume it with `projections resume`."""
    _on_projection(name, "pause")
    console.print(f"paused {name}; resume it with `crm-api projections resume {name}`")


@projections_cli.command("resume")
def projections_resume(name: Annotated[str, typer.Argument(help="The paused projection.")]) -> None:
    """Let a paused or failing projection try again (fix the cause first)."""
    _on_projection(name, "resume")
    console.print(f"resumed {name}; watch it with `crm-api status`")


def _on_projection(name: str, action: str) -> None:
    services = _services()
    try:
        if name not in services.runners:
            _fail(f"no projection '{name}'", f"choose one of: {', '.join(services.runners)}")
        getattr(services.runners[name], action)()
    finally:
        services.close()


@projections_cli.command("rebuild")
def projections_rebuild(
    name: Annotated[str, typer.Argument(help="A projection name, or 'all'.")],
) -> None:
    """Empty a read model and replay the whole log into it, in batches."""
    services = _services()
    try:
        names = list(services.runners) if name == "all" else [name]
        for projection in names:
            if projection not in services.runners:
                _fail(
                    f"no projection '{projection}'",
                    f"choose one of: {', '.join(services.runners)}, all",
                )
        head = services.app.head()
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            for projection in names:
                runner = services.runners[projection]
                task = bar.add_task(f"rebuilding {projection}", total=max(head, 1))
                runner.rebuild(progress=lambda p, t=task: bar.update(t, completed=p))
                bar.update(task, completed=max(head, 1))
        console.print(f"rebuilt {', '.join(names)} from {head} events")
    finally:
        services.close()


@cli.command()
def token(
    user: Annotated[str | None, typer.Option(help="User id (the JWT subject).")] = None,
    email: Annotated[str | None, typer.Option(help="Find the user by email instead.")] = None,
    admin: Annotated[bool, typer.Option(help="Bootstrap: claim roles [admin].")] = False,
    hours: Annotated[int, typer.Option(min=1, max=24 * 365)] = 12,
) -> None:
    """Mint a development JWT signed with CRM_JWT_SECRET."""
    from crm_api.auth import mint_token
    from crm_api.demo import DEMO_ADMIN_ID

    settings = get_settings()
    if email:
        from sqlalchemy import select

        from crm_api.projections.directory import users

        services = _services()
        try:
            with services.read() as conn:
                user = conn.execute(
                    select(users.c.id).where(users.c.email == email.lower())
                ).scalar()
        finally:
            services.close()
        if user is None:
            _fail(
                f"no user with email {email}",
                "list users with GET /api/v1/users, or load `crm-api demo`",
            )
    if user is None:
        if not admin:
            _fail(
                "say whose token to mint",
                "pass --user ID, --email ADDRESS, or --admin for a bootstrap admin",
            )
        user = DEMO_ADMIN_ID
    now = datetime.now(UTC)
    sys.stdout.write(
        mint_token(
            settings, user, roles=["admin"] if admin else None, ttl=timedelta(hours=hours), now=now
        )
        + "\n"
    )


def main() -> None:
    cli()
