"""``audiomm serve``: an OpenAI-compatible gateway that gives every app recordings of any length.

    client (OpenAI SDK) -> /v1/audio/transcriptions | /v1/chat/completions | /v1/jobs
        -> uploads streamed to disk (uploads) -> the scheduler (slots, per-system limits, bounded queue)
        -> the streaming runner on the system's shared backend (work) -> OpenAI's wire formats (replies)

Requests become typed requests in :mod:`~audiomm.serve.wire`; every error becomes OpenAI's error shape in
:func:`~audiomm.serve.errors.api_error`; jobs live in SQLite (:mod:`~audiomm.serve.store`) and resume after
a restart. Needs the ``[serve]`` extra (FastAPI, uvicorn, python-multipart, sse-starlette).
"""

from __future__ import annotations

import logging
import socket
import sys

from audiomm.errors import AudiommError
from audiomm.serve.settings import GatewaySettings

__all__ = ["GatewaySettings", "serve"]


def serve(settings: GatewaySettings) -> None:
    """Check everything that can be refused (keys, exposure, systems, the port), then serve until stopped."""
    import uvicorn

    from audiomm.serve.app import create_app
    from audiomm.serve.gateway import Gateway
    from audiomm.systems import load_systems

    keys = settings.client_keys()
    settings.check_exposure(keys)
    gateway = Gateway(settings, load_systems(settings.systems_file), keys)
    gateway.pool.check()
    sock = bind(settings.host, settings.port)
    setup_logging()
    logging.getLogger("audiomm.serve").info(
        "listening on http://%s:%d (systems: %s; data in %s)",
        settings.host,
        settings.port,
        ", ".join(gateway.pool.systems),
        settings.directory(),
    )
    config = uvicorn.Config(
        create_app(gateway), access_log=False, log_config=None, timeout_graceful_shutdown=5
    )
    uvicorn.Server(config).run(sockets=[sock])


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so a port in use is one clear line."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as exc:
        sock.close()
        raise AudiommError(f"--host {host} --port {port}: cannot listen there ({exc.strerror})") from None
    sock.set_inheritable(True)
    return sock


def setup_logging() -> None:
    """``info: ...`` lines on stderr for the gateway and uvicorn (uvicorn's own set-up is off)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    for name in ("audiomm.serve", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
