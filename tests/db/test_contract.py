"""One contract, two backends: the embedded SQLite file and a real (local) D1.

Every test runs on both (`db` is parametrized; the D1 half is marked `d1`), so domain code
that passes on SQLite behaves the same on D1: reads, RETURNING, atomic batches, atomic
scripts, constraint names, and a dump that imports into `sqlite3`.
"""

from __future__ import annotations

import sqlite3
import uuid
from typing import Any

import pytest

from boothcloud.backups.sqltext import InsertPacker
from boothcloud.db.base import Database, IntegrityViolation, Statement
from boothcloud.db.dump import DUMP_HEADER, MAX_STATEMENT_BYTES


def new_id(prefix: str = "t") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"


async def scratch_table(db: Database) -> str:
    """A table of the test's own (the D1 database is shared by the whole session)."""
    name = new_id()
    await db.executescript(
        f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, "
        "amount INTEGER, ratio REAL, data BLOB, note TEXT);"
    )
    return name


async def insert_customer(db: Database, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": new_id("cus"),
        "name": "Studio",
        "email": f"{new_id('mail')}@example.com",
        "license_key": new_id("PB"),
        "purchase_date": "2026-11-25 10:00:00",
    }
    row.update(overrides)
    await db.execute(
        "INSERT INTO customers (id, name, email, license_key, purchase_date) "
        "VALUES (?, ?, ?, ?, ?)",
        (row["id"], row["name"], row["email"], row["license_key"], row["purchase_date"]),
    )
    return row


# --- reads and writes -------------------------------------------------------------------


async def test_fetch_round_trips_values(db: Database) -> None:
    table = await scratch_table(db)
    values = (7, "Studio \u2603 'quoted' \"double\"", 2**40, 0.25, b"\x00\x01\xffbytes", None)
    await db.execute(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?)", values)

    row = await db.fetch_one(f"SELECT * FROM {table} WHERE id = ?", (7,))
    assert row == dict(zip(["id", "name", "amount", "ratio", "data", "note"], values, strict=True))
    assert await db.fetch_one(f"SELECT * FROM {table} WHERE id = ?", (8,)) is None
    assert await db.fetch_all(f"SELECT id FROM {table} WHERE id > ?", (100,)) == []
    assert await db.fetch_one("SELECT ? AS a, ? AS b, ? AS c", (True, None, "x")) == {
        "a": 1,
        "b": None,
        "c": "x",
    }


async def test_fetch_all_keeps_order_and_columns(db: Database) -> None:
    table = await scratch_table(db)
    await db.batch(
        [Statement(f"INSERT INTO {table} (id, name) VALUES (?, ?)", (i, f"n{i}")) for i in range(5)]
    )
    rows = await db.fetch_all(f"SELECT name, id FROM {table} ORDER BY id DESC")
    assert rows == [{"name": f"n{i}", "id": i} for i in reversed(range(5))]
    assert [list(r) for r in rows] == [["name", "id"]] * 5


async def test_execute_returns_returning_rows_and_changes(db: Database) -> None:
    table = await scratch_table(db)
    inserted = await db.execute(
        f"INSERT INTO {table} (id, name, amount) VALUES (?, ?, ?) RETURNING id, name, amount",
        (1, "a", 10),
    )
    assert inserted.rows == [{"id": 1, "name": "a", "amount": 10}]
    assert inserted.changes == 1
    await db.execute(f"INSERT INTO {table} (id, name, amount) VALUES (2, 'b', 20)")

    updated = await db.execute(f"UPDATE {table} SET amount = amount + 1 RETURNING id")
    assert sorted(r["id"] for r in updated.rows) == [1, 2]
    assert updated.changes == 2

    missed = await db.execute(f"UPDATE {table} SET amount = 0 WHERE id = 99")
    assert (missed.rows, missed.changes) == ([], 0)

    selected = await db.execute(f"SELECT count(*) AS n FROM {table}")
    assert (selected.rows, selected.changes) == ([{"n": 2}], 0)

    deleted = await db.execute(f"DELETE FROM {table} WHERE id = 1")
    assert (deleted.first(), deleted.changes) == (None, 1)


async def test_batch_returns_one_result_per_statement(db: Database) -> None:
    table = await scratch_table(db)
    results = await db.batch(
        [
            Statement(f"INSERT INTO {table} (id, name) VALUES (?, ?) RETURNING id", (1, "a")),
            Statement(f"INSERT INTO {table} (id, name) VALUES (?, ?)", (2, "b")),
            Statement(f"UPDATE {table} SET amount = 5"),
            Statement(f"SELECT id FROM {table} ORDER BY id"),
        ]
    )
    assert [(r.rows, r.changes) for r in results] == [
        ([{"id": 1}], 1),
        ([], 1),
        ([], 2),
        ([{"id": 1}, {"id": 2}], 0),
    ]
    assert await db.batch([]) == []


