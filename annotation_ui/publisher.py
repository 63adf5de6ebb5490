"""Channel-layer sends off the request path: a daemon thread with its own event loop sends them in order.

A save answers as soon as its transaction commits; telling the open sockets about it is best effort and
must not add the layer's round trips (or, while Redis restarts, its time-outs) to the save. The in-process
layer is never sent to from here: its queues belong to the server's own event loop.
"""

from __future__ import annotations

import asyncio
import atexit
import logging
import os
import threading
import time
from typing import Any

log = logging.getLogger(__name__)


class Publisher:
    """`submit(layer, group, message)` returns at once; sends happen in submission order. At most
    `max_pending` sends wait: past that a send is dropped with a warning rather than grow without bound
    while the layer is down (sockets re-fetch on reconnect, so nothing is lost for good)."""

    def __init__(self, max_pending: int = 10_000) -> None:
        self.max_pending = max_pending
        self._lock = threading.Lock()
        self._pid: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue[tuple[Any, str, dict[str, Any]]] | None = None
        self._pending = 0
        self._drainer: asyncio.Task[None] | None = None
        self.sent = 0
        self.failed = 0
        self.dropped = 0

    def _start(self) -> asyncio.AbstractEventLoop:
        # A forked child (a Celery pool process) has the parent's objects but not its thread: start anew.
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                loop = asyncio.new_event_loop()
                ready = threading.Event()
                self._pending = 0

                def run() -> None:
                    asyncio.set_event_loop(loop)
                    self._queue = asyncio.Queue()
                    self._drainer = loop.create_task(self._drain())
                    ready.set()
                    loop.run_forever()

                threading.Thread(target=run, name="channel-publisher", daemon=True).start()
                ready.wait()
                self._loop, self._pid = loop, os.getpid()
            return self._loop

    async def _drain(self) -> None:
        assert self._queue is not None
        while True:
            layer, group, message = await self._queue.get()
            try:
                await layer.group_send(group, message)
                self.sent += 1
            except Exception:
                self.failed += 1
                log.warning(
                    "could not push %s to %s", message.get("event", {}).get("type"), group, exc_info=True
                )
            finally:
                with self._lock:
                    self._pending -= 1

    def submit(self, layer: Any, group: str, message: dict[str, Any]) -> bool:
        """Queue one group_send; False when it was dropped (too many waiting)."""
        loop = self._start()
        with self._lock:
            if self._pending >= self.max_pending:
                self.dropped += 1
                log.warning("channel publisher: %d sends waiting, dropping one to %s", self._pending, group)
                return False
            self._pending += 1
        loop.call_soon_threadsafe(self._put, (layer, group, message))
        return True

    def _put(self, item: tuple[Any, str, dict[str, Any]]) -> None:
        assert self._queue is not None
        self._queue.put_nowait(item)

    @property
    def pending(self) -> int:
        return self._pending

    def flush(self, timeout: float = 2.0) -> bool:
        """Wait up to `timeout` s for the waiting sends; True when none is left."""
        deadline = time.monotonic() + timeout
        while self._pending > 0 and time.monotonic() < deadline:
            time.sleep(0.005)
        return self._pending == 0


publisher = Publisher()
atexit.register(publisher.flush)
