"""A cap on connections per client address for Granian, which has none of its own.

Granian accepts connections in its own Rust threads and shows the hub nothing of one until
its headers are complete, so a connection still sending its headers was bounded only by the
header deadline and by the hub-wide ceiling (``server.max_connections``, Granian's
``backpressure``): one address trickling headers on more connections than the ceiling took
every place, Granian accepted no one else, and the hub was off the network for a header
deadline at a time (4,500 such connections from one address: 3 of 193 status probes failed).

Granian's connections are sockets of this process, though. A few times a second the hub
counts its open files (cheap); once they come near the ceiling (within
``server.reserved_connections``), it asks the kernel for the connections on its own port
(one netlink dump, ``fleetwatch.sock_diag``), groups them by client address, and shuts down
the connections an address holds beyond ``server.max_connections_per_address`` (when it held
too many at the look before as well).
Granian sees the connection end, closes it and takes the next one, so the places of the
ceiling go back to everyone else. Below that mark nothing is scanned: a large fleet's many
kept-alive connections cost nothing here.

Idle connections. An HTTP/2 connection waiting for its next request is Granian's to keep
as long as the client likes (Granian's header deadline covers HTTP/1.1 only), and so, under
``http=auto``, is a connection that never sends a byte: Granian waits for its first bytes to
tell the two versions apart. The hub keeps them on purpose (an agent pushing once a minute
reuses one connection) but not forever: every few seconds (half the header deadline, 5 s at
most) it asks the kernel for the connections on its port (``fleetwatch.sock_diag``, ~3 µs
each) and shuts down those with no request in progress that have had none for
``server.idle_timeout_seconds``, or none at all for ``server.header_timeout_seconds`` since
they were first seen. ``ConnectionActivity`` (the outermost ASGI layer) says which
connections have a request in progress and when each finished its last one.

Near the ceiling the longest-idle connections are shed first, down to a reserve below the
mark, so connections kept for reuse never keep a new client out (nginx does the same).

Linux only (``/proc/self/fd``, netlink); elsewhere the ceiling alone applies, as before.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from fleetwatch.api.asgi import ASGIApp, Receive, Scope, Send
from fleetwatch.api.client_limits import ConnectionLimits
from fleetwatch.fd_links import socket_fds
from fleetwatch.sock_diag import Peer, established, peer_of

__all__ = ["ConnectionActivity", "ConnectionReaper"]

log = logging.getLogger(__name__)

# How often the open files are counted: an address is cut back one to two of these after it
# got past its cap near the ceiling (plus the look's own time, ~11 ms for 4,096 connections).
CHECK_SECONDS = 0.25
FD_DIR = Path("/proc/self/fd")
# Near the ceiling with no address over its cap, scans come this many times less often.
IDLE_FACTOR = 4
# Idle connections are looked for every half header deadline, at most this far apart.
IDLE_LOOK_SECONDS = 5.0
# Near the ceiling a connection idle at least this long may be shed (not one between two
# requests of a burst).
SHED_MIN_IDLE_SECONDS = 1.0


class ConnectionActivity:
    """ASGI layer: which connections (by client address and port) have a request in
    progress, and when each of the others finished its last one. Outermost, so the address
    is the socket's own, not one a trusted proxy named."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.busy: dict[Peer, int] = {}
        self.last: dict[Peer, float] = {}  # monotonic time a request last finished

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        peer = peer_of(scope.get("client"))
        if peer is None:
            await self.app(scope, receive, send)
            return
        busy = self.busy
        busy[peer] = busy.get(peer, 0) + 1
        try:
            await self.app(scope, receive, send)
        finally:
            left = busy.get(peer, 1) - 1
            if left > 0:
                busy[peer] = left
            else:
                busy.pop(peer, None)
            self.last[peer] = time.monotonic()

    def idle_since(self, peer: Peer, opened_after: float) -> float | None:
        """When its last request finished; None while one is in progress, -1.0 when it had
        none since ``opened_after`` (a record older than that is an earlier connection's)."""
        if peer in self.busy:
            return None
        last = self.last.get(peer, -1.0)
        return last if last >= opened_after else -1.0

    def forget(self, live: set[Peer], before: float) -> None:
        """Drop the records of connections that are gone (event loop thread only)."""
        for peer in [p for p, t in self.last.items() if t < before and p not in live]:
            del self.last[peer]