async def test_failing_statement_in_batch_leaves_nothing_written(db: Database) -> None:
    table = await scratch_table(db)
    await db.execute(f"INSERT INTO {table} (id, name) VALUES (1, 'taken')")
    with pytest.raises(IntegrityViolation) as caught:
        await db.batch(
            [
                Statement(f"INSERT INTO {table} (id, name) VALUES (2, 'new')"),
                Statement(f"UPDATE {table} SET amount = 99"),
                Statement(f"INSERT INTO {table} (id, name) VALUES (3, 'taken')"),
            ]
        )
    assert (caught.value.kind, caught.value.constraint) == ("unique", f"{table}.name")
    assert await db.fetch_all(f"SELECT id, amount FROM {table}") == [{"id": 1, "amount": None}]


async def test_bad_sql_raises_and_writes_nothing(db: Database) -> None:
    table = await scratch_table(db)
    with pytest.raises(Exception, match="syntax error") as caught:
        await db.batch(
            [
                Statement(f"INSERT INTO {table} (id, name) VALUES (1, 'a')"),
                Statement("INSERTT INTO nowhere VALUES (1)"),
            ]
        )
    assert not isinstance(caught.value, IntegrityViolation)
    with pytest.raises(Exception, match="no such table"):
        await db.fetch_all("SELECT * FROM no_such_table_here")
    assert await db.fetch_all(f"SELECT * FROM {table}") == []


# --- constraint names -------------------------------------------------------------------


async def test_integrity_violations_name_the_same_constraints(db: Database) -> None:
    first = await insert_customer(db)

    async def refused(**fields: Any) -> tuple[str, str]:
        with pytest.raises(IntegrityViolation) as caught:
            await insert_customer(db, **fields)
        return caught.value.kind, caught.value.constraint

    # An exact duplicate trips the expression index first, on SQLite and on D1 alike.
    assert await refused(email=first["email"]) == ("unique", "customers_email_lower")
    assert await refused(email=first["email"].upper()) == ("unique", "customers_email_lower")
    assert await refused(license_key=first["license_key"]) == (
        "unique",
        "customers.license_key",
    )
    assert await refused(id=first["id"]) == ("unique", "customers.id")
    assert await refused(name=None) == ("not_null", "customers.name")

    with pytest.raises(IntegrityViolation) as caught:
        await db.execute(
            "UPDATE customers SET license_status = 'deleted' WHERE id = ?", (first["id"],)
        )
    assert caught.value.kind == "check"
    assert caught.value.constraint == "license_status IN ('active', 'suspended')"

    with pytest.raises(IntegrityViolation) as caught:
        await db.execute(
            "INSERT INTO payments (id, customer_id, amount, platform_fee) VALUES (?, ?, 1, 0)",
            (new_id("pay"), "cus_missing"),
        )
    assert (caught.value.kind, caught.value.constraint) == ("foreign_key", "FOREIGN KEY")

    activation = "INSERT INTO license_activations (id, customer_id, fingerprint) VALUES (?, ?, ?)"
    await db.execute(activation, (new_id("act"), first["id"], "fp-1"))
    with pytest.raises(IntegrityViolation) as caught:
        await db.batch([Statement(activation, (new_id("act"), first["id"], "fp-1"))])
    assert caught.value.constraint == (
        "license_activations.customer_id, license_activations.fingerprint"
    )
    assert str(caught.value).startswith("UNIQUE constraint failed: ")


# --- scripts ----------------------------------------------------------------------------


async def test_executescript_is_atomic(db: Database) -> None:
    table = new_id()
    script = f"""
        CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT UNIQUE);
        INSERT INTO {table} VALUES (1, 'a');
        INSERT INTO {table} VALUES (2, 'a');  -- refused: the whole script is undone
    """
    with pytest.raises(IntegrityViolation) as caught:
        await db.executescript(script)
    assert caught.value.constraint == f"{table}.name"
    assert await db.fetch_one("SELECT name FROM sqlite_master WHERE name = ?", (table,)) is None

    with pytest.raises(Exception, match="syntax error"):
        await db.executescript(f"CREATE TABLE {table} (id INTEGER); NOT SQL AT ALL;")
    assert await db.fetch_one("SELECT name FROM sqlite_master WHERE name = ?", (table,)) is None


async def test_executescript_splits_like_sqlite(db: Database) -> None:
    table = new_id()
    await db.executescript(
        f"""
        -- a comment; with a semicolon
        CREATE TABLE {table} (id INTEGER PRIMARY KEY, note TEXT, hits INTEGER DEFAULT 0);
        /* a block comment; also with one */
        CREATE TRIGGER {table}_count AFTER INSERT ON {table}
        BEGIN
            UPDATE {table} SET hits = hits + 1 WHERE id = NEW.id;
            UPDATE {table} SET note = note || '!' WHERE id = NEW.id;
        END;
        INSERT INTO {table} (id, note) VALUES (1, 'semi;colon ''quoted'' -- not a comment');
        ;
        """
    )
    assert await db.fetch_all(f"SELECT * FROM {table}") == [
        {"id": 1, "note": "semi;colon 'quoted' -- not a comment!", "hits": 1}
    ]
    await db.executescript("")  # nothing to do is fine


