"""Slots for the work: at most ``max_running`` recordings at once (and each system's limit), the rest
waiting in order in a bounded queue. A full queue is refused at once with a time to come back (429 with
``Retry-After``), before the upload is stored: back-pressure instead of collapse."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from audiomm.serve.errors import QueueFull

log = logging.getLogger("audiomm.serve")
FIRST_GUESS_S = 5.0  # how long one recording takes, until the gateway has timed some
MAX_RETRY_AFTER_S = 60  # what OpenAI's SDKs wait at most before a retry


@dataclass(eq=False)
class Ticket:
    """One recording's place: ``reserved`` (its upload is arriving), ``queued``, ``running``, or ``over``."""

    system: str = ""
    limit: int = 1
    work: Callable[[], None] | None = None
    state: str = "reserved"


class Scheduler:
    """Runs each started ticket's work in its own thread once a slot (overall and for its system) is free,
    in the order tickets were reserved."""

    def __init__(self, max_running: int, queue: int):
        self.max_running, self.queue = max_running, queue
        self.lock = threading.Lock()
        self.waiting: list[Ticket] = []  # reserved and queued, in order
        self.running: dict[str, int] = {}
        self.seconds = FIRST_GUESS_S  # a moving average of how long one recording takes
        self.rejected = 0

    def reserve(self, force: bool = False) -> Ticket:
        """A place in the queue, or :class:`QueueFull` (``force``: a job already accepted, resumed)."""
        with self.lock:
            if not force and len(self.waiting) >= self.queue:
                self.rejected += 1
                raise QueueFull(len(self.waiting), self.retry_after())
            ticket = Ticket()
            self.waiting.append(ticket)
            return ticket

    def start(self, ticket: Ticket, system: str, limit: int, work: Callable[[], None]) -> None:
        """Queue ``work`` on its reserved place; it runs when a slot is free."""
        with self.lock:
            ticket.system, ticket.limit, ticket.work, ticket.state = system, limit, work, "queued"
            self.dispatch()

    def release(self, ticket: Ticket) -> bool:
        """Give up a place that has not started (a refused upload, a cancelled job, a client gone)."""
        with self.lock:
            if ticket.state in ("reserved", "queued"):
                self.waiting.remove(ticket)
                ticket.state = "over"
                return True
            return False

    def dispatch(self) -> None:
        """Start what the free slots allow (the lock is held)."""
        for t in list(self.waiting):
            if sum(self.running.values()) >= self.max_running:
                return
            if t.state == "queued" and self.running.get(t.system, 0) < t.limit:
                self.waiting.remove(t)
                t.state = "running"
                self.running[t.system] = self.running.get(t.system, 0) + 1
                threading.Thread(target=self.run, args=(t,), daemon=True, name="audiomm-work").start()

    def run(self, ticket: Ticket) -> None:
        t0 = time.monotonic()
        try:
            ticket.work()
        except BaseException:  # noqa: BLE001 - the work reports its own failures; this keeps the slot count right
            log.exception("work for system %r ended with an error", ticket.system)
        finally:
            with self.lock:
                self.running[ticket.system] -= 1
                self.seconds = 0.7 * self.seconds + 0.3 * (time.monotonic() - t0)
                ticket.state = "over"
                self.dispatch()

    def retry_after(self) -> int:
        """Seconds until a place is likely free: one recording's time, at the recent pace, over the slots
        (a place frees each time a slot does)."""
        return int(min(MAX_RETRY_AFTER_S, max(1, math.ceil(self.seconds / self.max_running))))

    def status(self) -> dict:
        with self.lock:
            running = sum(self.running.values())
            return {"running": running, "waiting": len(self.waiting), "rejected": self.rejected}
