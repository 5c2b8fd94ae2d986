"""Several servers of one model: each request to the least busy one; the first names the cache entries."""

import threading
from concurrent.futures import ThreadPoolExecutor

from audiomm.backends import load
from audiomm.backends.base import Request, Response
from audiomm.backends.replicas import Replicas
from audiomm.config import BackendConfig
from audiomm.knowledge import spec_for
from tests.batch.conftest import MODEL
from tests.helpers.openai_server import OpenAIServer


class Server:
    """A backend whose requests wait until released (to hold one server busy)."""

    name, model, concurrent, batch_size = "openai", MODEL, True, 2

    def __init__(self, endpoint: str, gate: threading.Event | None = None):
        self.endpoint, self.cache_id, self.gate = endpoint, f"{MODEL}@{endpoint}", gate
        self.spec = spec_for(MODEL)
        self.served = 0

    def generate(self, requests):
        if self.gate is not None:
            self.gate.wait(5)
        self.served += 1
        yield 0, Response(self.endpoint, "stop")


def test_a_busy_server_gets_no_more_until_the_others_are_as_busy():
    gate = threading.Event()
    slow, fast = Server("slow", gate), Server("fast")
    pool = Replicas([slow, fast])
    assert pool.batch_size == 4 and pool.cache_id == f"{MODEL}@slow"
    with ThreadPoolExecutor(1) as ex:
        held = ex.submit(lambda: list(pool.generate([Request("x")])))  # slow takes the first and hangs
        while pool.busy[0] == 0:
            pass
        answers = [list(pool.generate([Request("x")]))[0][1].text for _ in range(5)]
        gate.set()
        held.result()
    assert answers == ["fast"] * 5 and pool.sent == [1, 5]


def test_base_urls_load_one_backend_over_every_server():
    with OpenAIServer() as a, OpenAIServer() as b:
        config = BackendConfig("openai", MODEL, base_url=a.url, base_urls=(b.url, a.url), concurrency=3)
        pool = load(config)
        assert isinstance(pool, Replicas) and len(pool.servers) == 2 and pool.batch_size == 6
        for _ in range(4):
            list(pool.generate([Request("hello")]))
        assert (
            len(a.state.text_requests) == 2 and len(b.state.text_requests) == 2
        )  # in turn when none is busy
        assert config.public()["base_urls"] == [b.url, a.url]
