"""`boothcloud-agent`: activate, run (drain + heartbeat), print, status, capture."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import time
from pathlib import Path
from types import FrameType

from boothcloud_client import BoothcloudError
from boothcloud_client.agent.core import Agent, NotActivated, default_home
from boothcloud_client.agent.identity import CertificateRefused, machine_fingerprint

log = logging.getLogger("boothcloud_agent")

EXIT_REFUSED = 3  # not activated, or a certificate that no longer lets this booth run


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="boothcloud-agent", description=__doc__)
    parser.add_argument("--home", type=Path, help="agent folder (default $BOOTHCLOUD_AGENT_HOME)")
    commands = parser.add_subparsers(dest="command", required=True)

    activate = commands.add_parser("activate", help="activate this machine (once, online)")
    activate.add_argument("--server", required=True, help="boothcloud URL")
    activate.add_argument(
        "--license-key",
        default=os.environ.get("BOOTHCLOUD_LICENSE_KEY"),
        help="the booth's license key (default $BOOTHCLOUD_LICENSE_KEY)",
    )
    activate.add_argument("--name", help="a name for this booth in the console")
    activate.add_argument(
        "--printer", action="append", default=[], metavar="QUEUE", help="a CUPS queue to print on"
    )
    activate.add_argument("--copies", type=int, default=1, help="copies per photo")

    for name, text in (
        ("run", "drain the outbox and send heartbeats"),
        ("print", "run, and print the cloud's queue on the CUPS printers"),
    ):
        loop = commands.add_parser(name, help=text)
        loop.add_argument("--interval", type=float, default=1.0, help="seconds between rounds")
        loop.add_argument(
            "--heartbeat", type=float, default=60.0, help="seconds between heartbeats"
        )
    commands.add_parser("drain", help="apply what is waiting once; exit 1 if some still waits")
    status = commands.add_parser("status", help="activation, certificate and what is waiting")
    status.add_argument("--json", action="store_true")
    capture = commands.add_parser("capture", help="queue photo files (what the plugin does)")
    capture.add_argument("files", nargs="+", type=Path)
    commands.add_parser("close-session", help="end the current guest session now")
    return parser


def _activate(agent: Agent, args: argparse.Namespace) -> int:
    if not args.license_key:
        print("a license key is needed: --license-key or $BOOTHCLOUD_LICENSE_KEY", file=sys.stderr)
        return 2
    config = agent.activate(
        args.server,
        args.license_key,
        machine_fingerprint(),
        args.name,
        tuple(args.printer),
        args.copies,
    )
    print(
        f"activated as {config.activation_id}; printers: "
        + (", ".join(f"{p.queue} -> {p.printer_id}" for p in config.printers) or "none")
    )
    return 0


def _status(agent: Agent, as_json: bool) -> int:
    entries = agent.outbox.entries()
    try:
        config = agent.config
        certificate = agent.check().message
        activation: str | None = config.activation_id
    except (NotActivated, CertificateRefused) as error:
        certificate, activation = str(error), None
    if as_json:
        print(
            json.dumps(
                {
                    "activation_id": activation,
                    "certificate": certificate,
                    "waiting": [
                        {
                            "seq": e.seq,
                            "kind": e.kind,
                            **e.payload,
                            "attempts": e.attempts,
                            "last_error": e.last_error,
                            "set_aside": e.dead,
                        }
                        for e in entries
                    ],
                },
                indent=2,
            )
        )
        return 0
    print(f"activation: {activation or 'none'}\ncertificate: {certificate}")
    print(f"waiting: {sum(not e.dead for e in entries)} entr(y/ies)")
    for e in entries:
        what = e.payload.get("photo_id") or e.payload.get("session_ref")
        note = f" attempts={e.attempts} last error: {e.last_error}" if e.attempts else ""
        flag = " SET ASIDE (refused by the server)" if e.dead else ""
        print(f"  #{e.seq} {e.kind} {what}{note}{flag}")
    return 0


def _loop(agent: Agent, printing: bool, interval: float, heartbeat_every: float) -> int:
    """Until SIGTERM/SIGINT: refuse to run on a bad certificate, drain, heartbeat, print."""
    stopping = False

    def stop(_signal: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    last_heartbeat = 0.0
    while not stopping:
        check = agent.check()  # raises CertificateRefused: the caller exits
        if check.in_grace:
            log.warning(check.message)
        agent.drain()
        if time.monotonic() - last_heartbeat >= heartbeat_every:
            try:
                agent.heartbeat()
                last_heartbeat = time.monotonic()
            except BoothcloudError as failure:
                log.info("heartbeat not sent: %s", failure)
        busy = False
        if printing:
            try:
                busy = agent.print_once()
            except BoothcloudError as failure:
                log.error("printing: %s", failure)
        if not busy:
            time.sleep(interval)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    agent = Agent(args.home or default_home())
    try:
        if args.command == "activate":
            return _activate(agent, args)
        if args.command == "status":
            return _status(agent, args.json)
        if args.command == "capture":
            for file in args.files:
                print(agent.outbox.add_capture(file) or f"{file}: already queued")
            return 0
        if args.command == "close-session":
            print(agent.outbox.close_session() or "no open session")
            return 0
        agent.check()
        if args.command == "drain":
            agent.drain()
            return 0 if agent.outbox.depth() == 0 else 1
        return _loop(agent, args.command == "print", args.interval, args.heartbeat)
    except (NotActivated, CertificateRefused) as refused:
        print(f"boothcloud-agent refuses to run: {refused}", file=sys.stderr)
        return EXIT_REFUSED
    finally:
        agent.close()


if __name__ == "__main__":
    sys.exit(main())
