"""Backup descriptions as the API and the manifest files carry them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from boothcloud.timeutil import Timestamp


class Backup(BaseModel):
    """One backup; also the content of its `.json` manifest beside the `.sql.gz` object."""

    key: str = Field(examples=["backups/db-backup-20261125T100000Z.sql.gz"])
    size: int = Field(description="Bytes of the gzip-compressed dump object.")
    sha256: str = Field(description="Hex SHA-256 of the gzip-compressed dump object.")
    tables: dict[str, int] = Field(
        description="Rows per table, counted from the same snapshot the dump was taken from."
    )
    created_at: Timestamp


class BackupList(BaseModel):
    """Every complete backup in the store, newest first (retention keeps the list short)."""

    items: list[Backup]
