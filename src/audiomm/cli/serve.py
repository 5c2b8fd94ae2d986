"""``audiomm serve``: the OpenAI-compatible gateway (extra ``[serve]``)."""

from __future__ import annotations

from pathlib import Path

import typer

from audiomm.errors import AudiommError
from audiomm.serve.settings import GatewaySettings

GS = GatewaySettings(systems_file=Path())  # the defaults, shown in --help


def serve_cmd(
    systems: Path = typer.Option(
        ..., help="A systems file (TOML, as for eval run): each system name is a model name."
    ),
    host: str = typer.Option(
        GS.host, help="Address to listen on; beyond this machine it needs --api-key-env."
    ),
    port: int = typer.Option(GS.port, help="Port to listen on."),
    api_key_env: list[str] = typer.Option(
        [], help="A variable holding a client key (repeat for several); none: local clients only."
    ),
    max_upload_mb: float = typer.Option(
        GS.max_upload_mb, help="Largest recording one request may send (MB)."
    ),
    max_jobs: int = typer.Option(GS.max_jobs, help="Recordings worked on at once, all systems together."),
    per_system: int = typer.Option(
        GS.per_system, help="Recordings at once per system (a local model: always 1)."
    ),
    queue: int = typer.Option(GS.queue, help="Recordings waiting for a slot; more get 429 with Retry-After."),
    data_dir: Path | None = typer.Option(
        None, help="Jobs, uploads and the chunk cache (default: <data dir>/serve)."
    ),
    files_root: Path | None = typer.Option(
        None, help="Jobs may name local files under this folder (default: none)."
    ),
    keep_audio_hours: float = typer.Option(
        GS.keep_audio_hours,
        help="Hours an uploaded recording is kept after its job ends (the page plays it; 0: not kept).",
    ),
    reports: Path | None = typer.Option(
        None, help="A folder of eval reports (report.html files, any depth) the web page lists."
    ),
):
    """Serve the systems behind OpenAI's API (transcriptions, translations, chat completions, models), a
    jobs API for recordings of any length, and a web page for them (http://127.0.0.1:8080/)."""
    try:
        from audiomm.serve import serve
    except ImportError as exc:  # pragma: no cover - the extra is missing
        raise AudiommError(
            f"audiomm serve needs the [serve] extra: pip install 'audiomm[serve]' ({exc})"
        ) from None
    settings = GatewaySettings(
        systems_file=systems,
        host=host,
        port=port,
        api_key_env=tuple(api_key_env),
        max_upload_mb=max_upload_mb,
        max_jobs=max_jobs,
        per_system=per_system,
        queue=queue,
        data_dir=data_dir,
        files_root=files_root,
        keep_audio_hours=keep_audio_hours,
        reports=reports,
    )
    serve(settings)
