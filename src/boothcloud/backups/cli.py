"""`boothcloud backup ...`: create, list, verify and restore backups from a shell.

Errors print as one line on stderr with exit status 1, never a traceback: an operator
restoring at 3 a.m. needs the reason, not a stack. Progress bars go to stderr, results to
stdout, so `boothcloud backup list --json | jq` works.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichBar

from boothcloud.backups import service, source
from boothcloud.backups.base import BackupError
from boothcloud.backups.restore import RestoreReport, restore_backup
from boothcloud.backups.schemas import Backup
from boothcloud.db import open_database
from boothcloud.replication.cli import app as replication_cli
from boothcloud.replication.restore import restore_at
from boothcloud.settings import Settings, get_settings
from boothcloud.storage import ObjectStore
from boothcloud.storage.factory import open_store
from boothcloud.timeutil import to_api

T = TypeVar("T")
app = typer.Typer(no_args_is_help=True, help="Database backups: create, list, verify, restore.")
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)
app.add_typer(replication_cli, name="replication")


class BarProgress:
    """The service's `Progress` hook drawn as rich bars on stderr, one bar per step."""

    def __init__(self, bars: RichBar) -> None:
        self._bars = bars
        self._task: TaskID | None = None

    def start(self, description: str, total: int | None) -> None:
        if self._task is not None:
            task = self._bars.tasks[-1]
            self._bars.update(self._task, total=task.total or 1, completed=task.total or 1)
        self._task = self._bars.add_task(description, total=total)

    def advance(self, amount: int) -> None:
        if self._task is not None:
            self._bars.advance(self._task, amount)


def _bars() -> RichBar:
    return RichBar(
        SpinnerColumn(),
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,  # bars are for people; scripts get clean output
    )


def _fail(message: str) -> NoReturn:
    err.print(f"[red]error:[/red] {escape(message)}", highlight=False)
    raise typer.Exit(1)


def _run(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(work())
    except BackupError as error:
        _fail(str(error))
    except Exception as error:  # the one-line promise holds for the unexpected too
        _fail(f"{type(error).__name__}: {error}")


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _tables(tables: dict[str, int]) -> str:
    return ", ".join(f"{name} {rows}" for name, rows in sorted(tables.items())) or "no tables"


@app.command()
def create() -> None:
    """Take a backup now and prune past the retention setting."""
    settings = get_settings()

    async def work() -> Backup:
        if settings.database_backend == "sqlite" and not settings.sqlite_path.is_file():
            raise BackupError(f"no database at {settings.sqlite_path}; run `boothcloud migrate`")
        db, store = open_database(settings), open_store(settings)
        try:
            with _bars() as bars:
                return await service.create_backup(
                    db, store, retention=settings.backup_retention, progress=BarProgress(bars)
                )
        finally:
            await store.close()
            await db.close()

    backup = _run(work)
    out.print(f"created {backup.key}", highlight=False)
    out.print(f"  size {_human(backup.size)}  sha256 {backup.sha256}", highlight=False)
    out.print(f"  rows {_tables(backup.tables)}", highlight=False)


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="Print the manifests as JSON.")] = False,
) -> None:
    """List backups, newest first."""
    settings = get_settings()
    backups = _run(lambda: _with_store(settings, service.list_backups))
    if as_json:
        print(json.dumps({"items": [b.model_dump(mode="json") for b in backups]}, indent=2))
        return
    if not backups:
        out.print("no backups yet")
        return
    for b in backups:
        rows = f"{sum(b.tables.values())} rows"
        line = f"{to_api(b.created_at)}  {_human(b.size):>9}  {rows:>12}  {b.sha256[:12]}  {b.key}"
        out.print(line, highlight=False)


@app.command()
def verify(key: Annotated[str, typer.Argument(help="Backup key, or a local dump file.")]) -> None:
    """Check a backup's checksum, decompress it and parse every statement."""
    settings = get_settings()

    async def work() -> source.VerifyReport:
        with _bars() as bars:
            return await _with_store(
                settings, lambda store: source.verify(store, key, BarProgress(bars))
            )

    report = _run(work)
    if report.checksum_checked:
        checked = "checksum ok, gzip ok"
    else:
        checked = f"no manifest, checksum not checked, {report.statements} statements"
    out.print(f"ok {report.name}: {checked}", highlight=False)
    out.print(f"  rows {_tables(report.tables)}", highlight=False)


@app.command()
def restore(
    to: Annotated[Path, typer.Option("--to", help="New SQLite file to restore into.")],
    key: Annotated[
        str | None, typer.Argument(help="Backup key, or a local dump (wrangler export).")
    ] = None,
    at: Annotated[
        datetime | None,
        typer.Option(
            "--at",
            formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z"],
            help="Instead of a dump: the database as it was at this moment (Litestream), "
            "e.g. 2026-12-01T13:45:00Z.",
        ),
    ] = None,
    force: Annotated[
        bool, typer.Option("--force", help="Replace an existing file, even the live database.")
    ] = False,
) -> None:
    """Restore into a new database file, then check integrity and rows per table."""
    settings = get_settings()
    if (key is None) == (at is None):
        _fail("give either a backup key or --at <moment>")
    if at is not None:
        done = _run(lambda: restore_at(settings, at, to, force=force))
        out.print(f"restored the database as of {to_api(done.at)} into {done.target}")
        out.print("  integrity ok, foreign keys ok", highlight=False)
        out.print(f"  rows {_tables(done.tables)}", highlight=False)
        return
    assert key is not None
    live = settings.sqlite_path if settings.database_backend == "sqlite" else None

    async def work() -> RestoreReport:
        with _bars() as bars:
            return await _with_store(
                settings,
                lambda store: restore_backup(
                    store, key, to, live_path=live, force=force, progress=BarProgress(bars)
                ),
            )

    report = _run(work)
    checked = "checksum ok" if report.checksum_checked else "no manifest, checksum not checked"
    out.print(f"restored {report.source} into {report.target}", highlight=False)
    out.print(f"  {checked}, integrity ok, foreign keys ok, rows match", highlight=False)
    out.print(f"  rows {_tables(report.tables)}", highlight=False)


async def _with_store(
    settings: Settings, work: Callable[[ObjectStore], Coroutine[Any, Any, T]]
) -> T:
    store = open_store(settings)
    try:
        return await work(store)
    finally:
        await store.close()