# --- dump -------------------------------------------------------------------------------


async def test_dump_imports_into_sqlite3(db: Database, tmp_path: Any) -> None:
    table = await scratch_table(db)
    await db.batch(
        [
            Statement(
                f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?)",
                (1, "it's \u00e9t\u00e9", -(2**50), 1.5, b"\x00\xff'", None),
            ),
            Statement(f"INSERT INTO {table} (id, name, note) VALUES (2, 'b', 'line\nbreak')"),
            Statement(
                f"INSERT INTO {table} (id, name, ratio, note) VALUES (3, 'c', ?, 'cr\r\nlf')",
                (float("-inf"),),
            ),
        ]
    )
    await insert_customer(db)

    statements = [s async for s in db.dump()]
    assert statements[0] == DUMP_HEADER
    assert all(len(s.encode()) <= MAX_STATEMENT_BYTES for s in statements)
    assert not any(s.upper().startswith(("BEGIN", "COMMIT")) for s in statements)
    assert f"CREATE TABLE IF NOT EXISTS {table} (" in "\n".join(statements)

    restored = sqlite3.connect(tmp_path / "restored.db")
    restored.executescript("\n".join(statements))
    assert restored.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert restored.execute("PRAGMA foreign_key_check").fetchall() == []
    tables = [
        name
        for (name,) in restored.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    assert {"customers", "payments", "photos", "printers", "d1_migrations", table} <= set(tables)
    for name in tables:
        cursor = restored.execute(f'SELECT * FROM "{name}" ORDER BY rowid')
        columns = [c[0] for c in cursor.description]
        got = [dict(zip(columns, row, strict=True)) for row in cursor]
        assert got == await db.fetch_all(f'SELECT * FROM "{name}" ORDER BY rowid'), name
    indexes = {n for (n,) in restored.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"customers_email_lower", "license_activations_customer"} <= indexes
    restored.close()


@pytest.mark.d1
async def test_d1_dump_matches_sqlite_dump(sqlite_db: Database, d1_db: Database) -> None:
    """The same rows make the same backup text on both backends (D1's one-row INSERTs
    packed as the backup packs them; SQLite's dump packs its own)."""
    table = new_id()
    rows = [
        (1, "a", 10, 0.5, b"\x01\x02", "x'y"),
        (2, "b\u2603", None, -2.25, None, "multi\nline"),
    ]
    for db in (sqlite_db, d1_db):
        await db.executescript(
            f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT, amount INTEGER, "
            "ratio REAL, data BLOB, note TEXT);"
        )
        await db.batch(
            [Statement(f"INSERT INTO {table} VALUES (?, ?, ?, ?, ?, ?)", r) for r in rows]
        )

    async def lines(db: Database) -> list[str]:
        packed: list[str] = []
        packer = InsertPacker(packed)
        async for statement in db.dump():
            packer.add(statement)
        packer.flush()
        return [s for s in packed if table in s]

    assert await lines(d1_db) == await lines(sqlite_db)


async def test_changes_include_trigger_and_cascade_writes(db: Database) -> None:
    """D1's `meta.changes` counts every row a statement wrote, its triggers' and foreign
    key actions' included (a `total_changes()` difference); so does the SQLite backend."""
    parent, child = new_id(), new_id()
    await db.executescript(
        f"""
        CREATE TABLE {parent} (id INTEGER PRIMARY KEY, hits INTEGER DEFAULT 0);
        CREATE TABLE {child} (id INTEGER PRIMARY KEY,
            parent_id INTEGER REFERENCES {parent}(id) ON DELETE CASCADE);
        CREATE TRIGGER {child}_hit AFTER INSERT ON {child}
        BEGIN
            UPDATE {parent} SET hits = hits + 1;
        END;
        INSERT INTO {parent} (id) VALUES (1), (2), (3);
        """
    )
    inserted = await db.execute(f"INSERT INTO {child} (id, parent_id) VALUES (1, 1), (2, 1)")
    assert inserted.changes == 2 + 2 * 3  # two rows, each firing an update of three
    deleted = await db.execute(f"DELETE FROM {parent} WHERE id = 1")
    assert deleted.changes == 1 + 2  # the parent and its two cascaded children
    assert await db.fetch_all(f"SELECT * FROM {child}") == []


async def test_one_statement_at_a_time_outside_scripts(db: Database) -> None:
    table = await scratch_table(db)
    sneaky = f"SELECT 1 AS one; DELETE FROM {table}"
    await db.execute(f"INSERT INTO {table} (id, name) VALUES (1, 'kept')")
    with pytest.raises(Exception, match="one statement at a time"):
        await db.execute(sneaky)
    with pytest.raises(Exception, match="one statement at a time"):
        await db.batch([Statement(sneaky)])
    assert await db.fetch_all(f"SELECT name FROM {table}") == [{"name": "kept"}]
    assert await db.fetch_one(f"SELECT name FROM {table};") == {"name": "kept"}
