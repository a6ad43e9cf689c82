"""The embedded SQLite backend: atomic batches, named constraint errors, concurrency."""

from __future__ import annotations

import asyncio
import multiprocessing
import sqlite3
from pathlib import Path

import pytest

from boothcloud.backups.sqltext import values_rows
from boothcloud.db import open_database
from boothcloud.db.base import IntegrityViolation, Statement
from boothcloud.db.sqlite import SQLiteDatabase
from tests.conftest import make_settings

SCHEMA = """
CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, v TEXT UNIQUE NOT NULL,
  n INTEGER CONSTRAINT n_positive CHECK (n > 0));
CREATE TABLE IF NOT EXISTS child (id INTEGER PRIMARY KEY, t_id INTEGER NOT NULL REFERENCES t(id));
"""


@pytest.fixture
async def db(tmp_path: Path):  # type: ignore[no-untyped-def]
    database = SQLiteDatabase(tmp_path / "t.db")
    await database.executescript(SCHEMA)
    yield database
    await database.close()


async def test_execute_returns_rows_and_changes(db: SQLiteDatabase) -> None:
    result = await db.execute("INSERT INTO t (v, n) VALUES (?, ?) RETURNING id, v", ("a", 1))
    assert result.rows == [{"id": 1, "v": "a"}]
    assert result.changes == 1
    updated = await db.execute("UPDATE t SET n = n + 1 WHERE n > 0")
    assert updated.changes == 1
    assert await db.fetch_all("SELECT v, n FROM t") == [{"v": "a", "n": 2}]


async def test_batch_is_all_or_nothing(db: SQLiteDatabase) -> None:
    await db.execute("INSERT INTO t (v, n) VALUES ('a', 1)")
    with pytest.raises(IntegrityViolation) as caught:
        await db.batch(
            [
                Statement("INSERT INTO t (v, n) VALUES ('b', 1)"),
                Statement("UPDATE t SET n = 5 WHERE v = 'a'"),
                Statement("INSERT INTO t (v, n) VALUES ('a', 1)"),
            ]
        )
    assert (caught.value.kind, caught.value.constraint) == ("unique", "t.v")
    assert await db.fetch_all("SELECT v, n FROM t") == [{"v": "a", "n": 1}]


@pytest.mark.parametrize(
    ("sql", "kind", "constraint"),
    [
        ("INSERT INTO t (v, n) VALUES ('x', -1)", "check", "n_positive"),
        ("INSERT INTO t (v, n) VALUES (NULL, 1)", "not_null", "t.v"),
        ("INSERT INTO child (t_id) VALUES (999)", "foreign_key", "FOREIGN KEY"),
    ],
)
async def test_constraint_errors_are_named(
    db: SQLiteDatabase, sql: str, kind: str, constraint: str
) -> None:
    with pytest.raises(IntegrityViolation) as caught:
        await db.execute(sql)
    assert (caught.value.kind, caught.value.constraint) == (kind, constraint)


async def test_executescript_is_atomic(db: SQLiteDatabase) -> None:
    with pytest.raises(sqlite3.OperationalError):
        await db.executescript(
            "INSERT INTO t (v, n) VALUES ('s', 1); INSERT INTO nowhere VALUES (1);"
        )
    assert await db.fetch_all("SELECT v FROM t") == []


async def test_concurrent_writes_are_serialized_without_loss(db: SQLiteDatabase) -> None:
    await db.execute("INSERT INTO t (v, n) VALUES ('counter', 1)")
    await asyncio.gather(
        *(db.execute("UPDATE t SET n = n + 1 WHERE v = 'counter'") for _ in range(200))
    )
    assert await db.fetch_one("SELECT n FROM t WHERE v = 'counter'") == {"n": 201}


def _increment_in_another_process(path: str, times: int) -> None:
    async def run() -> None:
        db = SQLiteDatabase(path)
        for _ in range(times):
            await db.execute("UPDATE t SET n = n + 1 WHERE v = 'counter'")
        await db.close()

    asyncio.run(run())


