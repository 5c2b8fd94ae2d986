"""What one piece of work reports, from its worker thread to any number of readers on the event loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any


class Feed:
    """Items in order: pushed from any thread, followed by readers on the loop, each from the start
    (a reader that comes late gets everything so far first, then what follows)."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self.items: list[Any] = []
        self.closed = False
        self.changed = asyncio.Event()

    def push(self, item: Any) -> None:
        """Add ``item`` (from any thread)."""
        self.items.append(item)
        self.wake()

    def close(self) -> None:
        """No more items (from any thread)."""
        self.closed = True
        self.wake()

    def wake(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self.notify)
        except RuntimeError:  # the loop has stopped: the gateway is shutting down
            pass

    def notify(self) -> None:
        self.changed.set()
        self.changed = asyncio.Event()

    async def follow(self, start: int = 0) -> AsyncIterator[Any]:
        """Every item from ``start`` on, as they come, until the feed is closed."""
        i = start
        while True:
            if i < len(self.items):
                yield self.items[i]
                i += 1
            elif self.closed:
                return
            else:
                await self.changed.wait()
