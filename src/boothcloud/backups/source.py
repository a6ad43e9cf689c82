"""Fetch a dump to verify or restore, check it against its manifest, and read it back.

A source is a backup key in the object store (its manifest is then required: without it
nothing proves the bytes are the ones written), any other key or local file such as a
`wrangler d1 export` (`.sql` or `.sql.gz`, no manifest: parsed and counted only), or a
downloaded `.sql.gz` with its `.json` manifest beside it.

Everything streams: the compressed bytes are hashed as they are read, and decompressed
text flows on in blocks, so memory stays flat however large the dump. A checksummed dump
is not re-parsed in Python (the writer counted its rows, the checksum proves these are
those bytes, and a restore counts again in SQLite); a foreign one is split and counted
statement by statement.
"""

from __future__ import annotations

import asyncio
import codecs
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

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
from boothcloud.backups.stream import (
    DECODE_ERRORS,
    HashedReader,
    inflate,
    prefetch,
    statement_blocks,
)
from boothcloud.db.dump import DUMP_HEADER
from boothcloud.storage import ObjectReader, ObjectStore

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Source:
    """Where a dump's bytes come from; `open` reads them from the start (blocking)."""

    name: str
    size: int
    open: Callable[[], ObjectReader]
    manifest: Backup | None


@dataclass(frozen=True, slots=True)
class VerifyReport:
    name: str
    size: int
    sha256: str
    checksum_checked: bool  # False: no manifest to check against (a foreign dump)
    statements: int | None  # None: a checksummed dump, checked by SQLite's tokenizer
    tables: dict[str, int]


async def _in_store(store: ObjectStore, name: str) -> int | None:
    """The object's size when `name` is a key in the store, else None."""
    try:
        info = await store.head(name)
    except ValueError:  # not a valid object key (an absolute path, ...)
        return None
    return None if info is None else info.size


async def load_source(store: ObjectStore, name: str) -> Source:
    """Find a source and its manifest; its size is checked against the manifest at once."""
    size = await _in_store(store, name)
    if size is not None:
        manifest = None
        if naming.is_backup_dump(name):
            if await _in_store(store, naming.manifest_key(name)) is None:
                raise BackupError(f"{name} has no manifest; its checksum cannot be verified")
            manifest = _parse_manifest(name, await store.get(naming.manifest_key(name)))
        found = Source(name, size, lambda: store.open_reader(name), manifest)
    else:
        local = await asyncio.to_thread(_load_local, name)
        if local is None:
            raise BackupError(f"no backup {name!r} in the object store, and no such local file")
        found = local
    if found.manifest is not None and found.size != found.manifest.size:
        _mismatch(found, "a different object", found.size)
    return found


def _load_local(name: str) -> Source | None:
    path = Path(name).expanduser()
    if not path.is_file():
        return None
    beside = path.with_name(naming.manifest_key(path.name))
    manifest = None
    if path.name.endswith(naming.DUMP_SUFFIX) and beside.is_file():
        manifest = _parse_manifest(str(beside), beside.read_bytes())
    return Source(name, path.stat().st_size, lambda: path.open("rb"), manifest)


def _parse_manifest(name: str, raw: bytes) -> Backup:
    try:
        return Backup.model_validate_json(raw)
    except ValidationError as error:
        raise BackupError(f"manifest of {name} is unreadable: {error.errors()[0]['msg']}") from None


def _mismatch(source: Source, actual: str, size: int) -> None:
    assert source.manifest is not None
    expected = source.manifest.sha256
    raise BackupError(
        f"checksum mismatch for {source.name}: manifest says sha256 {expected[:16]}… "
        f"({source.manifest.size} bytes), object is {actual[:16]}… ({size} bytes)"
    )


def read_checked(
    source: Source, progress: Progress, consume: Callable[[Iterator[bytes]], T]
) -> tuple[T, str]:
    """Run `consume` over the decompressed text while hashing the compressed bytes; then
    (result, sha256). The object is read once, on a thread ahead of `consume`; a checksum
    that differs from the manifest wins over whatever else went wrong, since it explains
    it. Blocking: call on a worker thread."""
    progress.start("Reading", source.size)
    hashed = HashedReader(source.open(), progress)
    chunks = prefetch(iter(hashed))
    try:
        try:
            result = consume(inflate(chunks))
        except (BackupError, *DECODE_ERRORS) as error:
            if source.manifest is not None:
                for _ in chunks:  # hash the rest: a different object explains the failure
                    pass
                _check_digest(source, hashed)
            if isinstance(error, BackupError):
                raise
            raise BackupError(f"the dump cannot be decompressed or decoded: {error}") from None
        for _ in chunks:
            pass
        _check_digest(source, hashed)
        return result, hashed.sha256.hexdigest()
    finally:
        chunks.close()  # type: ignore[attr-defined]


