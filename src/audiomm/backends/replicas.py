"""One model behind several servers (vLLM replicas, llama-servers, Ollama hosts): one backend to the runner.

Each request goes to the server with the fewest requests in flight (ties go round-robin), so a slow or
busy replica gets less; the runner may keep as many requests in flight as all servers together take.
Every server is asked what it is when loaded (a replica that does not serve the model is one error line).
The chunk cache names the answers after the first server: keep it first and add or remove the others
freely between runs (a rerun still finds every finished chunk).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace

from audiomm.backends.base import Backend, Request, Response
from audiomm.config import BackendConfig


class Replicas:
    """Servers of one model as one backend: ``generate`` sends each request to the least busy one."""

    concurrent = True

    def __init__(self, backends: list[Backend]):
        first = backends[0]
        self.servers = backends
        self.name, self.model, self.cache_id = first.name, first.model, first.cache_id
        self.endpoint = ", ".join(b.endpoint for b in backends)
        self.batch_size = sum(b.batch_size for b in backends)
        self.spec = min((b.spec for b in backends), key=lambda s: s.context_tokens or float("inf"))
        self.busy = [0] * len(backends)
        self.sent = [0] * len(backends)  # requests each server was given (what a test or a log reads)
        self.turn = 0
        self.lock = threading.Lock()

    def _take(self) -> int:
        """The server with the fewest requests in flight; among equals, the next in turn."""
        with self.lock:
            n = len(self.servers)
            order = [(self.turn + k) % n for k in range(n)]
            i = min(order, key=lambda k: self.busy[k])
            self.turn = (i + 1) % n
            self.busy[i] += 1
            self.sent[i] += 1
            return i

    def generate(self, requests: list[Request]) -> Iterator[tuple[int, Response]]:
        """Each request on the least busy server (the runner sends them from several threads at once)."""
        for n, request in enumerate(requests):
            i = self._take()
            try:
                for _, response in self.servers[i].generate([request]):
                    yield n, response
            finally:
                with self.lock:
                    self.busy[i] -= 1


def replicas(config: BackendConfig, make) -> Replicas:
    """A :class:`Replicas` of ``config``'s servers, each loaded with ``make`` as a one-server configuration."""
    return Replicas([make(replace(config, base_url=url, base_urls=())) for url in config.servers()])
