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
    # D1 only (a paged dump, not one snapshot; docs/d1.md "Dumping at scale").
    d1_bookmark: str | None = Field(
        default=None,
        description="D1 Time Travel bookmark of the moment the dump began: "
        "`wrangler d1 time-travel restore <db> --bookmark=<it>` brings D1 back to it.",
    )
    consistent: bool = Field(
        default=True,
        description="False when D1 committed writes while the paged dump ran, so its rows "
        "may mix moments (the SQLite dump is always one snapshot).",
    )
    changed_tables: list[str] = Field(
        default_factory=list,
        description="Tables whose row count or largest key moved during a D1 dump.",
    )


class BackupList(BaseModel):
    """Every complete backup in the store, newest first (retention keeps the list short)."""

    items: list[Backup]