def _check_digest(source: Source, hashed: HashedReader) -> None:
    if source.manifest is None:
        return
    actual = hashed.sha256.hexdigest()
    if hashed.size != source.manifest.size or actual != source.manifest.sha256:
        _mismatch(source, actual, hashed.size)


def iter_statements(texts: Iterable[bytes]) -> Iterator[str]:
    """Every statement of a decompressed dump, split by SQLite's tokenizer (foreign dumps)."""
    decoder = codecs.getincrementaldecoder("utf-8")()

    def lines() -> Iterator[str]:
        for text in texts:
            yield from decoder.decode(text).splitlines(keepends=True)
        yield decoder.decode(b"", final=True)

    try:
        yield from split_statements(lines())
    except DumpFormatError as error:
        raise BackupError(str(error)) from None


def scan_statements(texts: Iterable[bytes], stats: DumpStats) -> Iterator[str]:
    """Statements of a dump without manifest, counted and checked for D1 on the way."""
    for statement in iter_statements(texts):
        stats.add(statement)
        yield statement


def check_blocks(name: str, texts: Iterable[bytes]) -> Iterator[str]:
    """Blocks of a checksummed dump's statements, its header checked (see `statement_blocks`)."""
    first = True
    for block in statement_blocks(texts):
        if first and not block.startswith(DUMP_HEADER):
            raise BackupError(f"{name} does not start with `{DUMP_HEADER}`")
        first = False
        yield block


def check_ends(name: str, texts: Iterable[bytes]) -> None:
    """Inflate a checksummed dump whole (gzip checks its CRC and length) and check its two
    ends: the header first, a finished statement last. Its middle is the writer's, which
    the checksum proves; tokenizing it again would cost as much as decompressing."""
    header = DUMP_HEADER.encode()
    head = tail = b""
    for text in texts:
        if len(head) < len(header):
            head += text[: len(header)]
        tail = (tail + text)[-64:]
    if not head.startswith(header):
        raise BackupError(f"{name} does not start with `{DUMP_HEADER}`")
    if not tail.rstrip().endswith(b";"):
        raise BackupError("the dump ends in the middle of a statement (truncated?)")


def scan(source: Source, progress: Progress | None = None) -> VerifyReport:
    """Read the whole dump: a checksummed backup must hash to its manifest and inflate whole
    between a header and a finished statement; a foreign dump is parsed statement by
    statement, each of which must be D1-importable, and counted."""

    def check(texts: Iterator[bytes]) -> tuple[int | None, dict[str, int]]:
        if source.manifest is not None:
            check_ends(source.name, texts)
            return None, source.manifest.tables
        stats = DumpStats()
        for statement in scan_statements(texts, stats):
            if (problem := d1_problem(statement)) is not None:
                raise BackupError(f"{source.name} would not import into D1: {problem}")
        if not header_ok(stats):
            raise BackupError(f"{source.name} does not start with `{DUMP_HEADER}`")
        return stats.statements, stats.tables

    (statements, tables), sha256 = read_checked(source, progress or NoProgress(), check)
    return VerifyReport(
        name=source.name,
        size=source.size,
        sha256=sha256,
        checksum_checked=source.manifest is not None,
        statements=statements,
        tables=tables,
    )


def describe_differences(expected: dict[str, int], actual: dict[str, int]) -> str:
    names = sorted(set(expected) | set(actual))
    differing = [n for n in names if expected.get(n) != actual.get(n)]
    return ", ".join(f"{n} expected {expected.get(n)} got {actual.get(n)}" for n in differing)


async def verify(store: ObjectStore, name: str, progress: Progress | None = None) -> VerifyReport:
    """Checksum and decompress a backup (parse a foreign one) without restoring it."""
    source = await load_source(store, name)
    return await asyncio.to_thread(scan, source, progress)
