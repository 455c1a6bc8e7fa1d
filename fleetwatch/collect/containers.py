"""``containers``: Docker and Podman containers, through their HTTP APIs on Unix sockets.

Asks each engine socket that exists (Docker's ``/var/run/docker.sock``; Podman's rootful
``/run/podman/podman.sock`` and rootless ``$XDG_RUNTIME_DIR/podman/podman.sock``) for
``GET /containers/json`` (running ones; all with ``containers_all``), then one
``GET /containers/{id}/stats?stream=false&one-shot=true`` per running container. CPU, I/O
and network rates are computed here from two successive collections, so each stats call is
one sample, not Docker's two-sample wait. Podman's ``/libpod/containers/json`` adds the pod.
An empty list when no engine answers; no CLI is run.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import stat
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.limits import is_true
from fleetwatch.model.plugin import PluginSpec

if TYPE_CHECKING:  # loaded once an engine socket listens: most hubs run no containers
    import httpx

log = logging.getLogger(__name__)

SPEC = PluginSpec(name="containers", shape="list", key="name", history=("cpu_percent",))

TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Engine:
    name: str  # "docker" or "podman"
    socket: str


def default_engines() -> list[Engine]:
    runtime = os.environ.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    return [
        Engine("docker", "/var/run/docker.sock"),
        Engine("podman", "/run/podman/podman.sock"),
        Engine("podman", f"{runtime}/podman/podman.sock"),
    ]


@dataclass(slots=True)
class _Sample:
    at: float
    cpu_total: int | None
    cpu_system: int | None
    ior: int
    iow: int
    rx: int
    tx: int


def _listening(path: str) -> bool:
    """Whether an engine listens on ``path``: a socket file that accepts a connection.

    Checked with a socket of our own, closed either way, before httpx connects: a stale
    socket file left by a stopped engine is then one cheap refused connect per round.
    """
    try:
        if not stat.S_ISSOCK(os.stat(path).st_mode):
            return False
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            probe.settimeout(TIMEOUT_SECONDS)
            probe.connect(path)
    except OSError:
        return False
    return True


def _io(stats: dict[str, Any]) -> tuple[int, int]:
    read = write = 0
    for row in (stats.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []:
        op = str(row.get("op", "")).lower()
        if op == "read":
            read += int(row.get("value") or 0)
        elif op == "write":
            write += int(row.get("value") or 0)
    return read, write


def _network(stats: dict[str, Any]) -> tuple[int, int]:
    nets = (stats.get("networks") or {}).values()
    return sum(int(n.get("rx_bytes") or 0) for n in nets), sum(
        int(n.get("tx_bytes") or 0) for n in nets
    )


def _uptime(status: str) -> str | None:
    """Docker's ``Up 2 hours (healthy)`` -> ``2 hours``."""
    if not status.startswith("Up "):
        return None
    return status[3:].split(" (", maxsplit=1)[0]


def _created(value: Any) -> str | None:
    if isinstance(value, int | float):
        return dt.datetime.fromtimestamp(value, dt.UTC).isoformat().replace("+00:00", "Z")
    return str(value) if value else None


def _command(value: Any) -> str | None:
    if isinstance(value, list):
        return " ".join(map(str, value))
    return str(value) if value else None


