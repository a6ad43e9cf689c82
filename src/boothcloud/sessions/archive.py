""" "Download all": a ZIP written while it is sent, never whole in memory.

The stdlib's `zipfile` writes to an unseekable stream (local headers with data
descriptors), so the archive goes out chunk by chunk as each object is read from the
store: memory holds one chunk, whatever the number or size of the photos. Entries are
stored, not deflated: JPEGs do not shrink, and the CPU stays free.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import AsyncIterator, Sequence
from datetime import datetime

from boothcloud.storage import ObjectStore

log = logging.getLogger("boothcloud.sessions")


class _Sink:
    """A write-only file for ZipFile: keeps what was written until `drain` hands it out."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._offset = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._offset += len(data)
        return len(data)

    def tell(self) -> int:
        return self._offset

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None

    def drain(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


async def zip_stream(
    store: ObjectStore, entries: Sequence[tuple[str, str]], moment: datetime
) -> AsyncIterator[bytes]:
    """The ZIP of `(name in the archive, object key)` pairs; a missing object is left out."""
    sink = _Sink()
    stamp = (moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second)
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED) as archive:
        for name, key in entries:
            chunks = store.stream(key)
            try:
                first = await anext(chunks)
            except KeyError:
                log.warning("ZIP: object %s is missing; left out", key)
                continue
            except StopAsyncIteration:
                first = b""
            with archive.open(zipfile.ZipInfo(name, stamp), "w") as entry:
                entry.write(first)
                yield sink.drain()
                async for chunk in chunks:
                    entry.write(chunk)
                    yield sink.drain()
        # leaving the `with` writes the central directory
    yield sink.drain()
