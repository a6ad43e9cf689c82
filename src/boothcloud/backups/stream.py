"""Backup bytes in motion: gzip on a second thread into the store, and read back the same way.

zlib and hashlib release the GIL on large buffers, so compressing (and hashing) on a thread
of its own runs beside the dump on a second core instead of after it, and beside the
server's event loop without starving it. Level 4: on the benchmark database's 431 MB of
dump text (bench/backup.py) zlib took 3.7 s of CPU for 77.6 MB at level 4, 5.6 s for
76.3 MB at level 6 (`gzip`'s default) and 2.8 s for 83.7 MB at level 3; the `GzipFile`
default, 9, cost 24 s more than 6. Nothing is held whole: the upload goes out in parts,
the download comes in pieces, and at most a few blocks of each are in memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import queue
import sqlite3
import threading
import zlib
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import chain
from typing import TypeVar

from boothcloud.backups.base import BackupError, Progress
from boothcloud.storage import ObjectInfo, ObjectReader, ObjectWriter

T = TypeVar("T")
COMPRESS_LEVEL = 4
BLOCKS_IN_FLIGHT = 2  # blocks queued for the compressing thread before the dump waits
READ_BYTES = 1 << 20  # compressed bytes read at a time
INFLATE_BYTES = 1 << 20  # decompressed bytes produced at a time
STATEMENT_BLOCK_BYTES = 2 << 20  # whole statements handed to SQLite at a time
GZIP_MAGIC = b"\x1f\x8b"
GZIP_WBITS = 31  # zlib's window bits for a gzip header and trailer
# What a damaged or foreign byte stream raises while inflating and decoding.
DECODE_ERRORS = (OSError, EOFError, zlib.error, UnicodeDecodeError)


class GzipUpload:
    """Compress blocks of dump text on one worker thread into an `ObjectWriter`, hashing
    and counting the compressed bytes that go out."""

    def __init__(self, writer: ObjectWriter, level: int = COMPRESS_LEVEL) -> None:
        self._writer = writer
        self._zlib = zlib.compressobj(level, zlib.DEFLATED, GZIP_WBITS)
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="backup-gzip")
        self._pending: deque[asyncio.Future[None]] = deque()
        self.sha256 = hashlib.sha256()
        self.size = 0

    def _out(self, data: bytes) -> None:
        if data:
            self.sha256.update(data)
            self.size += len(data)
            self._writer.write(data)

    def _compress(self, block: bytes) -> None:
        self._out(self._zlib.compress(block))

    def _finish(self) -> ObjectInfo:
        self._out(self._zlib.flush())
        return self._writer.commit()

    def _run(self, work: Callable[[], T]) -> asyncio.Future[T]:
        return asyncio.wrap_future(self._thread.submit(work))

    async def send(self, block: bytes) -> None:
        """Queue a block; waits only while `BLOCKS_IN_FLIGHT` are still compressing."""
        self._pending.append(self._run(lambda: self._compress(block)))
        while len(self._pending) > BLOCKS_IN_FLIGHT:
            await self._pending.popleft()

    async def commit(self) -> ObjectInfo:
        try:
            while self._pending:
                await self._pending.popleft()
            return await self._run(self._finish)
        finally:
            self._thread.shutdown(wait=False)

    async def abort(self) -> None:
        """Discard everything: nothing appears under the key."""
        for future in self._pending:
            future.cancel()
        await asyncio.gather(*self._pending, return_exceptions=True)
        try:
            await self._run(self._writer.abort)
        finally:
            self._thread.shutdown(wait=False)


def prefetch(items: Iterator[T], depth: int = 2) -> Iterator[T]:
    """`items`, produced on a thread of their own up to `depth` ahead of the consumer."""
    slots: queue.Queue[tuple[bool, object]] = queue.Queue(depth)
    stop = threading.Event()

    def put(item: tuple[bool, object]) -> bool:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((True, item)):
                    return
            put((False, None))
        except BaseException as error:  # handed to the consumer, raised there
            put((False, error))

    thread = threading.Thread(target=produce, name="backup-read", daemon=True)
    thread.start()
    try:
        while True:
            more, item = slots.get()
            if not more:
                if isinstance(item, BaseException):
                    raise item
                return
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join()


class HashedReader:
    """An object's compressed bytes in pieces, hashed and counted as they pass."""

    def __init__(self, reader: ObjectReader, progress: Progress) -> None:
        self._reader = reader
        self._progress = progress
        self.sha256 = hashlib.sha256()
        self.size = 0

    def __iter__(self) -> Iterator[bytes]:
        try:
            while chunk := self._reader.read(READ_BYTES):
                self.sha256.update(chunk)
                self.size += len(chunk)
                self._progress.advance(len(chunk))
                yield chunk
        finally:
            self._reader.close()


def inflate(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The text of a gzip stream (every member, CRC and length checked) or of plain SQL."""
    pieces = iter(chunks)
    first = next(pieces, b"")
    if first[:2] != GZIP_MAGIC:
        if first:
            yield first
        yield from pieces
        return
    member = zlib.decompressobj(GZIP_WBITS)
    started = False
    for chunk in chain((first,), pieces):
        data = chunk
        while True:
            started = started or bool(data)
            out = member.decompress(data, INFLATE_BYTES)
            if out:
                yield out
            if member.eof:
                data, member, started = member.unused_data, zlib.decompressobj(GZIP_WBITS), False
                if not data:
                    break
                continue
            data = member.unconsumed_tail
            if not data and len(out) < INFLATE_BYTES:
                break
    if started:
        raise EOFError("compressed data ended before the end-of-stream marker")


def statement_blocks(texts: Iterable[bytes]) -> Iterator[str]:
    """The dump's text in blocks of whole statements, about `STATEMENT_BLOCK_BYTES` each.

    A block ends at a `;` before a line end where SQLite's own tokenizer
    (`sqlite3.complete_statement`, in C) says a statement ends: never inside a string
    literal or a trigger body. No statement is split or parsed in Python, which is what
    makes restores and verification run at the speed of zlib and SQLite.
    """
    pending = b""
    for text in texts:
        pending += text
        if len(pending) < STATEMENT_BLOCK_BYTES:
            continue
        cut = pending.rfind(b";\n")
        while cut >= 0:
            candidate = pending[: cut + 1].decode()
            if sqlite3.complete_statement(candidate):
                yield candidate
                pending = pending[cut + 2 :]
                break
            cut = pending.rfind(b";\n", 0, cut)
    tail = pending.decode()
    if tail.strip():
        if not sqlite3.complete_statement(tail):
            raise BackupError("the dump ends in the middle of a statement (truncated?)")
        yield tail
