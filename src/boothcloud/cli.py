"""`boothcloud` command line: serve, migrate, and operator chores.

Errors a user can cause (bad settings, bad input, a pending migration) print one clear
line and exit non-zero; tracebacks are for bugs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.core import TyperGroup

from boothcloud.clikit import (
    CursorOption,
    JsonOption,
    LimitOption,
    fail,
    friendly,
    load_settings,
    out,
    print_page,
    with_database,
)
from boothcloud.db.migrate import discover, migrate, pending
from boothcloud.settings import DEV_ADMIN_TOKEN, LogFormat, Settings, get_settings

if TYPE_CHECKING:
    from boothcloud.replication.supervisor import Supervisor

# Command groups by name: (module whose `app` they are, help). Imported only when named,
# so `boothcloud backup restore` does not pay for the domains' services, FastAPI or
# uvicorn: on a restore the process's peak is imports plus SQLite's cache, nothing else.
LAZY_GROUPS = {
    "payments": ("boothcloud.payments.cli", "Guest payments through Xendit."),
    "photos": ("boothcloud.photos.cli", "Photo log and print status."),
    "printers": ("boothcloud.printers.cli", "Customers' printers."),
    "devices": ("boothcloud.licenses.cli", "Booth devices' heartbeats: dead, stopped printers."),
    "backup": ("boothcloud.backups.cli", "Database backups in the object store."),
}


class LazyGroups(TyperGroup):
    """The root command: its own commands, plus `LAZY_GROUPS` built when first asked for.

    `ctx` is typed `Any`: TyperGroup's methods name typer's vendored click types, which
    typer does not export (and a private import is off limits)."""

    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *LAZY_GROUPS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        if cmd_name not in LAZY_GROUPS:
            return super().get_command(ctx, cmd_name)
        module, help_text = LAZY_GROUPS[cmd_name]
        group = typer.main.get_group(importlib.import_module(module).app)
        group.name, group.help = cmd_name, help_text
        return group


app = typer.Typer(
    name="boothcloud",
    help="Cloud backend for photobooth businesses.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    cls=LazyGroups,
)
customers_cli = typer.Typer(help="Customers and their license keys.", no_args_is_help=True)
app.add_typer(customers_cli, name="customers")


@app.command()
@friendly
def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default from settings).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from settings).")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    apply_migrations: Annotated[
        bool, typer.Option("--migrate", help="Apply pending migrations before serving.")
    ] = False,
) -> None:
    """Serve the HTTP API with uvicorn (uvloop + httptools)."""
    import os

    import uvicorn

    from boothcloud.licenses.certificates import CertificateSigner

    settings = load_settings()
    host = host or settings.host
    port = port or settings.port
    if settings.public_url is None:
        os.environ["BOOTHCLOUD_PUBLIC_URL"] = f"http://{host}:{port}"
    if apply_migrations:
        applied = with_database(
            lambda db: migrate(db, settings.migrations_path), settings, require_current=False
        )
        for name in applied:
            out().print(f"applied {name}")
    else:
        with_database(lambda db: pending(db, settings.migrations_path), settings)
    # The signing key once, here, before any worker: created on a first start, and a
    # damaged one refused in one line (a `SigningKeyError`) instead of a traceback from
    # every worker's start-up.
    CertificateSigner.load_or_create(settings)
    # Workers build their settings from the environment: hand them the CLI's choices.
    os.environ["BOOTHCLOUD_HOST"], os.environ["BOOTHCLOUD_PORT"] = host, str(port)
    get_settings.cache_clear()
    out().print(f"boothcloud on http://{host}:{port}  (docs: /docs)  {token_hint(settings)}")
    options = uvicorn_options(settings.log_level, settings.forwarded_allow_ips, settings.log_format)
    supervisor = start_replication(settings, options["log_config"])
    try:
        uvicorn.run(
            "boothcloud.asgi:app",
            host=host,
            port=port,
            workers=workers,
            loop="uvloop",
            http="httptools",
            **options,
        )
    finally:
        if supervisor is not None:
            supervisor.stop()


def start_replication(settings: Settings, logging_config: dict[str, Any]) -> Supervisor | None:
    """Litestream beside the workers when enabled, its lines through `serve`'s log handlers."""
    if not settings.litestream_enabled:
        return None
    import logging.config

    from boothcloud.replication.litestream import ReplicationError, prepare
    from boothcloud.replication.supervisor import Supervisor

    logging.config.dictConfig(logging_config)  # uvicorn applies the same config again
    try:
        supervisor = Supervisor(prepare(settings))
    except ReplicationError as error:
        raise fail(str(error)) from None
    supervisor.start()
    return supervisor


