"""``ports``: configured TCP ports and ICMP hosts, checked in the background.

Configured in ``[ports]`` as ``<name>_host`` and ``<name>_port`` (0 for ICMP), with optional
``<name>_description``, ``<name>_timeout`` (seconds, default ``ports_timeout``),
``<name>_rtt_warning`` (milliseconds, as in Glances' config; shown in seconds) and
``<name>_refresh`` (default ``ports_refresh``). ``status`` is the round-trip time in seconds,
``false`` when the port is closed or did not answer in time, ``null`` until the first check.

Checks run in their own daemon threads so that a slow host never delays a collection round.
ICMP uses an unprivileged datagram socket (``IPPROTO_ICMP``), which Linux allows only to the
groups in ``net.ipv4.ping_group_range``; elsewhere an ICMP entry answers ``false`` and logs
why once. No raw socket, no ``ping`` subprocess. The default-gateway probe is not done.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import Any

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.configured import as_number, as_text, configured_items
from fleetwatch.model.plugin import PluginSpec

log = logging.getLogger(__name__)

SPEC = PluginSpec(name="ports", shape="list", key="indice")

Check = Callable[[str, int, float], float | bool]
Start = Callable[[Callable[[], None]], None]


def tcp_check(host: str, port: int, timeout: float) -> float | bool:
    """Seconds to open a TCP connection, or False."""
    started = time.perf_counter()
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return time.perf_counter() - started
    except OSError:
        return False


def _icmp_echo(ident: int) -> bytes:
    header = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
    payload = b"fleetwatch"
    total = sum(struct.unpack(f"!{len(header + payload) // 2}H", header + payload))
    total = (total >> 16) + (total & 0xFFFF)
    checksum = ~(total + (total >> 16)) & 0xFFFF
    return struct.pack("!BBHHH", 8, 0, checksum, ident, 1) + payload


def icmp_check(host: str, port: int, timeout: float) -> float | bool:
    """Seconds for an ICMP echo through an unprivileged ping socket, or False."""
    try:
        address = socket.gethostbyname(host)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP) as sock:
            sock.settimeout(timeout)
            started = time.perf_counter()
            sock.sendto(_icmp_echo(os.getpid() & 0xFFFF), (address, 0))
            reply = sock.recv(1024)
            elapsed = time.perf_counter() - started
    except PermissionError:
        _no_ping_socket(host)
        return False
    except OSError:
        return False
    return elapsed if reply[:1] == b"\x00" else False  # type 0: echo reply


@functools.cache
def _no_ping_socket(host: str) -> None:
    """Said once per host, not at every refresh."""
    log.warning("ports: ICMP to %s needs this group in net.ipv4.ping_group_range", host)


def check(host: str, port: int, timeout: float) -> float | bool:
    return icmp_check(host, port, timeout) if port == 0 else tcp_check(host, port, timeout)


def start_daemon(work: Callable[[], None]) -> None:
    threading.Thread(target=work, name="fleetwatch-ports", daemon=True).start()


class PortsCollector:
    spec = SPEC

    def __init__(self, check: Check = check, start: Start = start_daemon) -> None:
        self._check = check
        self._start = start
        self._lock = threading.Lock()
        self._status: dict[str, float | bool | None] = {}
        self._checked_at: dict[str, float] = {}
        self._running: set[str] = set()

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        limits = ctx.limits.get("ports", {})
        default_timeout = as_number(limits.get("ports_timeout"), 3.0) or 3.0
        default_refresh = as_number(limits.get("ports_refresh"), 30.0) or 30.0
        out: list[dict[str, Any]] = []
        for name, attrs in configured_items(limits, "ports").items():
            host = as_text(attrs.get("host"))
            if not host:
                continue
            port = int(as_number(attrs.get("port"), 0.0) or 0)
            timeout = as_number(attrs.get("timeout"), default_timeout) or default_timeout
            refresh = as_number(attrs.get("refresh"), default_refresh) or default_refresh
            rtt_ms = as_number(attrs.get("rtt_warning"))
            self._schedule(name, host, port, timeout, refresh, ctx.now)
            with self._lock:
                status = self._status.get(name)
            out.append(
                {
                    "key": "indice",
                    "indice": name,
                    "host": host,
                    "port": port,
                    "description": as_text(attrs.get("description")) or f"{host}:{port}",
                    "refresh": refresh,
                    "timeout": timeout,
                    "rtt_warning": rtt_ms / 1000.0 if rtt_ms is not None else None,
                    "status": status,
                }
            )
        return out

    def _schedule(
        self, name: str, host: str, port: int, timeout: float, refresh: float, now: float
    ) -> None:
        with self._lock:
            last = self._checked_at.get(name)
            if name in self._running or (last is not None and now - last < refresh):
                return
            self._running.add(name)
            self._checked_at[name] = now

        def work() -> None:
            try:
                result = self._check(host, port, timeout)
            finally:
                with self._lock:
                    self._running.discard(name)
            with self._lock:
                self._status[name] = result

        self._start(work)
