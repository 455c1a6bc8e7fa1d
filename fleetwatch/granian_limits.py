"""A cap on connections per client address for Granian, which has none of its own.

Granian accepts connections in its own Rust threads and shows the hub nothing of one until
its headers are complete, so a connection still sending its headers was bounded only by the
header deadline and by the hub-wide ceiling (``server.max_connections``, Granian's
``backpressure``): one address trickling headers on more connections than the ceiling took
every place, Granian accepted no one else, and the hub was off the network for a header
deadline at a time (4,500 such connections from one address: 3 of 193 status probes failed).

Granian's connections are sockets of this process, though. A few times a second the hub
counts its open files (cheap); once they come near the ceiling (within
``server.reserved_connections``), it looks at every socket accepted on its own port, groups
them by client address, and shuts down the connections an address holds beyond
``server.max_connections_per_address`` (when it held too many at the look before as well).
Granian sees the connection end, closes it and takes the next one, so the places of the
ceiling go back to everyone else. Below that mark nothing is scanned: a large fleet's many
kept-alive connections cost nothing here.

Linux only (``/proc/self/fd``); elsewhere the ceiling alone applies, as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from collections import defaultdict
from pathlib import Path

from fleetwatch.api.client_limits import ConnectionLimits

__all__ = ["ConnectionReaper"]

log = logging.getLogger(__name__)

# How often the open files are counted: an address is cut back one to two of these after it
# got past its cap near the ceiling (plus the scans' own time, tens of ms for 4,096 sockets).
CHECK_SECONDS = 0.25
FD_DIR = Path("/proc/self/fd")
# Near the ceiling with no address over its cap, scans come this many times less often.
IDLE_FACTOR = 4
TCP_ESTABLISHED = 1  # tcpi_state, the first byte of TCP_INFO (linux/tcp_states.h)


class ConnectionReaper:
    """Shuts down what one address holds past its cap, once the hub nears its ceiling."""

    def __init__(self, port: int, limits: ConnectionLimits, fd_dir: Path = FD_DIR) -> None:
        self.port = port
        self.limits = limits
        self.fd_dir = fd_dir
        # Scanning starts here: below it the ceiling still has room for everyone.
        self.mark = max(limits.max_connections - limits.reserved, limits.per_address + 1)
        self.cut = 0  # connections shut down so far
        self._over: set[str] = set()  # addresses over their cap at the last look
        self.scanned = False  # whether the last look scanned the sockets

    @property
    def usable(self) -> bool:
        return self.fd_dir.is_dir()

    async def run(self) -> None:
        """Check every ``CHECK_SECONDS`` until cancelled, in a thread (the scan is syscalls)."""
        pause = CHECK_SECONDS
        while True:
            await asyncio.sleep(pause)
            try:
                await asyncio.to_thread(self.check)
            except OSError as exc:  # e.g. out of files for a moment: try again next time
                log.warning("could not check connections per address: %s", exc)
            # Many connections, none from an address over its cap (a big fleet near the
            # ceiling): the scan is what costs, so it is made less often.
            pause = CHECK_SECONDS * (IDLE_FACTOR if self.scanned and not self._over else 1)

    def check(self) -> int:
        """Shut down connections held past the cap, if the hub is near its ceiling; how many."""
        names = os.listdir(self.fd_dir)
        self.scanned = len(names) >= self.mark
        if not self.scanned:
            self._over = set()
            return 0
        held: dict[str, list[int]] = defaultdict(list)
        for name in names:
            fd = int(name)
            address = self._client_of(fd)
            if address is not None:
                held[address].append(fd)
        over = {address for address, fds in held.items() if len(fds) > self.limits.per_address}
        # Only an address over its cap at the last look too: connections over the cap with a
        # request are answered 429 and closed by the hub within milliseconds, and should get
        # that answer; what stays over the cap for a whole interval is what Granian is still
        # reading headers of.
        lasting, self._over = over & self._over, over
        cut = 0
        for address in lasting:
            # The lowest descriptors are kept: mostly the longest open, those that got in first.
            excess = sorted(held[address])[self.limits.per_address :]
            done = sum(self._shut_down(fd, address) for fd in excess)
            if done:
                log.warning("closed %d connections from %s: over server."
                            "max_connections_per_address (%d) with the hub near "
                            "server.max_connections", done, address,
                            self.limits.per_address)  # fmt: skip
            cut += done
        self.cut += cut
        return cut

    def _client_of(self, fd: int) -> str | None:
        """The client address of ``fd`` if it is a connection accepted on our port."""
        try:
            if not os.readlink(self.fd_dir / str(fd)).startswith("socket:"):
                return None
            sock = socket.socket(fileno=fd)  # the descriptor itself: detached below, not closed
        except OSError:  # closed meanwhile, or not a socket after all
            return None
        try:
            if sock.type != socket.SOCK_STREAM or sock.family not in (socket.AF_INET,
                                                                     socket.AF_INET6):  # fmt: skip
                return None
            if sock.getsockname()[1] != self.port:
                return None  # ours going out (the database), or the listening socket's peer
            if sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_INFO, 1)[0] != TCP_ESTABLISHED:
                return None  # closing already (shut down here, or by the client)
            return str(sock.getpeername()[0])
        except OSError:  # the listening socket (no peer), or a connection closing
            return None
        finally:
            sock.detach()

    def _shut_down(self, fd: int, address: str) -> int:
        # Looked at again: Granian may have closed it, and the number gone to another socket.
        if self._client_of(fd) != address:
            return 0
        sock = socket.socket(fileno=fd)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            return 0
        finally:
            sock.detach()
        return 1
