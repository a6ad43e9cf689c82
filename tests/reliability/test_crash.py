"""Crash safety: `kill -9` of `boothcloud serve` under writes of every kind loses nothing.

`boothcloud serve --workers 2` runs on the embedded SQLite default as a real process in its
own process group, with payments going to the local Xendit server. Booth clients write
concurrently (customers, printers, make-default, photos uploaded through their presigned
URL, two claims racing on one queue, print status, payments, paid callbacks) while the
whole process group is killed with SIGKILL at a random moment, at least `ROUNDS` times,
and started again.

Each client keeps a ledger of what the server acknowledged (a 2xx answer). A request cut
by the kill is unknown: once the server is back the client settles it by retrying it
where the API is idempotent (same photo UUID, same `Idempotency-Key`, make-default, the
same callback), or by reading what is there (a printer or customer by its unique name,
the photos a cut claim may have taken). At the end, with the server stopped, the database
file is read directly: `PRAGMA integrity_check`, every acknowledged write present and
unchanged (uploaded objects byte for byte), one default printer per customer with
printers, no photo handed out by two claims, no status moved backwards (each final status
is the last acknowledged one). Prints acknowledged, found and lost.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import random
import signal
import sqlite3
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from boothcloud.licenses.certificates import CertificateSigner
from tests.conftest import ADMIN, ADMIN_TOKEN, license_auth, make_settings
from tests.fakes.xendit_server import SECRET_KEY, FakeXendit, RunningFake
from tests.live import free_port

ROUNDS = 20
CLIENTS = 6
CALLBACK_TOKEN = "crash-test-callback-token"
START_TIMEOUT = 60.0
Json = dict[str, Any]
PRINTING = {"print_status": "printing", "limit": 200}
KINDS = ("customer", "printer", "make-default", "photo", "upload", "claim", "print status",
         "payment", "callback")  # fmt: skip


class Down(Exception):
    """The request got no answer: the server was killed under it or is not up yet."""


class Served:
    """`boothcloud serve --workers 2` in its own process group, killed with SIGKILL."""

    def __init__(self, data: Path, xendit: FakeXendit) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = data.parent / "serve.log"
        self.process: asyncio.subprocess.Process | None = None
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("BOOTHCLOUD_")},
            "BOOTHCLOUD_DATA_DIR": str(data),
            "BOOTHCLOUD_ADMIN_TOKEN": ADMIN_TOKEN,
            "BOOTHCLOUD_ENVIRONMENT": "test",
            "BOOTHCLOUD_LOG_LEVEL": "warning",
            "BOOTHCLOUD_BACKUP_ENABLED": "false",
            "BOOTHCLOUD_RECONCILE_INTERVAL_SECONDS": "0",
            "BOOTHCLOUD_XENDIT_SECRET_KEY": SECRET_KEY,
            "BOOTHCLOUD_XENDIT_BASE_URL": xendit.url,
            "BOOTHCLOUD_XENDIT_CALLBACK_TOKEN": CALLBACK_TOKEN,
        }

    async def start(self) -> None:
        command = [sys.executable, "-m", "boothcloud", "serve", "--migrate"]
        command += ["--port", str(self.port), "--workers", "2"]
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_TIMEOUT
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            while loop.time() < deadline and self.process.returncode is None:
                try:
                    if (await http.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.1)
        raise RuntimeError(f"serve did not become ready:\n{self.log.read_text()[-3000:]}")

    async def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the whole process group (supervisor and both workers) and reap it."""
        if self.process is not None and self.process.returncode is None:
            os.killpg(self.process.pid, sig)
            await asyncio.wait_for(self.process.wait(), timeout=30)


@dataclass
class Ledger:
    """What the server acknowledged, as it must be found in the database at the end."""

    customers: dict[str, Json] = field(default_factory=dict)
    printers: dict[str, Json] = field(default_factory=dict)
    defaults: dict[str, str] = field(default_factory=dict)  # customer id -> printer id
    photos: dict[str, Json] = field(default_factory=dict)
    objects: dict[str, str] = field(default_factory=dict)  # object key -> sha256
    payments: dict[str, Json] = field(default_factory=dict)
    writes: Counter[str] = field(default_factory=Counter)  # acknowledged writes per entry
    kinds: Counter[str] = field(default_factory=Counter)  # acknowledged writes per kind
    violations: list[str] = field(default_factory=list)

    def ack(self, entry: str, kind: str) -> None:
        self.writes[entry] += 1
        self.kinds[kind] += 1