class ContainersCollector:
    spec = SPEC

    def __init__(self, engines: list[Engine] | None = None) -> None:
        self._engines = engines if engines is not None else default_engines()
        self._clients: dict[str, httpx.Client] = {}
        self._previous: dict[str, _Sample] = {}

    def _client(self, engine: Engine) -> httpx.Client:
        client = self._clients.get(engine.socket)
        if client is None:
            import httpx  # noqa: PLC0415 - see the import at the top

            transport = httpx.HTTPTransport(uds=engine.socket)
            client = httpx.Client(
                transport=transport, base_url=f"http://{engine.name}", timeout=TIMEOUT_SECONDS
            )
            self._clients[engine.socket] = client
        return client

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        show_all = is_true(ctx.limits.get("containers", {}).get("containers_all"))
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for engine in self._engines:
            if engine.socket in seen or not _listening(engine.socket):
                continue
            seen.add(engine.socket)
            import httpx  # noqa: PLC0415 - see the import at the top

            try:
                out.extend(self._engine_stats(engine, show_all, ctx.now))
            except (httpx.HTTPError, ValueError) as exc:
                log.debug(
                    "containers: %s at %s did not answer: %s", engine.name, engine.socket, exc
                )
        live = {c["id"] for c in out}
        self._previous = {k: v for k, v in self._previous.items() if k in live}
        return out

    def _engine_stats(self, engine: Engine, show_all: bool, now: float) -> list[dict[str, Any]]:
        client = self._client(engine)
        params = {"all": "true"} if show_all else {}
        listing = client.get("/containers/json", params=params)
        listing.raise_for_status()
        pods = self._pods(client) if engine.name == "podman" else {}
        out: list[dict[str, Any]] = []
        for item in listing.json():
            cid = str(item.get("Id", ""))
            stats: dict[str, Any] = {}
            if item.get("State") == "running":
                response = client.get(
                    f"/containers/{cid}/stats", params={"stream": "false", "one-shot": "true"}
                )
                if response.is_success:
                    stats = response.json()
            out.append(self._container(engine, item, stats, pods.get(cid, (None, None)), now))
        return out

    @staticmethod
    def _pods(client: httpx.Client) -> dict[str, tuple[str | None, str | None]]:
        response = client.get("/v4.0.0/libpod/containers/json")
        if not response.is_success:
            return {}
        return {
            str(c.get("Id")): (c.get("PodName") or None, c.get("Pod") or None)
            for c in response.json()
        }

    def _container(
        self,
        engine: Engine,
        item: dict[str, Any],
        stats: dict[str, Any],
        pod: tuple[str | None, str | None],
        now: float,
    ) -> dict[str, Any]:
        cid = str(item.get("Id", ""))
        names = item.get("Names") or [cid[:12]]
        cpu_stats = stats.get("cpu_stats") or {}
        memory_stats = stats.get("memory_stats") or {}
        ior, iow = _io(stats)
        rx, tx = _network(stats)
        sample = _Sample(
            now,
            (cpu_stats.get("cpu_usage") or {}).get("total_usage"),
            cpu_stats.get("system_cpu_usage"),
            ior,
            iow,
            rx,
            tx,
        )
        before = self._previous.get(cid)
        if stats:
            self._previous[cid] = sample
        # Glances answers 0.0 for the CPU and null for the rates until a second sample.
        cpu_percent: float | None = 0.0 if stats else None
        io_rx = io_wx = network_rx = network_tx = None
        if stats and before is not None and now > before.at:
            elapsed = now - before.at
            cpus = cpu_stats.get("online_cpus") or len(
                (cpu_stats.get("cpu_usage") or {}).get("percpu_usage") or [1]
            )
            if None not in (
                sample.cpu_total,
                sample.cpu_system,
                before.cpu_total,
                before.cpu_system,
            ):
                system_delta = int(sample.cpu_system or 0) - int(before.cpu_system or 0)
                cpu_delta = int(sample.cpu_total or 0) - int(before.cpu_total or 0)
                cpu_percent = 100.0 * cpu_delta / system_delta * cpus if system_delta > 0 else 0.0
            io_rx = (ior - before.ior) / elapsed
            io_wx = (iow - before.iow) / elapsed
            network_rx = 8.0 * (rx - before.rx) / elapsed
            network_tx = 8.0 * (tx - before.tx) / elapsed
        memory = {
            "usage": memory_stats.get("usage"),
            "limit": memory_stats.get("limit"),
            "inactive_file": (memory_stats.get("stats") or {}).get("inactive_file"),
        }
        return {
            "key": "name",
            "name": str(names[0]).lstrip("/"),
            "id": cid,
            "image": [item.get("Image")] if item.get("Image") else [],
            "status": item.get("State"),
            "created": _created(item.get("Created")),
            "command": _command(item.get("Command")),
            "cpu": {"total": cpu_percent} if stats else {},
            "cpu_percent": cpu_percent,
            "memory": memory if stats else {},
            "memory_usage": memory["usage"],
            "memory_limit": memory["limit"],
            "memory_inactive_file": memory["inactive_file"],
            "memory_percent": None,
            "io": {"cumulative_ior": ior, "cumulative_iow": iow} if stats else {},
            "io_rx": io_rx,
            "io_wx": io_wx,
            "network": {"cumulative_rx": rx, "cumulative_tx": tx} if stats else {},
            "network_rx": network_rx,
            "network_tx": network_tx,
            "uptime": _uptime(str(item.get("Status") or "")),
            "engine": engine.name,
            "pod_name": pod[0],
            "pod_id": pod[1],
        }