async def test_several_processes_share_one_file(db: SQLiteDatabase) -> None:
    await db.execute("INSERT INTO t (v, n) VALUES ('counter', 1)")
    ctx = multiprocessing.get_context("spawn")
    workers = [
        ctx.Process(target=_increment_in_another_process, args=(str(db.path), 100))
        for _ in range(3)
    ]
    for worker in workers:
        worker.start()
    await asyncio.gather(
        *(db.execute("UPDATE t SET n = n + 1 WHERE v = 'counter'") for _ in range(100))
    )
    for worker in workers:
        await asyncio.to_thread(worker.join, 60)
        assert worker.exitcode == 0
    assert await db.fetch_one("SELECT n FROM t WHERE v = 'counter'") == {"n": 401}


async def test_reads_see_a_snapshot_while_dumping(db: SQLiteDatabase) -> None:
    await db.batch(
        [Statement("INSERT INTO t (v, n) VALUES (?, 1)", (f"row{i}",)) for i in range(1200)]
    )
    statements = []
    async for statement in db.dump():
        statements.append(statement)
        if len(statements) == 3:
            await db.execute("INSERT INTO t (v, n) VALUES ('late', 1)")  # writer not blocked
    inserts = [s for s in statements if s.startswith('INSERT INTO "t"')]
    assert sum(values_rows(s) for s in inserts) == 1200  # multi-row INSERTs
    assert statements[0] == "PRAGMA defer_foreign_keys=TRUE;"
    assert not any(s.upper().startswith(("BEGIN", "COMMIT")) for s in statements)
    restored = sqlite3.connect(":memory:")
    restored.executescript("\n".join(statements))
    assert restored.execute("SELECT COUNT(*) FROM t").fetchone() == (1200,)


async def test_concurrent_units_fail_alone(db: SQLiteDatabase) -> None:
    """Concurrent write units succeed or fail one by one, never taking others with them."""
    await db.execute("INSERT INTO t (v, n) VALUES ('taken', 1)")

    async def unit(i: int) -> str:
        value = "taken" if i % 7 == 0 else f"v{i}"
        try:
            await db.batch(
                [
                    Statement("INSERT INTO t (v, n) VALUES (?, 1)", (f"pair{i}",)),
                    Statement("INSERT INTO t (v, n) VALUES (?, 1)", (value,)),
                ]
            )
        except IntegrityViolation as error:
            return error.constraint
        return "ok"

    outcomes = await asyncio.gather(*(unit(i) for i in range(100)))
    failed = {i for i, outcome in enumerate(outcomes) if outcome != "ok"}
    assert failed == {i for i in range(100) if i % 7 == 0}
    assert {outcomes[i] for i in failed} == {"t.v"}
    rows = await db.fetch_all("SELECT v FROM t")
    stored = {r["v"] for r in rows}
    assert all(f"pair{i}" not in stored for i in failed)  # a failed unit left nothing
    assert all({f"pair{i}", f"v{i}"} <= stored for i in range(100) if i not in failed)
    assert len(stored) == 1 + 2 * (100 - len(failed))


async def test_checkpoints_run_off_the_write_path(db: SQLiteDatabase) -> None:
    """Writers never checkpoint (wal_autocheckpoint=0); the checkpoint thread moves the WAL
    into the database file within a second or so, and closing truncates the WAL."""
    main_file = db.path
    before = main_file.stat().st_size
    await db.batch(
        [Statement("INSERT INTO t (v, n) VALUES (?, 1)", (f"row{i:05}" * 20,)) for i in range(3000)]
    )
    for _ in range(50):
        if main_file.stat().st_size > before:
            break
        await asyncio.sleep(0.1)
    assert main_file.stat().st_size > before
    await db.close()
    wal = main_file.with_name(main_file.name + "-wal")
    assert not wal.exists() or wal.stat().st_size == 0