class Booth:
    """One client: works on its own customer, one request (or one claim race) at a time."""

    def __init__(
        self, http: httpx.AsyncClient, up: asyncio.Event, ledger: Ledger, xendit: FakeXendit
    ) -> None:
        self.http, self.up, self.ledger, self.xendit = http, up, ledger, xendit
        self.customer: str | None = None
        self.auth: dict[str, str] = {}

    # -- transport ------------------------------------------------------------------------
    async def send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.http.request(method, url, **kwargs)
        except httpx.TransportError as error:
            raise Down from error

    async def settle(self, request: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        """Send until an answer comes, waiting for the restart after each kill."""
        while True:
            try:
                return await request()
            except Down:
                await asyncio.sleep(0.05)
                await self.up.wait()

    def expect(self, answer: httpx.Response, *statuses: int) -> Json:
        if answer.status_code not in statuses:
            self.ledger.violations.append(
                f"{answer.request.method} {answer.request.url.path}: "
                f"{answer.status_code} {answer.text[:300]}"
            )
            return {}
        body: Json = answer.json() if answer.content else {}
        return body

    # -- one step -------------------------------------------------------------------------
    async def step(self, rng: random.Random) -> None:
        if self.customer is None or rng.random() < 0.03:
            await self.new_customer()
            return
        mine = [p for p, row in self.ledger.printers.items() if row["customer_id"] == self.customer]
        photos = [p for p, row in self.ledger.photos.items() if row["customer_id"] == self.customer]
        printing = [p for p in photos if self.ledger.photos[p]["print_status"] == "printing"]
        failed = [p for p in photos if self.ledger.photos[p]["print_status"] == "failed"]
        pending = [
            p for p, row in self.ledger.payments.items()
            if row["customer_id"] == self.customer and row["status"] == "pending"
        ]  # fmt: skip
        choices: list[Callable[[], Awaitable[None]]] = [self.new_photo, self.new_photo]
        if len(mine) < 3:
            choices.append(lambda: self.new_printer(rng))
        if len(mine) >= 2:
            choices.append(lambda: self.make_default(rng.choice(mine)))
        if mine:
            choices += [lambda: self.claim_race(rng, mine)] * 2
        if printing:
            done = rng.choice(("completed", "failed"))
            choices += [lambda: self.move(rng.choice(printing), done)]
        if failed:
            choices.append(lambda: self.move(rng.choice(failed), "pending"))
        choices.append(lambda: self.new_payment(rng))
        if pending:
            choices.append(lambda: self.pay(rng.choice(pending)))
        await rng.choice(choices)()

    # -- customers ------------------------------------------------------------------------
    async def new_customer(self) -> None:
        email = f"{uuid.uuid4().hex}@booth.example"
        body = {"name": f"Booth {email[:8]}", "email": email}
        try:
            answer = await self.send("POST", "/api/customers", json=body, headers=ADMIN)
            row = self.expect(answer, 201)
            acknowledged = bool(row)
        except Down:  # settle: the customer exists or it does not
            await self.up.wait()
            found = await self.settle(
                lambda: self.send("GET", "/api/customers", params={"email": email}, headers=ADMIN)
            )
            items = self.expect(found, 200).get("items", [])
            if not items:
                return
            row, acknowledged = items[0], False
        if not row:
            return
        self.customer = str(row["id"])
        self.auth = license_auth(row["license_key"])
        self.ledger.customers[self.customer] = {k: row[k] for k in ("name", "email", "license_key")}
        if acknowledged:
            self.ledger.ack(f"customer:{self.customer}", "customer")

    # -- printers -------------------------------------------------------------------------
    async def new_printer(self, rng: random.Random) -> None:
        name = f"Printer {uuid.uuid4().hex[:10]}"
        body = {"name": name, "type": rng.choice(("thermal", "inkjet")), "connection_type": "usb"}
        try:
            row = self.expect(
                await self.send("POST", "/api/printers", json=body, headers=self.auth), 201
            )
            acknowledged = bool(row)
        except Down:
            await self.up.wait()
            listed = await self.settle(lambda: self.send("GET", "/api/printers", headers=self.auth))
            named = [p for p in self.expect(listed, 200).get("items", []) if p["name"] == name]
            if not named:
                return
            row, acknowledged = named[0], False
        if not row:
            return
        printer, customer = str(row["id"]), str(row["customer_id"])
        self.ledger.printers[printer] = {"customer_id": customer, "name": name}
        if row["is_default"]:
            self.ledger.defaults[customer] = printer
        if acknowledged:
            self.ledger.ack(f"printer:{printer}", "printer")

    async def make_default(self, printer: str) -> None:
        answer = await self.settle(
            lambda: self.send(
                "PATCH", f"/api/printers/{printer}", json={"is_default": True}, headers=self.auth
            )
        )
        if self.expect(answer, 200):
            customer = self.ledger.printers[printer]["customer_id"]
            self.ledger.defaults[customer] = printer
            self.ledger.ack(f"default:{customer}", "make-default")

    # -- photos and the print queue -------------------------------------------------------
    async def new_photo(self) -> None:
        photo = str(uuid.uuid4())
        answer = await self.settle(
            lambda: self.send("POST", "/api/photos", json={"id": photo}, headers=self.auth)
        )
        row = self.expect(answer, 200, 201)
        if not row:
            return
        self.ledger.photos[photo] = {
            "customer_id": self.customer, "print_status": "pending", "printer_id": None,
        }  # fmt: skip
        self.ledger.ack(f"photo:{photo}", "photo")
        image = os.urandom(random.randint(2_000, 30_000))
        put = await self.settle(lambda: self.send("PUT", row["upload_url"], content=image))
        if put.status_code in (200, 201, 204):
            self.ledger.objects[row["r2_key"]] = hashlib.sha256(image).hexdigest()
            self.ledger.ack(f"object:{row['r2_key']}", "upload")
        else:
            self.expect(put, 200)

    async def claim_race(self, rng: random.Random, printers: list[str]) -> None:
        """Two claims at once on this customer's queue: never the same photo twice."""
        chosen = [rng.choice(printers), rng.choice(printers)]
        answers = await asyncio.gather(
            *(self.send("POST", f"/api/printers/{p}/claim", headers=self.auth) for p in chosen),
            return_exceptions=True,
        )
        cut = 0
        for answer in answers:
            if isinstance(answer, Down):
                cut += 1
            elif isinstance(answer, BaseException):
                raise answer
            elif answer.status_code == 200:
                self.claimed(answer.json(), acknowledged=True)
            else:
                self.expect(answer, 204)
        if cut:  # a cut claim may have taken a photo: adopt what is now printing
            await self.up.wait()
            listed = await self.settle(
                lambda: self.send("GET", "/api/photos", params=PRINTING, headers=self.auth)
            )
            taken = [
                p for p in self.expect(listed, 200).get("items", [])
                if self.ledger.photos.get(p["id"], {}).get("print_status") == "pending"
            ]  # fmt: skip
            if len(taken) > cut:
                self.ledger.violations.append(f"{cut} cut claims took {len(taken)} photos")
            for photo in taken:
                if photo["printer_id"] not in chosen:
                    self.ledger.violations.append(f"{photo['id']} claimed by another printer")
                self.claimed(photo, acknowledged=False)

    def claimed(self, photo: Json, *, acknowledged: bool) -> None:
        entry = self.ledger.photos.get(photo["id"])
        if entry is None or entry["print_status"] != "pending":
            self.ledger.violations.append(f"photo {photo['id']} handed out while {entry}")
            return
        entry.update(print_status=photo["print_status"], printer_id=photo["printer_id"])
        if acknowledged:
            self.ledger.ack(f"photo:{photo['id']}", "claim")

    async def move(self, photo: str, status: str) -> None:
        """A print-status change; a retry after a cut one may find it already applied."""
        url = f"/api/photos/{photo}"
        answer = await self.settle(
            lambda: self.send("PATCH", url, json={"print_status": status}, headers=self.auth)
        )
        if answer.status_code == 409:  # the cut attempt was applied: check that it was
            answer = await self.settle(lambda: self.send("GET", url, headers=self.auth))
            if self.expect(answer, 200).get("print_status") != status:
                self.ledger.violations.append(f"{photo}: {status} refused: {answer.text}")
                return
            self.ledger.writes[f"photo:{photo}"] -= 1  # settled by reading, not acknowledged
            self.ledger.kinds["print status"] -= 1
        row = self.expect(answer, 200)
        if row:
            self.ledger.photos[photo].update(
                print_status=row["print_status"], printer_id=row["printer_id"]
            )
            self.ledger.ack(f"photo:{photo}", "print status")

    # -- payments -------------------------------------------------------------------------
    async def new_payment(self, rng: random.Random) -> None:
        headers = {**self.auth, "Idempotency-Key": uuid.uuid4().hex}
        body = {"amount": rng.randrange(10_000, 500_000, 500)}
        answer = await self.settle(
            lambda: self.send("POST", "/api/payments", json=body, headers=headers)
        )
        if answer.status_code == 409:  # the cut attempt stopped before Xendit answered
            return
        row = self.expect(answer, 201)
        if row:
            self.ledger.payments[row["id"]] = {
                "customer_id": row["customer_id"], "amount": row["amount"],
                "platform_fee": row["platform_fee"], "status": "pending",
                "invoice": row["xendit_payment_id"],
            }  # fmt: skip
            self.ledger.ack(f"payment:{row['id']}", "payment")

    async def pay(self, payment: str) -> None:
        """The guest pays; Xendit's callback arrives (again after a cut, as Xendit retries)."""
        invoice = self.ledger.payments[payment]["invoice"]
        self.xendit.set_status(invoice, "PAID")
        body = self.xendit.callback(invoice)
        headers = {"x-callback-token": CALLBACK_TOKEN}
        answer = await self.settle(
            lambda: self.send("POST", "/api/webhooks/xendit", json=body, headers=headers)
        )
        if self.expect(answer, 200):
            self.ledger.payments[payment]["status"] = "completed"
            self.ledger.ack(f"payment:{payment}", "callback")


def check(database: Path, objects: Path, ledger: Ledger) -> tuple[int, list[str]]:
    """Compare the database with the ledger; returns (acknowledged writes found, problems)."""
    conn = sqlite3.connect(database)
    conn.row_factory = sqlite3.Row
    problems: list[str] = []
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    if integrity != "ok":
        problems.append(f"integrity_check: {integrity}")

    def rows(sql: str) -> dict[str, Json]:
        return {r["id"]: dict(r) for r in conn.execute(sql)}

    customers = rows("SELECT id, name, email, license_key FROM customers")
    printers = rows("SELECT id, customer_id, name, is_default FROM printers")
    photos = rows("SELECT id, customer_id, print_status, printer_id FROM photos")
    payments = rows("SELECT id, customer_id, amount, platform_fee, status FROM payments")
    several = conn.execute(
        "SELECT customer_id, SUM(is_default) AS n FROM printers GROUP BY customer_id"
        " HAVING SUM(is_default) != 1"
    ).fetchall()
    problems += [f"customer {r['customer_id']} has {r['n']} default printers" for r in several]
    conn.close()

    def same(found: Json | None, expected: Json) -> bool:
        return found is not None and all(found[k] == v for k, v in expected.items())

    verdicts: dict[str, bool] = {}
    for cid, row in ledger.customers.items():
        verdicts[f"customer:{cid}"] = same(customers.get(cid), row)
    for pid, row in ledger.printers.items():
        verdicts[f"printer:{pid}"] = same(printers.get(pid), row)
    for cid, pid in ledger.defaults.items():
        verdicts[f"default:{cid}"] = same(printers.get(pid), {"is_default": 1})
    for pid, row in ledger.photos.items():
        verdicts[f"photo:{pid}"] = same(photos.get(pid), row)
    for key, digest in ledger.objects.items():
        path = objects / key
        found = hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None
        verdicts[f"object:{key}"] = found == digest
    for pid, row in ledger.payments.items():
        expected = {k: v for k, v in row.items() if k != "invoice"}
        verdicts[f"payment:{pid}"] = same(payments.get(pid), expected)
    problems += [f"{entry} lost or changed" for entry, ok in verdicts.items() if not ok]
    found_writes = sum(n for entry, n in ledger.writes.items() if verdicts.get(entry, False))
    return found_writes, problems


@pytest.fixture
def xendit() -> Iterator[FakeXendit]:
    running = RunningFake()
    fake = running.start()
    fake.callback_token = CALLBACK_TOKEN
    yield fake
    running.stop()


async def test_acknowledged_writes_survive_kill_9(tmp_path: Path, xendit: FakeXendit) -> None:
    data = tmp_path / "data"
    # The signing key exists before the workers start, as after any first start.
    CertificateSigner.load_or_create(make_settings(data))
    server = Served(data, xendit)
    ledger = Ledger()
    up = asyncio.Event()
    stop = asyncio.Event()
    rng = random.Random()
    seed = rng.randrange(2**32)
    rng.seed(seed)

    async def client(n: int) -> None:
        booth_rng = random.Random(seed + n)
        async with httpx.AsyncClient(base_url=server.url, timeout=15) as http:
            booth = Booth(http, up, ledger, xendit)
            await up.wait()
            while not stop.is_set():
                try:
                    await booth.step(booth_rng)
                except Down:  # cut between the steps of a settle: start the next step
                    await up.wait()

    clients = [asyncio.create_task(client(n)) for n in range(CLIENTS)]
    try:
        for _ in range(ROUNDS):
            await server.start()
            up.set()
            await asyncio.sleep(rng.uniform(0.3, 1.5))
            up.clear()
            await server.kill()
        await server.start()  # the clients settle what the last kill cut, then stop
        up.set()
        stop.set()
        await asyncio.wait_for(asyncio.gather(*clients), timeout=60)
    finally:
        for task in clients:
            task.cancel()
        await server.kill(signal.SIGTERM)

    acknowledged = sum(ledger.writes.values())
    found, problems = check(data / "boothcloud.db", data / "objects", ledger)
    print(
        f"\ncrash safety (seed {seed}): {ROUNDS} kill -9 rounds, "
        f"acknowledged {acknowledged}, found {found}, lost {acknowledged - found}; "
        + ", ".join(f"{kind} {n}" for kind, n in sorted(ledger.kinds.items()))
    )
    assert set(ledger.kinds) == set(KINDS)  # every kind of write was acknowledged
    assert problems == []
    assert ledger.violations == []
    assert found == acknowledged
