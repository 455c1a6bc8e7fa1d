"""The delivery process's entry point: ``python -m fleetwatch.engine.notify.child``.

The hub writes the settings as one JSON line on stdin and keeps the pipe open; end of file
means the hub is gone (stopped, or killed), and the child stops with it. See ``process.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import os
import signal
import sys
import threading

from fleetwatch.engine.notify.process import DeliverySettings, run_delivery

log = logging.getLogger("fleetwatch.engine.notify.child")

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """Linux: the kernel kills this process when its parent dies, even while it is busy."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if parent_pid and os.getppid() != parent_pid:  # it died before the line above
        os._exit(0)


def watch_stdin(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    """Set ``stop`` at end of file on stdin (the hub closed the pipe or exited)."""

    def read() -> None:
        with contextlib.suppress(OSError, ValueError):
            while sys.stdin.buffer.read(4096):
                pass
        loop.call_soon_threadsafe(stop.set)

    threading.Thread(target=read, name="parent-watch", daemon=True).start()


async def main_async(settings: DeliverySettings, *, watch_parent: bool = True) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    if watch_parent:
        # Ctrl-C reaches the whole process group: the hub stops, then closes the pipe, and
        # this process stops after it rather than being started again meanwhile.
        loop.add_signal_handler(signal.SIGINT, lambda: None)
        watch_stdin(loop, stop)
    else:
        loop.add_signal_handler(signal.SIGINT, stop.set)
    await run_delivery(settings, stop)


def main() -> None:
    logging.basicConfig(
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # request URLs may hold tokens
    line = sys.stdin.buffer.readline()
    if not line:
        return  # the hub went away before it said anything
    settings = DeliverySettings.decode(line)
    die_with_parent(settings.parent_pid)
    if settings.nice > 0:
        # Delivery can wait a second; ingestion under a storm cannot: the scheduler gives
        # the hub's process the cores first when both want them.
        with contextlib.suppress(OSError):
            os.nice(min(settings.nice, 19))
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(main_async(settings))


def loop_factory() -> type[asyncio.AbstractEventLoop] | None:
    try:
        import uvloop  # noqa: PLC0415 - optional, as in the hub (server.py)
    except ImportError:
        return None
    return uvloop.Loop


if __name__ == "__main__":
    main()
