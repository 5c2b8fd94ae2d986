"""What ``audiomm serve`` starts with (every default once) and who may reach it."""

from __future__ import annotations

import ipaddress
import math
import os
from dataclasses import dataclass
from pathlib import Path

from audiomm.errors import AudiommError
from audiomm.paths import data_dir

MB = 1_000_000


@dataclass(frozen=True)
class GatewaySettings:
    """How the gateway runs. Client keys are given as the names of environment variables holding them
    (none: local clients only); the keys themselves are read at start and never written or logged."""

    systems_file: Path
    host: str = "127.0.0.1"  # local only; another address needs client keys
    port: int = 8080
    api_key_env: tuple[str, ...] = ()
    max_upload_mb: float = 500.0  # a recording's bytes per request (an hour of 16 kHz WAV is 115 MB)
    max_jobs: int = 4  # recordings worked on at once, all systems together
    per_system: int = 2  # recordings at once per system (a local model: always 1)
    queue: int = 16  # recordings waiting for a slot (uploading, queued or submitted jobs); more get 429
    data_dir: Path | None = None  # None: <AUDIOMM_HOME>/serve
    files_root: Path | None = None  # jobs may name local files under this folder (None: uploads only)
    keep_audio_hours: float = 24.0  # an upload is kept this long after its job ends, for the page's player
    reports: Path | None = None  # a folder of eval reports (report.html files) the web page lists

    def __post_init__(self) -> None:
        for name in ("max_jobs", "per_system", "port"):
            if getattr(self, name) < 1:
                raise AudiommError(f"--{name.replace('_', '-')} must be at least 1")
        if self.queue < 0:
            raise AudiommError("--queue must be 0 or more")
        if not (math.isfinite(self.max_upload_mb) and self.max_upload_mb > 0):
            raise AudiommError("--max-upload-mb must be a positive number")
        if not (math.isfinite(self.keep_audio_hours) and self.keep_audio_hours >= 0):
            raise AudiommError("--keep-audio-hours must be a number, 0 or more")
        for flag, folder in (("--files-root", self.files_root), ("--reports", self.reports)):
            if folder is not None and not folder.is_dir():
                raise AudiommError(f"{flag} {folder}: not a directory")

    @property
    def upload_limit(self) -> int:
        """Bytes of audio one request may carry."""
        return int(self.max_upload_mb * MB)

    @property
    def keep_audio_s(self) -> float:
        """Seconds an upload is kept after its job ends (0: removed when the job ends)."""
        return self.keep_audio_hours * 3600

    def directory(self) -> Path:
        """Where jobs, uploads and the chunk cache live."""
        return self.data_dir if self.data_dir is not None else data_dir() / "serve"

    def client_keys(self) -> tuple[str, ...]:
        """The keys clients must send, read from the variables named; one line for a variable unset."""
        keys = []
        for var in self.api_key_env:
            value = os.environ.get(var, "")
            if not value.strip():
                raise AudiommError(
                    f"--api-key-env {var}: the variable is not set (or empty); export it first"
                )
            keys.append(value.strip())
        return tuple(keys)

    def check_exposure(self, keys: tuple[str, ...]) -> None:
        """A gateway other machines can reach must ask for a key: refused before anything binds."""
        if not keys and not is_local(self.host):
            raise AudiommError(
                f"--host {self.host} lets other machines reach the gateway, which then needs client keys:"
                " pass --api-key-env VAR (a variable holding a key), or keep the default 127.0.0.1"
            )


def is_local(host: str) -> bool:
    """Whether ``host`` is this machine only (a loopback address or ``localhost``)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
