"""`crm-api`: serve, worker, migrate, demo, projections, token, export-log, import-log,
workspace."""

from __future__ import annotations

import signal
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from crm_api.db import migration_status
from crm_api.observability import configure_logging
from crm_api.privacy.keys import StoreKeyMismatch
from crm_api.settings import get_settings

cli = typer.Typer(help="crm_api: a headless, event-sourced CRM service.", no_args_is_help=True)
projections_cli = typer.Typer(help="Read models: rebuild, resume.", no_args_is_help=True)
cli.add_typer(projections_cli, name="projections")
workspace_cli = typer.Typer(help="Training workspaces: fork, reset.", no_args_is_help=True)
cli.add_typer(workspace_cli, name="workspace")
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
    try:
        return Services(settings)
    except StoreKeyMismatch as error:
        _fail(str(error), "set CRM_CIPHER_KEY to the store's key")


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
    ssl_keyfile: Annotated[
        str | None, typer.Option(help="Serve HTTPS with this private key (PEM).")
    ] = None,
    ssl_certfile: Annotated[
        str | None, typer.Option(help="Serve HTTPS with this certificate chain (PEM).")
    ] = None,
    forwarded_allow_ips: Annotated[
        str | None,
        typer.Option(help="Proxies trusted for X-Forwarded-Proto/For (e.g. 127.0.0.1)."),
    ] = None,
) -> None:
    """Serve REST and GraphQL (with projection runners in this process unless --no-workers)."""
    import uvicorn

    from crm_api.app import create_app

    if (ssl_keyfile is None) != (ssl_certfile is None):
        _fail("HTTPS needs both --ssl-keyfile and --ssl-certfile", "give both, or neither")
    settings = get_settings()
    configure_logging(settings.log_level)
    app = create_app(settings, services=_services(), run_workers=not no_workers)
    scheme = "https" if ssl_certfile else "http"
    console.print(
        f"serving workspace [bold]{settings.workspace_name}[/bold] on {scheme}://{host}:{port} "
        "(docs: /docs)"
    )
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_config=None,
        ws="auto",
        ssl_keyfile=ssl_keyfile,
        ssl_certfile=ssl_certfile,
        forwarded_allow_ips=forwarded_allow_ips,
    )


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
    plan_weeks: Annotated[
        int, typer.Option(min=0, max=52, help="Weeks of work plans per rep.")
    ] = 6,
) -> None:
    """Load a demo company: a year of accounts, contacts, orders, opportunities, quotes,
    activities, tasks and work plans, through the commands (deterministic for one size)."""
    from time import monotonic

    from crm_api.demo import DAYS, is_empty, load_demo, summary

    services = _services()
    try:
        if not is_empty(services):
            if if_empty:
                console.print("demo data skipped: the store already has events")
                return
            _fail("the store already has events", "use an empty database, or pass --if-empty")
        started = monotonic()
        with _progress(f"loading a year of {accounts} demo accounts: day") as bar:
            task = bar.add_task("days", total=DAYS)
            counts = load_demo(
                services,
                accounts,
                lambda n: bar.update(task, completed=n),
                plan_weeks=plan_weeks,
            )
        console.print(
            f"loaded {summary(counts)} up to log position {services.app.head()} in "
            f"{monotonic() - started:.0f} s; mint a token with "
            "`crm-api token --email rep1@demo.example`",
            soft_wrap=True,
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


@cli.command("tick")
def tick() -> None:
    """Run the watchers once now: raise due alerts (dormancy, SLA), clear ended ones."""
    services = _services()
    try:
        report = services.run_watchers()
    finally:
        services.close()
    console.print(f"raised {report.raised} alerts, cleared {report.cleared}")


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
        _rebuild(services, names)
    finally:
        services.close()


def _progress(text: str, amount: type[ProgressColumn] = MofNCompleteColumn) -> Progress:
    return Progress(TextColumn(text), BarColumn(), amount(), TimeElapsedColumn(), console=console)


def _rebuild(services, names: list[str]) -> None:  # type: ignore[no-untyped-def]
    """All the named read models rebuilt together: the log is read and decoded once."""
    head = services.app.head()
    started = time.perf_counter()
    with _progress("{task.description}") as bar:
        task = bar.add_task(f"rebuilding {len(names)} read model(s)", total=max(head, 1))
        services.projections.rebuild(names, progress=lambda p: bar.update(task, completed=p))
        bar.update(task, completed=max(head, 1))
    elapsed = time.perf_counter() - started
    rate = f", {head / elapsed:,.0f} events/s" if elapsed > 0 and head else ""
    what = (
        f"all {len(names)} read models"
        if len(names) == len(services.runners) and len(names) > 1
        else ", ".join(names)
    )
    console.print(f"rebuilt {what} from {head} events in {elapsed:.1f} s{rate}")


@cli.command("export-log")
def export_log(
    to: Annotated[Path, typer.Option("--to", help="The NDJSON file to write.")],
) -> None:
    """Back up the whole store: every stored event (payloads as stored, so encrypted ones stay
    encrypted) and every subject key, as CloudEvents NDJSON."""
    from crm_api import backup

    services = _services()
    try:
        head = services.app.head()
        with (
            to.open("w", encoding="utf-8") as out,
            _progress("exporting the log") as bar,
        ):
            task = bar.add_task("events", total=max(head, 1))
            summary = backup.export_log(services, out, lambda n: bar.update(task, completed=n))
    except backup.BackupError as error:
        _fail(str(error), error.hint)
    finally:
        services.close()
    console.print(
        f"exported {summary.events} events and {summary.subject_keys} subject keys to {to}; "
        f"sha256 {summary.digest}",
        soft_wrap=True,
    )


@cli.command("import-log")
def import_log(
    source: Annotated[Path, typer.Option("--from", help="A file written by export-log.")],
    source_key: Annotated[
        str | None,
        typer.Option(
            envvar="CRM_SOURCE_CIPHER_KEY",
            help="The CRM_CIPHER_KEY the file was written with, when it differs from this "
            "store's (key rotation); 'none' for a file written without one.",
        ),
    ] = None,
) -> None:
    """Restore a backup into an empty store (SQLite or PostgreSQL), verify it, rebuild the
    read models."""
    from crm_api import backup

    if not source.is_file():
        _fail(f"no file {source}", "give the path of a file written by `crm-api export-log`")
    services = _services()
    try:
        backup.require_empty(services)
        with (
            source.open("rb") as lines,
            _progress("importing the log", DownloadColumn) as bar,
        ):
            task = bar.add_task("bytes", total=max(source.stat().st_size, 1))
            summary = backup.import_log(
                services, lines, source_key, lambda n: bar.update(task, completed=n)
            )
        _rebuild(services, list(services.runners))
    except backup.BackupError as error:
        _fail(str(error), error.hint)
    finally:
        services.close()
    console.print(
        f"imported {summary.events} events and {summary.subject_keys} subject keys; "
        f"sha256 {summary.digest} verified in the target; read models rebuilt",
        soft_wrap=True,
    )


@workspace_cli.command("fork")
def workspace_fork(
    to: Annotated[str, typer.Option("--to", help="The new database's URL (SQLite or PostgreSQL).")],
    at: Annotated[
        str | None,
        typer.Option(help="Stop at this log position or ISO 8601 time (default: the head)."),
    ] = None,
    name: Annotated[
        str, typer.Option(help="The training workspace's name (X-CRM-Workspace, /health).")
    ] = "training",
) -> None:
    """Copy the live history into a new database by replay, migrate it, rebuild its read
    models and mark it a training workspace (everyone has full rights; nothing leaves it)."""
    from crm_api import workspaces
    from crm_api.application.services import Services
    from crm_api.db import Store
    from crm_api.db import migrate as run_migrations

    try:
        point = workspaces.parse_fork_point(at)
    except workspaces.WorkspaceError as error:
        _fail(str(error), error.hint)
    settings = get_settings()
    if Store(to).read_url == Store(settings.database_url).read_url:
        _fail("--to names the live database itself", "give a new, empty database")
    source = _services()
    target = None
    try:
        if source.workspace.training:
            _fail(
                f"workspace '{source.workspace.name}' is itself a training workspace",
                "fork from the live database",
            )
        try:
            run_migrations(Store(to))
        except Exception as error:
            _fail(f"cannot migrate {workspaces.redacted_url(to)}: {error}", "check --to")
        target = Services(settings.model_copy(update={"database_url": to}))
        head = min(point, source.app.head()) if isinstance(point, int) else source.app.head()
        with _progress("forking the log") as bar:
            task = bar.add_task("events", total=max(head, 1))
            summary = workspaces.fork(
                source,
                target,
                name=name,
                at=point,
                progress=lambda n: bar.update(task, completed=n),
            )
        _rebuild(target, list(target.runners))
    except workspaces.WorkspaceError as error:
        _fail(str(error), error.hint)
    finally:
        source.close()
        if target is not None:
            target.close()
    console.print(
        f"forked {summary.events} events and {summary.subject_keys} subject keys up to live "
        f"position {summary.source_position} into training workspace '{name}' at "
        f"{workspaces.redacted_url(to)}; sha256 {summary.digest} verified; serve it with "
        f"CRM_DATABASE_URL=<that url> crm-api serve",
        soft_wrap=True,
    )


@workspace_cli.command("reset")
def workspace_reset() -> None:
    """Return this training workspace to its fork point: delete the events recorded since and
    rebuild the read models. Stop the workspace's server first. Refused on live."""
    from crm_api import workspaces

    services = _services()
    try:
        summary = workspaces.reset(services)
        _rebuild(services, list(services.runners))
    except workspaces.WorkspaceError as error:
        _fail(str(error), error.hint)
    finally:
        services.close()
    console.print(
        f"reset training workspace '{services.workspace.name}' to its fork point (position "
        f"{summary.fork_position}): removed {summary.removed} events; read models rebuilt"
    )


@cli.command("new-key")
def new_key() -> None:
    """Print a new random AES-256 key for CRM_CIPHER_KEY."""
    from crm_api.privacy.keys import new_cipher_key

    sys.stdout.write(new_cipher_key() + "\n")


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
