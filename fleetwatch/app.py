"""The composition root: build the collector, the store and the HTTP app, and wire them.

Nothing runs at import; ``build_hub`` makes one hub from its config, and the ASGI lifespan
starts and stops its background work.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette

from fleetwatch import __version__
from fleetwatch.api.asgi import Receive, Scope, Send, header, send_json
from fleetwatch.api.docs import docs_routes
from fleetwatch.api.glances import GlancesAPI
from fleetwatch.collect.base import Collector
from fleetwatch.collect.live import LiveStats
from fleetwatch.collect.registry import PLUGIN_NAMES, build_collectors
from fleetwatch.config import Config
from fleetwatch.model.limits import Limits, apply_overrides, default_limits
from fleetwatch.store import Store, open_store
from fleetwatch.web import web_routes

log = logging.getLogger(__name__)

LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1", "[::1]"}


def build_limits(config: Config) -> dict[str, Limits]:
    limits = default_limits(list(PLUGIN_NAMES), config.get("collector", "history_size"))
    for section, values in config.plugins.items():
        limits.setdefault(section, {"history_size": float(config.get("collector", "history_size"))})
        apply_overrides(limits, section, values)
    return limits


def is_loopback(bind: str) -> bool:
    if bind == "localhost":
        return True
    try:
        return ipaddress.ip_address(bind.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass
class Hub:
    """One hub process' parts. ``app`` is the ASGI callable handed to the server."""

    config: Config
    live: LiveStats
    store: Store
    glances: GlancesAPI
    site: Starlette
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    @property
    def api_prefix(self) -> str:
        return f"{self.config.url_prefix}/api/4"

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if not self._host_allowed(scope):
                await send_json(send, 421, {"detail": "Misdirected request: unexpected Host"})
                return
            path: str = scope["path"]
            prefix = self.api_prefix
            if path.startswith(prefix) and (len(path) == len(prefix) or path[len(prefix)] == "/"):
                inner = dict(scope)
                inner["path"] = path[len(prefix) :] or "/"
                await self.glances(inner, receive, send)
                return
        await self.site(scope, receive, send)

    def _host_allowed(self, scope: Scope) -> bool:
        # DNS rebinding: a loopback-bound hub answers only to loopback host names.
        if not is_loopback(self.config.bind):
            return True
        raw = header(scope, b"host")
        if raw is None:
            return True
        host = raw.decode("latin-1").lower()
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name in LOOPBACK_NAMES or name.endswith(".localhost") or name == self.config.bind

    async def start(self) -> None:
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        await self.store.open()
        self._stop.clear()
        self._tasks.append(asyncio.create_task(self.live.run(self._stop), name="collector"))
        log.info("fleetwatch %s: collecting every %ss, store %s", __version__,
                 self.config.refresh, self.store.url)  # fmt: skip

    async def stop(self) -> None:
        self._stop.set()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self.store.close()


def build_hub(config: Config, collectors: list[Collector] | None = None) -> Hub:
    limits = build_limits(config)
    live = LiveStats(
        collectors if collectors is not None else build_collectors(),
        limits,
        refresh=config.refresh,
        history_size=int(config.get("collector", "history_size")),
    )
    store = open_store(config.database, max_queue=int(config.get("storage", "queue_size")))

    prefix = config.url_prefix
    routes = docs_routes(prefix, live)
    if not config.get("server", "disable_webui"):
        routes += web_routes(prefix)
    site = Starlette(routes=routes)
    glances = GlancesAPI(live, settings=config.masked, args=lambda: _args(config))
    return Hub(config=config, live=live, store=store, glances=glances, site=site)


def _args(config: Config) -> dict[str, Any]:
    masked = config.masked()
    return {**masked["server"], **masked["storage"], **masked["collector"]}
