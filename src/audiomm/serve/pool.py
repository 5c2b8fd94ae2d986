"""The systems a gateway serves, by name; each one's backend is loaded once and shared by every request."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor

from audiomm.api import preflight
from audiomm.backends import Backend, load
from audiomm.config import scrub_urls
from audiomm.errors import AudiommError, first_line
from audiomm.serve.errors import ApiError, SystemFailed
from audiomm.systems import System
from audiomm.tasks.presets import resolve

log = logging.getLogger("audiomm.serve")
LOCAL_BACKENDS = ("transformers", "classic")  # one model in this process: one recording at a time


class SystemPool:
    """Systems by name. A backend that cannot be loaded (its server down) is tried again on the next request."""

    def __init__(self, systems: list[System], per_system: int):
        self.systems = {s.name: s for s in systems}
        self.per_system = per_system
        self.backends: dict[str, Backend] = {}
        self.problems: dict[str, str] = {}
        self.locks = {name: threading.Lock() for name in self.systems}

    def check(self) -> None:
        """What each system's configuration lets us refuse before anything is loaded (one line)."""
        transcript = resolve("transcript")
        for s in self.systems.values():
            try:
                preflight(s.config, transcript, s.options)
            except AudiommError as exc:
                raise AudiommError(f"system {s.name!r}: {exc}") from None

    def get(self, name: str) -> System:
        """The system called ``name``; 404 in OpenAI's words otherwise."""
        if name not in self.systems:
            raise ApiError(
                404,
                f"The model {name!r} does not exist on this gateway; it serves {', '.join(self.systems)}"
                " (GET /v1/models)",
                param="model",
                code="model_not_found",
            )
        return self.systems[name]

    def limit(self, name: str) -> int:
        """Recordings this system may run at once."""
        return 1 if self.systems[name].config.backend in LOCAL_BACKENDS else self.per_system

    def backend(self, name: str) -> Backend:
        """The loaded backend (loaded now if it is not yet); a system that cannot be loaded is a 503."""
        system = self.get(name)
        with self.locks[name]:
            if name not in self.backends:
                try:
                    self.backends[name] = load(system.config)
                except Exception as exc:  # noqa: BLE001 - any load failure is this system's, said as such
                    problem = scrub_urls(first_line(exc))
                    self.problems[name] = problem
                    raise SystemFailed(name, problem, 503) from None
                self.problems.pop(name, None)
            return self.backends[name]

    def load_all(self) -> None:
        """Load every system at start (in parallel); one that fails is logged and tried again when asked for."""
        with ThreadPoolExecutor(max_workers=max(1, len(self.systems))) as pool:
            for name, fut in [(n, pool.submit(self.backend, n)) for n in self.systems]:
                try:
                    fut.result()
                    log.info("system %r ready", name)
                except SystemFailed as exc:
                    log.warning("%s (tried again on its next request)", exc)

    def state(self, name: str) -> str:
        if name in self.backends:
            return "ready"
        return f"unavailable: {self.problems[name]}" if name in self.problems else "not loaded"