@dataclass(slots=True)
class Seen:
    """A connection the idle look knows: its peer, and when it was first and last seen."""

    peer: Peer
    first_seen: float
    opened_after: float  # the look before the first that saw it


class ConnectionReaper:
    """Shuts down what one address holds past its cap, once the hub nears its ceiling; and,
    with ``activity``, idle connections, and near the ceiling the longest idle first."""

    def __init__(self, port: int, limits: ConnectionLimits, fd_dir: Path = FD_DIR,
                 activity: ConnectionActivity | None = None,
                 family: int = socket.AF_INET) -> None:  # fmt: skip
        self.port = port
        self.limits = limits
        self.fd_dir = fd_dir
        self.activity = activity
        self.family = family
        # Scanning starts here: below it the ceiling still has room for everyone.
        self.mark = max(limits.max_connections - limits.reserved, limits.per_address + 1)
        # Shedding idle connections starts at the reserve and goes down to a second one.
        self.shed_mark = limits.max_connections - limits.reserved
        self.shed_to = max(0, self.shed_mark - limits.reserved)
        self.idle_every = min(IDLE_LOOK_SECONDS, max(CHECK_SECONDS, limits.header_timeout / 2))
        self.cut = 0  # connections shut down so far for their address' cap
        self.idle_cut = 0  # ... for being idle too long
        self.shed = 0  # ... as the longest idle near the ceiling
        self._over: set[str] = set()  # addresses over their cap at the last look
        self.scanned = False  # whether the last look scanned the sockets
        self._seen: dict[int, Seen] = {}  # socket inode -> the connection, at the last look
        self._last_look = 0.0
        self._next_idle_look = 0.0
        self._fds: dict[int, int] = {}  # socket inode -> descriptor, at the last pass
        self._unfound: set[int] = set()  # seen connections the last pass found no descriptor of
        self.passes = 0  # passes over the descriptors so far
        self.live: set[Peer] = set()  # the peers of the last look, for activity.forget

    @property
    def usable(self) -> bool:
        return self.fd_dir.is_dir()

    async def run(self) -> None:
        """Check every ``CHECK_SECONDS`` until cancelled, in a thread (the scan is syscalls)."""
        pause = CHECK_SECONDS
        while True:
            await asyncio.sleep(pause)
            started = time.monotonic()
            try:
                await asyncio.to_thread(self.check)
            except OSError as exc:  # e.g. out of files for a moment: try again next time
                log.warning("could not check connections: %s", exc)
            if self.activity is not None and self._last_look >= started:
                self.activity.forget(self.live, started)  # here: the loop's thread owns it
            # Many connections, none from an address over its cap (a big fleet near the
            # ceiling): the scan is what costs, so it is made less often.
            pause = CHECK_SECONDS * (IDLE_FACTOR if self.scanned and not self._over else 1)

    def check(self) -> int:
        """Shut down connections held past the cap (near the ceiling), idle too long, or,
        near the ceiling, the longest idle; how many."""
        count = self._count()
        now = time.monotonic()
        scan = count >= self.mark
        near = count >= self.shed_mark
        idle_look = self.activity is not None and (near or now >= self._next_idle_look)
        # One look at the kernel's table serves both: near the ceiling they run together.
        peers = self._peers() if scan else None
        cut = self._cut_per_address(peers) if peers is not None else self._no_scan()
        if idle_look:
            self._next_idle_look = now + self.idle_every
            cut += self._cut_idle(now, shed=near, peers=peers)
        return cut

    def _peers(self) -> dict[int, Peer]:
        """{socket inode: peer} of the connections on our port, from the kernel (~3 µs each)."""
        return established(self.port, self.family, {i: s.peer for i, s in self._seen.items()})

    def _count(self) -> int:
        """Open descriptors: Linux 6.2+ tells their number as the size of /proc/self/fd
        (~3 µs); listing them costs ~3 µs each, 30 ms at 10,000."""
        size = os.stat(self.fd_dir).st_size if str(self.fd_dir).startswith("/proc/") else 0
        return size if size > 0 else len(os.listdir(self.fd_dir))

    def _no_scan(self) -> int:
        self.scanned = False
        self._over = set()
        return 0

    def _cut_per_address(self, peers: dict[int, Peer]) -> int:
        self.scanned = True
        held: dict[str, list[int]] = defaultdict(list)
        for inode, peer in peers.items():
            if inode not in self._unfound:  # another process's (see _shut_inodes)
                held[peer[0]].append(inode)
        over = {
            address for address, inodes in held.items() if len(inodes) > self.limits.per_address
        }
        # Only an address over its cap at the last look too: connections over the cap with a
        # request are answered 429 and closed by the hub within milliseconds, and should get
        # that answer; what stays over the cap for a whole interval is what Granian is still
        # reading headers of.
        lasting, self._over = over & self._over, over
        cut = 0
        for address in lasting:
            # The lowest inodes are kept: the kernel numbers sockets as they are made, so
            # those are the longest open, those that got in first.
            done = self._shut_inodes(sorted(held[address])[self.limits.per_address :])
            if done:
                log.warning("closed %d connections from %s: over server."
                            "max_connections_per_address (%d) with the hub near "
                            "server.max_connections", done, address,
                            self.limits.per_address)  # fmt: skip
            cut += done
        self.cut += cut
        return cut

    def _cut_idle(self, now: float, shed: bool, peers: dict[int, Peer] | None = None) -> int:
        """Shut down the connections idle past their deadline; with ``shed``, then the
        longest idle until ``shed_to`` are left. ``peers``: the check's look, if it made one."""
        assert self.activity is not None
        if peers is None:
            peers = self._peers()
        seen: dict[int, Seen] = {}
        for inode, peer in peers.items():
            old = self._seen.get(inode)
            seen[inode] = old if old is not None else Seen(peer, now, self._last_look)
        self._seen, self._last_look = seen, now
        self.live = set(peers.values())
        idle: list[tuple[float, int]] = []  # (idle since, inode) of the shed candidates
        late: list[int] = []
        silent = 0  # of them, those that never sent a request
        limits = self.limits
        for inode, conn in seen.items():
            if inode in self._unfound:
                continue  # not ours: no descriptor of this process holds it (see _shut_inodes)
            since = self.activity.idle_since(conn.peer, conn.opened_after)
            if since is None:
                continue  # a request in progress: never idle
            never = since < 0
            if never:  # no request yet: the header deadline, from when it was first seen
                since, limit = conn.first_seen, limits.header_timeout
            else:
                limit = limits.idle_timeout
            if now - since > limit:
                late.append(inode)
                silent += never
            elif now - since >= SHED_MIN_IDLE_SECONDS:
                idle.append((since, inode))
        cut = self._shut_inodes(late)
        self.idle_cut += cut
        if cut:
            log.info("closed %d idle connections: %d found with no request for "
                     "server.idle_timeout_seconds, %d that sent none within "
                     "server.header_timeout_seconds", cut, len(late) - silent,
                     silent)  # fmt: skip
        excess = len(seen) - cut - self.shed_to
        if shed and excess > 0 and idle:
            idle.sort()
            shed_now = self._shut_inodes([inode for _, inode in idle[:excess]])
            if shed_now:
                log.info("closed the %d longest idle connections: the hub is near "
                         "server.max_connections", shed_now)  # fmt: skip
            self.shed += shed_now
            cut += shed_now
        return cut

    def _shut_inodes(self, inodes: list[int]) -> int:
        """Shut down the connections of these socket inodes; how many."""
        if not inodes:
            return 0
        # A pass over every descriptor (fd_links: ~0.2 s at 10,000 under load) only for a
        # connection no pass has looked for yet. One a pass did not find is closing, or is
        # another process's: the kernel's look matches the local port only, and a client
        # elsewhere on this machine may have the same port number on another local address
        # (the push bench's 10,000 clients had 2-3 of them).
        if any(inode not in self._fds and inode not in self._unfound for inode in inodes):
            self._fds = socket_fds(self.fd_dir)
            looked_for = self._seen.keys() | inodes
            self._unfound = {inode for inode in looked_for if inode not in self._fds}
            self.passes += 1
        done = 0
        for inode in inodes:
            fd = self._fds.get(inode)
            if fd is None:
                continue  # closed meanwhile
            try:  # the descriptor may have gone to another socket since the pass
                if os.readlink(f"{self.fd_dir}/{fd}") != f"socket:[{inode}]":
                    continue
            except OSError:
                continue
            sock = socket.socket(fileno=fd)
            try:
                sock.shutdown(socket.SHUT_RDWR)
                done += 1
            except OSError:
                pass
            finally:
                sock.detach()
        return done
