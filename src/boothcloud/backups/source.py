"""Fetch a dump to verify or restore, check it against its manifest, and read it back.

A source is a backup key in the object store (its manifest is then required: without it
nothing proves the bytes are the ones written), any other key or local file such as a
`wrangler d1 export` (`.sql` or `.sql.gz`, no manifest: parsed and counted only), or a
downloaded `.sql.gz` with its `.json` manifest beside it.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, cast

from pydantic import ValidationError

from boothcloud.backups import naming
from boothcloud.backups.base import BackupError, NoProgress, Progress
from boothcloud.backups.schemas import Backup
from boothcloud.backups.sqltext import (
    DumpFormatError,
    DumpStats,
    d1_problem,
    header_ok,
    split_statements,
)
from boothcloud.storage import ObjectStore

GZIP_MAGIC = b"\x1f\x8b"
PROGRESS_EVERY_LINES = 2_000


@dataclass(frozen=True, slots=True)
class Source:
    name: str
    data: bytes
    manifest: Backup | None

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()


@dataclass(frozen=True, slots=True)
class VerifyReport:
    name: str
    size: int
    sha256: str
    checksum_checked: bool  # False: no manifest to check against (a foreign dump)
    statements: int
    tables: dict[str, int]


async def _in_store(store: ObjectStore, name: str) -> bool:
    try:
        return await store.head(name) is not None
    except ValueError:  # not a valid object key (an absolute path, ...)
        return False


async def load_source(store: ObjectStore, name: str) -> Source:
    if await _in_store(store, name):
        data = await store.get(name)
        manifest = None
        if naming.is_backup_dump(name):
            if not await _in_store(store, naming.manifest_key(name)):
                raise BackupError(f"{name} has no manifest; its checksum cannot be verified")
            manifest = _parse_manifest(name, await store.get(naming.manifest_key(name)))
        return Source(name, data, manifest)
    local = await asyncio.to_thread(_load_local, name)
    if local is None:
        raise BackupError(f"no backup {name!r} in the object store, and no such local file")
    return local


def _load_local(name: str) -> Source | None:
    path = Path(name).expanduser()
    if not path.is_file():
        return None
    beside = path.with_name(naming.manifest_key(path.name))
    manifest = None
    if path.name.endswith(naming.DUMP_SUFFIX) and beside.is_file():
        manifest = _parse_manifest(str(beside), beside.read_bytes())
    return Source(name, path.read_bytes(), manifest)


def _parse_manifest(name: str, raw: bytes) -> Backup:
    try:
        return Backup.model_validate_json(raw)
    except ValidationError as error:
        raise BackupError(f"manifest of {name} is unreadable: {error.errors()[0]['msg']}") from None


def check_checksum(source: Source) -> None:
    """Size and SHA-256 of the bytes must equal the manifest's; tampering stops here."""
    if source.manifest is None:
        return
    expected, actual = source.manifest.sha256, source.sha256
    if len(source.data) != source.manifest.size or actual != expected:
        raise BackupError(
            f"checksum mismatch for {source.name}: manifest says sha256 {expected[:16]}… "
            f"({source.manifest.size} bytes), object is {actual[:16]}… ({len(source.data)} bytes)"
        )


def iter_statements(data: bytes, progress: Progress) -> Iterator[str]:
    """Decompress (when gzip) and split, advancing `progress` by compressed bytes read."""
    raw = io.BytesIO(data)  # shares `data`'s buffer: no copy
    binary: io.BufferedIOBase = raw
    if data[:2] == GZIP_MAGIC:
        binary = gzip.GzipFile(fileobj=raw, mode="rb")
    text = io.TextIOWrapper(cast("IO[bytes]", binary), encoding="utf-8", newline="")
    progress.start("Reading", len(data))
    reported = 0

    def lines() -> Iterator[str]:
        nonlocal reported
        for number, line in enumerate(text, 1):
            if number % PROGRESS_EVERY_LINES == 0:
                progress.advance(raw.tell() - reported)
                reported = raw.tell()
            yield line
        progress.advance(len(data) - reported)

    try:
        yield from split_statements(lines())
    except (OSError, EOFError, zlib.error, UnicodeDecodeError) as error:
        raise BackupError(f"the dump cannot be decompressed or decoded: {error}") from None
    except DumpFormatError as error:
        raise BackupError(str(error)) from None


def scan(source: Source, progress: Progress | None = None) -> VerifyReport:
    """Parse every statement: it must be D1-importable, and counts must match the manifest."""
    stats = DumpStats()
    for statement in iter_statements(source.data, progress or NoProgress()):
        stats.add(statement)
        if (problem := d1_problem(statement)) is not None:
            raise BackupError(f"{source.name} would not import into D1: {problem}")
    if not header_ok(stats):
        raise BackupError(f"{source.name} does not start with `PRAGMA defer_foreign_keys=TRUE;`")
    if source.manifest is not None and stats.tables != source.manifest.tables:
        raise BackupError(
            f"{source.name}: rows per table differ from the manifest: "
            + describe_differences(source.manifest.tables, stats.tables)
        )
    return VerifyReport(
        name=source.name,
        size=len(source.data),
        sha256=source.sha256,
        checksum_checked=source.manifest is not None,
        statements=stats.statements,
        tables=stats.tables,
    )


def describe_differences(expected: dict[str, int], actual: dict[str, int]) -> str:
    names = sorted(set(expected) | set(actual))
    differing = [n for n in names if expected.get(n) != actual.get(n)]
    return ", ".join(f"{n} expected {expected.get(n)} got {actual.get(n)}" for n in differing)


async def verify(store: ObjectStore, name: str, progress: Progress | None = None) -> VerifyReport:
    """Checksum, decompress and parse a backup without restoring it anywhere."""
    (progress or NoProgress()).start("Downloading", None)
    source = await load_source(store, name)
    check_checksum(source)
    return await asyncio.to_thread(scan, source, progress)
