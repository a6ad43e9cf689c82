"""What every `boothcloud` command shares: one-line errors, the database, list output.

Errors a user can cause (bad settings, bad input, a pending migration, an unknown id)
print one clear line on stderr and exit 1; tracebacks are for bugs. Lists print a table
whose id columns are never shortened (an operator copies ids from them), or with `--json`
the same page the API answers (`{"items": [...], "next_cursor": ...}`) on stdout, so
`boothcloud customers list --json | jq` works.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from functools import wraps
from typing import TYPE_CHECKING, Annotated, Any, ParamSpec, TypeVar

import typer
from pydantic import BaseModel, ValidationError
from rich.console import Console
from rich.table import Table

from boothcloud.db import open_database
from boothcloud.db.base import Database, IntegrityViolation
from boothcloud.db.migrate import MigrationError, pending
from boothcloud.errors import ProblemError, constraint_error
from boothcloud.settings import Settings, get_settings

if TYPE_CHECKING:
    from boothcloud.auth import Caller

P = ParamSpec("P")
R = TypeVar("R")
M = TypeVar("M", bound=BaseModel)


def __getattr__(name: str) -> Caller:
    """`OPERATOR`, the caller the domain commands act as, built on first use: `auth`
    imports FastAPI, which `boothcloud backup ...` and `migrate` should not load."""
    if name != "OPERATOR":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from boothcloud.auth import Caller

    return Caller(kind="operator")


JsonOption = Annotated[
    bool, typer.Option("--json", help="Print the page as JSON: items and next_cursor.")
]
LimitOption = Annotated[int, typer.Option(min=1, max=200, help="Rows per page (1-200).")]
CursorOption = Annotated[str | None, typer.Option(help="Continue after a page (its next_cursor).")]


def out() -> Console:
    """A console sized when used (tables fit the terminal, or COLUMNS when piped)."""
    return Console()


def fail(message: str) -> typer.Exit:
    Console(stderr=True, soft_wrap=True).print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code=1)


def friendly(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn the errors a user can cause into one line on stderr and exit code 1."""

    @wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return fn(*args, **kwargs)
        except ValidationError as error:
            first = error.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "input"
            raise fail(f"{where}: {first['msg']}") from None
        except ProblemError as error:
            raise fail(error.detail) from None
        except IntegrityViolation as error:
            mapped = constraint_error(error.constraint)
            raise fail(mapped.detail if mapped else str(error)) from None
        except (MigrationError, OSError, ValueError) as error:
            raise fail(str(error)) from None

    return wrapper


def load_settings() -> Settings:
    try:
        return get_settings()
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise fail(f"invalid settings ({where}): {first['msg']}") from None


def with_database(
    work: Callable[[Database], Awaitable[R]],
    settings: Settings | None = None,
    *,
    require_current: bool = True,
) -> R:
    """Run one async unit of CLI work against the configured database (SQLite or D1)."""
    settings = settings or load_settings()

    async def run() -> R:
        db = open_database(settings)
        try:
            if require_current and (waiting := await pending(db, settings.migrations_path)):
                raise fail(
                    f"{len(waiting)} pending migration(s), first {waiting[0].name}: "
                    "run `boothcloud migrate`"
                )
            return await work(db)
        finally:
            await db.close()

    return asyncio.run(run())


Column = tuple[str, Callable[[M], Any]]


def print_page(
    items: Sequence[M],
    next_cursor: str | None,
    columns: Sequence[Column[M]],
    *,
    as_json: bool,
    title: str | None = None,
) -> None:
    """One page of a list: the API's JSON shape, or a table with whole ids."""
    if as_json:
        page = {"items": [item.model_dump(mode="json") for item in items]}
        print(json.dumps({**page, "next_cursor": next_cursor}, indent=2, ensure_ascii=False))
        return
    rows = [[_cell(get(item)) for _, get in columns] for item in items]
    headers = [header for header, _ in columns]
    console = out()
    if title:
        console.print(title, highlight=False)
    if _table_width(headers, rows) <= console.width:
        table = Table()
        for header in headers:
            # An id column is never shortened: an operator copies ids from it.
            table.add_column(header, no_wrap=_is_id(header), overflow="fold")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    else:  # too narrow for whole ids side by side: one record per block
        label = max(len(h) for h in headers)
        for row in rows:
            console.print(row[0], highlight=False, soft_wrap=True)
            for header, value in zip(headers[1:], row[1:], strict=True):
                console.print(f"  {header:<{label}}  {value}", highlight=False, soft_wrap=True)
    if next_cursor:
        console.print(f"more: --cursor {next_cursor}", highlight=False, soft_wrap=True)


def _is_id(header: str) -> bool:
    return header == "id" or header.endswith("_id")


def _table_width(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """Width of a table with whole ids and the other columns at up to 12 characters."""
    width = 1
    for index, header in enumerate(headers):
        longest = max([len(header)] + [len(row[index]) for row in rows])
        width += (longest if _is_id(header) else min(longest, 12)) + 3
    return width


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else ""
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return str(value)
