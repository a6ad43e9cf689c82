"""What every backup step shares: its one error type and the progress hook the CLI fills.

The service never draws anything: the CLI passes a `Progress` backed by rich, the API and
the weekly job pass nothing. Steps call it from worker threads, so implementations must be
thread-safe (rich's `Progress` is).
"""

from __future__ import annotations

from typing import Protocol


class BackupError(Exception):
    """A backup could not be made, read, verified or restored; the message says why."""


class Progress(Protocol):
    def start(self, description: str, total: int | None) -> None:
        """Begin a step; `total` units (rows or bytes) when known, else None."""
        ...

    def advance(self, amount: int) -> None: ...


class NoProgress:
    """The default: report nothing."""

    def start(self, description: str, total: int | None) -> None:
        return None

    def advance(self, amount: int) -> None:
        return None
