"""Pick the object store the settings ask for."""

from __future__ import annotations

from boothcloud.settings import Settings
from boothcloud.storage import ObjectStore
from boothcloud.storage.local import LocalStore


def open_store(settings: Settings) -> ObjectStore:
    if settings.storage_backend == "s3":
        from boothcloud.storage.s3 import S3Store

        return S3Store.from_settings(settings)
    return LocalStore(
        settings.objects_path, settings.base_url, settings.url_signing_secret.get_secret_value()
    )