def token_hint(settings: Settings) -> str:
    """Only the documented development default is ever printed: a real token is a secret."""
    token = settings.admin_token.get_secret_value()
    if settings.environment == "development" and token == DEV_ADMIN_TOKEN:
        return f"development admin token: {token}"
    return "admin token: BOOTHCLOUD_ADMIN_TOKEN"


def uvicorn_options(
    log_level: str, forwarded_allow_ips: str, log_format: LogFormat = "text"
) -> dict[str, Any]:
    """What uvicorn gets besides app and address (`serve`, and the tests' live servers).

    Every log handler redacts secrets (`boothcloud.logs`, imported here: it loads uvicorn).
    Requests are logged by the app (`boothcloud.accesslog`), so uvicorn's access log is off.
    `X-Forwarded-For` is believed only from the proxies in `forwarded_allow_ips`; with none,
    uvicorn's default (trust 127.0.0.1) would let any local client pick its address and
    dodge the rate limits.
    """
    from boothcloud.logs import log_config

    return {
        "log_level": log_level,
        "log_config": log_config(log_level, log_format),
        "access_log": False,
        "proxy_headers": bool(forwarded_allow_ips),
        "forwarded_allow_ips": forwarded_allow_ips or None,
    }


@app.command("migrate")
@friendly
def migrate_command() -> None:
    """Apply pending migrations (recorded in d1_migrations, like wrangler)."""
    settings = load_settings()
    discover(settings.migrations_path)
    applied = with_database(
        lambda db: migrate(db, settings.migrations_path), settings, require_current=False
    )
    if not applied:
        out().print("no pending migrations")
    for name in applied:
        out().print(f"applied {name}")


@customers_cli.command("create")
@friendly
def customers_create(
    name: Annotated[str, typer.Option(help="Business name.")],
    email: Annotated[str, typer.Option(help="Owner's email (unique).")],
    phone: Annotated[str | None, typer.Option()] = None,
    license_type: Annotated[str, typer.Option(help="starter, pro or enterprise.")] = "starter",
) -> None:
    """Create a customer and print its license key."""
    from boothcloud.customers import service
    from boothcloud.customers.schemas import CustomerCreate

    body = CustomerCreate.model_validate(
        {"name": name, "email": email, "phone": phone, "license_type": license_type}
    )
    customer = with_database(lambda db: service.create(db, body))
    out().print(f"created {customer.id}")
    out().print(f"license key: {customer.license_key}", highlight=False)


@customers_cli.command("list")
@friendly
def customers_list(
    limit: LimitOption = 50,
    cursor: CursorOption = None,
    license_type: Annotated[str | None, typer.Option()] = None,
    email: Annotated[str | None, typer.Option()] = None,
    as_json: JsonOption = False,
) -> None:
    """List customers, newest first."""
    from boothcloud.customers import service
    from boothcloud.customers.schemas import Customer

    page = with_database(
        lambda db: service.list_page(
            db, email=email, license_type=license_type, cursor=cursor, limit=limit
        )
    )
    columns: list[tuple[str, Callable[[Customer], object]]] = [
        ("id", lambda c: c.id),
        ("name", lambda c: c.name),
        ("email", lambda c: c.email),
        ("tier", lambda c: c.license_type),
        ("status", lambda c: c.license_status),
        ("created", lambda c: c.created_at),
    ]
    print_page(page.items, page.next_cursor, columns, as_json=as_json)
