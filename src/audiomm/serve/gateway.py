"""The gateway's parts, made once at start: systems (backends loaded once, shared), the scheduler, the
upload folder, the chunk cache, the jobs; and :class:`Exchange`, one request's hold on them."""

from __future__ import annotations

import asyncio
import fcntl
import secrets
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING

from starlette.requests import Request

from audiomm.errors import AudiommError
from audiomm.longform import Event, Finished, RunResult
from audiomm.longform.cache import ChunkCache
from audiomm.paths import output_dir
from audiomm.serve.errors import Cancelled, QueueFull
from audiomm.serve.feed import Feed
from audiomm.serve.library import Library
from audiomm.serve.pool import SystemPool
from audiomm.serve.scheduler import Scheduler, Ticket
from audiomm.serve.settings import GatewaySettings
from audiomm.serve.store import JobStore
from audiomm.serve.uploads import Spool, Upload, refuse
from audiomm.serve.work import Work, perform
from audiomm.systems import System

if TYPE_CHECKING:
    from audiomm.serve.jobs import Jobs


def hold(path: Path) -> IO[str]:
    """An exclusive lock on the data dir for this process's life (the system drops it at any exit, SIGKILL
    too): two gateways on one data dir would run each other's jobs and remove each other's uploads."""
    fh = open(path, "a")  # noqa: SIM115 - held open for the life of the process
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.close()
        raise AudiommError(
            f"--data-dir {path.parent}: another gateway is using it; give each gateway its own --data-dir"
        ) from None
    return fh


def gateway_of(request: Request) -> Gateway:
    """The gateway a request came to."""
    return request.app.state.gateway


class Gateway:
    """Everything a request needs, shared by all of them."""

    def __init__(self, settings: GatewaySettings, systems: list[System], keys: tuple[str, ...]):
        root = output_dir(settings.directory(), "--data-dir")
        root.mkdir(parents=True, exist_ok=True)
        self.held = hold(root / "gateway.lock")
        self.settings, self.keys = settings, keys
        self.pool = SystemPool(systems, settings.per_system)
        self.scheduler = Scheduler(settings.max_jobs, settings.queue)
        self.spool = Spool(root / "uploads")
        self.cache = ChunkCache(root / "cache")
        self.store = JobStore(root / "jobs.sqlite")
        self.started = int(time.time())
        self.secret = secrets.token_bytes(32)  # signs the page's report links; new at each start
        self.library = Library()  # the catalog, built on first use
        self.loop: asyncio.AbstractEventLoop | None = None  # set when the application starts
        self.jobs: Jobs | None = None  # made when the application starts (they need the loop)

    def perform(self, work: Work, emit: Callable[[Event], None], cancelled: threading.Event) -> RunResult:
        """``work`` on its system's shared backend (loaded now if need be) with the gateway's chunk cache."""
        return perform(work, self.pool.backend(work.system), self.cache, emit, cancelled)

    def run(self, ticket: Ticket, work: Work) -> tuple[Feed, threading.Event]:
        """Start ``work`` on its reserved place. Its runner events, then its end (the exception it raised,
        if any), arrive on the feed; setting the event stops it."""
        feed, cancelled = Feed(self.loop), threading.Event()

        def go() -> None:
            try:
                self.perform(work, feed.push, cancelled)
            except BaseException as exc:  # noqa: BLE001 - handed to the request, which answers with it
                feed.push(exc)
            finally:
                feed.close()

        self.scheduler.start(ticket, work.system, self.pool.limit(work.system), go)
        return feed, cancelled


class Exchange:
    """One request's hold on the gateway: its place in the queue, the files it brought, its running work.
    :meth:`close` gives all of it back (the work stops if it still runs: its client is gone)."""

    def __init__(self, gateway: Gateway, ticket: Ticket):
        self.gateway = gateway
        self.ticket: Ticket | None = ticket
        self.uploads: list[Upload] = []
        self.feed: Feed | None = None
        self.cancelled = threading.Event()

    @classmethod
    async def open(cls, request: Request, gateway: Gateway, unread: bool = True) -> Exchange:
        """A place in the queue; a full queue is a 429 (an ``unread`` body is read and dropped first, so the
        client gets the answer rather than a reset connection)."""
        try:
            ticket = gateway.scheduler.reserve()
        except QueueFull as exc:
            if unread:
                await refuse(request.stream(), exc)
            raise
        return cls(gateway, ticket)

    def keep(self, *uploads: Upload | None) -> None:
        """Files to remove when the request is over."""
        self.uploads += [u for u in uploads if u is not None]

    def start(self, work: Work) -> None:
        self.feed, self.cancelled = self.gateway.run(self.ticket, work)

    def hand_over(self) -> Ticket:
        """The place in the queue, for work that outlives the request (a job)."""
        ticket, self.ticket = self.ticket, None
        return ticket

    async def events(self) -> AsyncIterator[Event]:
        """The runner's events as they come; the work's error is raised here."""
        async for item in self.feed.follow():
            if isinstance(item, BaseException):
                raise item
            yield item

    async def result(self, request: Request) -> RunResult:
        """The result once the work ends; if the client leaves first, the work is stopped."""
        waiter = asyncio.ensure_future(self.outcome())
        gone = asyncio.ensure_future(disconnected(request))
        done, _ = await asyncio.wait({waiter, gone}, return_when=asyncio.FIRST_COMPLETED)
        gone.cancel()
        if waiter not in done:
            waiter.cancel()
            raise Cancelled("the client left before the result")
        return waiter.result()

    async def outcome(self) -> RunResult:
        async for event in self.events():
            if isinstance(event, Finished):
                return event.result
        raise AssertionError("the work ended without a result")

    def close(self) -> None:
        self.cancelled.set()
        if self.ticket is not None:
            self.gateway.scheduler.release(self.ticket)
        for u in self.uploads:
            Path(u.path).unlink(missing_ok=True)


async def disconnected(request: Request) -> None:
    """Returns once the client has gone (its request body already read)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