def wal_generation(wal: Path) -> int:
    """The WAL header's checkpoint sequence number: SQLite adds one each time the WAL
    starts over from its beginning (https://sqlite.org/fileformat2.html#walformat)."""
    with wal.open("rb") as file:
        header = file.read(16)
    return int.from_bytes(header[12:16], "big") if len(header) == 16 else 0


async def test_wal_starts_over_under_sustained_writes(tmp_path: Path) -> None:
    """Writes that never pause long enough for a checkpoint to find every frame copied
    (one every millisecond): SQLite alone would never start the WAL over, and the file
    would grow by every frame written (70 MB for these 16 MB of rows). The checkpoint
    thread makes it start over (a RESTART under the write lock) once it holds half its
    ceiling, so it starts over several times and stays within its ceiling, and every row
    is kept. The ceiling gets the slack of one more half: a machine that starves the
    checkpoint thread (a loaded test run) lets the WAL grow a little past it."""
    ceiling = 8 * 1024 * 1024  # the WAL grows ~2 MB between two looks (0.2 s) here
    db = SQLiteDatabase(tmp_path / "w.db", wal_max_bytes=ceiling)
    await db.executescript(SCHEMA)
    wal = tmp_path / "w.db-wal"
    largest = written = 0
    generations = set()
    while written < 2 * ceiling:
        await db.execute("INSERT INTO t (v, n) VALUES (?, 1)", (f"{written}-" + "x" * 8000,))
        written += 8000
        largest = max(largest, wal.stat().st_size)
        generations.add(wal_generation(wal))
        await asyncio.sleep(0.001)
    assert len(generations) >= 2  # it started over at least once
    assert largest < ceiling * 3 // 2
    assert await db.fetch_one("SELECT COUNT(*) AS n FROM t") == {"n": written // 8000}
    await db.close()


async def test_wal_comes_back_under_its_ceiling_after_a_long_read(tmp_path: Path) -> None:
    """A reader pinning an old snapshot lets the WAL grow past its ceiling under a burst of
    writes (nothing may be checkpointed past that snapshot); once it lets go, the WAL is
    truncated back under the ceiling while writes carry on (a PASSIVE checkpoint alone
    copies the frames but leaves the file at its largest)."""
    ceiling = 1024 * 1024
    db = SQLiteDatabase(tmp_path / "w.db", wal_max_bytes=ceiling)
    await db.executescript(SCHEMA)
    wal = tmp_path / "w.db-wal"
    reader = sqlite3.connect(tmp_path / "w.db", isolation_level=None)
    reader.execute("BEGIN")
    assert reader.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)  # snapshot taken
    try:
        for burst in range(20):
            await db.batch(
                [
                    Statement("INSERT INTO t (v, n) VALUES (?, 1)", (f"{burst}-{i}-" + "x" * 900,))
                    for i in range(100)
                ]
            )
            await asyncio.sleep(0.05)  # the checkpoint thread gets its turns, in vain
        assert wal.stat().st_size > ceiling
        assert reader.execute("SELECT COUNT(*) FROM t").fetchone() == (0,)  # still pinned
    finally:
        reader.execute("ROLLBACK")
        reader.close()
    for i in range(400):  # writes go on; the WAL must come back under its ceiling
        await db.execute("INSERT INTO t (v, n) VALUES (?, 1)", (f"after-{i}",))
        if wal.stat().st_size < ceiling:
            break
        await asyncio.sleep(0.05)
    assert wal.stat().st_size < ceiling
    assert await db.fetch_one("SELECT COUNT(*) AS n FROM t WHERE v LIKE '19-%'") == {"n": 100}
    await db.close()


@pytest.mark.parametrize(("setting", "pragma"), [("NORMAL", 1), ("FULL", 2)])
async def test_synchronous_comes_from_the_settings(
    tmp_path: Path, setting: str, pragma: int
) -> None:
    db = open_database(make_settings(tmp_path / "data", sqlite_synchronous=setting))
    try:
        answer = await db.execute("PRAGMA synchronous")  # on the writer's connection
        assert answer.rows == [{"synchronous": pragma}]
    finally:
        await db.close()
